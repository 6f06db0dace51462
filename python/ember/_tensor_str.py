"""repr() of tensors, laid out the way PyTorch prints them."""

import math

import numpy as np

_THRESHOLD = 1000  # more elements than this are summarized
_EDGE_ITEMS = 3
_LINE_WIDTH = 80
_PRECISION = 4

# dtypes a tensor literal implies; the others are printed.
_IMPLIED = ("float32", "int64", "bool")


class _Formatter:
    """Chooses one number format for all elements, as torch does."""

    def __init__(self, values, kind):
        self.kind = kind
        self.int_mode = True
        self.sci_mode = False
        if kind != "f":
            self.width = max((len(self._plain(v)) for v in values.flat), default=1)
            return
        finite = values[np.isfinite(values)].astype(np.float64)
        nonzero = np.abs(finite[finite != 0])
        self.int_mode = bool(np.all(np.ceil(finite) == finite))
        if nonzero.size:
            top, bottom = nonzero.max(), nonzero.min()
            if self.int_mode:
                self.sci_mode = top > 1e8
            else:
                self.sci_mode = top / bottom > 1000.0 or top > 1e8 or bottom < 1e-4
        self.width = max((len(self.format(v, pad=False)) for v in values.flat), default=1)

    def _plain(self, v):
        if self.kind == "b":
            return "True" if v else "False"
        return str(int(v))

    def format(self, v, pad=True):
        if self.kind != "f":
            text = self._plain(v)
        elif not math.isfinite(v):
            text = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        elif self.sci_mode:
            text = f"{v:.{_PRECISION}e}"
        elif self.int_mode:
            text = f"{v:.0f}."
        else:
            text = f"{v:.{_PRECISION}f}"
        return text.rjust(self.width) if pad else text


def _summarized_values(a):
    """The elements that will be printed (edges only when summarizing)."""
    if a.ndim == 0:
        return a.reshape(1)
    if a.size <= _THRESHOLD:
        return a
    parts = []

    def walk(x):
        if x.ndim == 1:
            parts.append(x if x.shape[0] <= 2 * _EDGE_ITEMS
                         else np.concatenate([x[:_EDGE_ITEMS], x[-_EDGE_ITEMS:]]))
            return
        rows = range(x.shape[0])
        if x.shape[0] > 2 * _EDGE_ITEMS:
            rows = list(range(_EDGE_ITEMS)) + list(range(x.shape[0] - _EDGE_ITEMS, x.shape[0]))
        for i in rows:
            walk(x[i])

    walk(a)
    return np.concatenate(parts) if parts else a.reshape(-1)


def _format_nd(a, fmt, indent, summarize):
    if a.ndim == 1:
        items = [fmt.format(v) for v in a]
        if summarize and a.shape[0] > 2 * _EDGE_ITEMS:
            items = items[:_EDGE_ITEMS] + ["..."] + items[-_EDGE_ITEMS:]
        per_line = max(1, (_LINE_WIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(a.shape[0]))
    skip = summarize and a.shape[0] > 2 * _EDGE_ITEMS
    if skip:
        rows = rows[:_EDGE_ITEMS] + [None] + rows[-_EDGE_ITEMS:]
    separator = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    parts = ["..." if i is None else _format_nd(a[i], fmt, indent + 1, summarize) for i in rows]
    return "[" + separator.join(parts) + "]"


def format_tensor(t):
    """torch-style repr: ``tensor([1., 2.])``, with the dtype when not implied."""
    name = t.dtype.__repr__().split(".")[-1]
    suffixes = []
    device = str(t.device)
    host = t.cpu() if device != "cpu" else t
    if device != "cpu":
        suffixes.append(f"device='{device}:0'")
    if name == "bfloat16":
        a = host.float().numpy()
    else:
        a = host.numpy()
    prefix = "tensor("
    if a.size == 0:
        body = "[]"
        if a.ndim != 1:
            suffixes.append("size=(" + ", ".join(str(d) for d in a.shape)
                            + ("," if a.ndim == 1 else "") + ")")
    else:
        kind = "b" if a.dtype == np.bool_ else ("f" if a.dtype.kind == "f" else "i")
        summarize = a.size > _THRESHOLD
        fmt = _Formatter(_summarized_values(a), kind)
        if a.ndim == 0:
            body = fmt.format(a.item(), pad=False)
        else:
            body = _format_nd(a, fmt, len(prefix), summarize)
    # An empty literal implies only the default float dtype.
    if name not in _IMPLIED or (a.size == 0 and name != "float32"):
        suffixes.append("dtype=ember." + name)
    # torch puts the device first.
    if device != "cpu":
        suffixes.append(suffixes.pop(0))
        suffixes.insert(0, suffixes.pop())
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffixes) + ")"
