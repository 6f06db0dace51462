"""Small value types returned by the tensor API."""

import collections


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints like torch.Size."""

    def __repr__(self):
        return "ember.Size([" + ", ".join(str(d) for d in self) + "])"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])


class device:
    """Where a tensor lives; this build has the CPU only."""

    def __init__(self, type="cpu"):
        if isinstance(type, device):
            type = type.type
        if type != "cpu":
            raise RuntimeError(
                f"device '{type}' is not available: this build of ember runs on the cpu")
        self.type = type
        self.index = None

    def __str__(self):
        return self.type

    def __repr__(self):
        return f"device(type='{self.type}')"

    def __eq__(self, other):
        if isinstance(other, str):
            return other == self.type
        return isinstance(other, device) and other.type == self.type

    def __hash__(self):
        return hash(self.type)


class GradFn:
    """The grad_fn of a tensor computed from tensors that require grad."""

    def __init__(self, name):
        self._name = name

    def name(self):
        return self._name

    def __repr__(self):
        return f"<{self._name} object>"
