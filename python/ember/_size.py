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


_DEVICE_TYPES = ("cpu", "vulkan", "cuda", "rocm", "xpu")


class device:
    """Where a tensor lives: ``"cpu"``, or a GPU through one of Ember's
    device backends: ``"vulkan"``, ``"cuda"``, ``"rocm"`` (HIP) and ``"xpu"``
    (Level Zero), each with device index 0."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        type = str(type)
        if ":" in type:
            type, _, number = type.partition(":")
            index = int(number)
        if type not in _DEVICE_TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of "
                f"device string: {type}")
        if index not in (None, 0):
            raise RuntimeError(f"device '{type}:{index}': only device 0 of each kind is "
                               f"supported")
        self.type = type
        self.index = None if type == "cpu" else 0

    def __str__(self):
        return self.type

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
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
