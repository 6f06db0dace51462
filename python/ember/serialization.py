"""``ember.save`` / ``ember.load``: state dicts in the safetensors layout.

The file, as safetensors defines it:

    8 bytes       N, the header's length, an unsigned little-endian integer
    N bytes       the header: a UTF-8 JSON object, padded with spaces
    the rest      the tensors' bytes, little-endian, row-major, back to back

The header maps each tensor's name to ``{"dtype": "F32", "shape": [2, 3],
"data_offsets": [begin, end]}`` (offsets into the data, which the tensors
cover without gaps in header order) and may hold ``"__metadata__"``, a
string-to-string object. dtypes: F64 F32 F16 BF16 I64 I32 BOOL (one byte, 0
or 1).

A flat dict from strings to tensors (a model's ``state_dict()``) is stored
as exactly those tensors, under their own names, and reads back with any
safetensors reader; ``__metadata__`` is ``{"format": "pt"}``.

Anything else, such as an optimizer's state dict, is stored as its tensors
plus one metadata entry, ``"ember.structure"``: a JSON rendering of the
object in which each tensor is ``{"__tensor__": name}``. JSON stands for
itself where it can (strings, finite floats, ints, booleans, None, lists,
objects whose keys are strings that do not start with ``"__"``); the rest
is tagged:

    {"__tuple__": [...]}                  a tuple
    {"__dict__": [[key, value], ...]}     a dict with other keys (ints, ...)
    {"__float__": "nan" | "inf" | "-inf"} a non-finite float

Tensor names there are the dotted key path (``"state.0.exp_avg"``), with
``#1``, ``#2``, ... appended should two paths collide.

Writes are atomic: the bytes go to a temporary file in the target's folder,
``.<name>.ember-tmp-<pid>-<random>``, are flushed and fsynced, and the file
is renamed over the target, so a failed save leaves the previous file as it
was. An exception (KeyboardInterrupt included) removes the temporary; one
that a killed process left behind is removed by the next save to the same
target once its writer process is gone (the C++ writers do the same).
"""

import errno
import json
import math
import os
import re
import secrets
import struct

import numpy as np

import ember
from ember._ember import Tensor

# safetensors dtype name -> (ember dtype name, little-endian NumPy dtype).
# BF16 travels as its 16-bit pattern (NumPy has no bfloat16).
_DTYPES = {
    "F64": ("float64", "<f8"),
    "F32": ("float32", "<f4"),
    "F16": ("float16", "<f2"),
    "BF16": ("bfloat16", "<u2"),
    "I64": ("int64", "<i8"),
    "I32": ("int32", "<i4"),
    "BOOL": ("bool", "|u1"),
}
_BY_EMBER_NAME = {ember_name: code for code, (ember_name, _) in _DTYPES.items()}

_STRUCTURE_KEY = "ember.structure"
_MAX_HEADER_BYTES = 100 * 1024 * 1024
# A header nests three deep: {name: {"shape": [...]}}; __metadata__ is flat.
_MAX_HEADER_DEPTH = 3
_TEMP_INFIX = ".ember-tmp-"


# Writing --------------------------------------------------------------------

def _dtype_name(tensor):
    return str(tensor.dtype).split(".")[-1]


def _tensor_bytes(tensor):
    """(safetensors dtype, shape, little-endian bytes) of ``tensor``; a GPU
    tensor's values are copied to the host first, as torch.save does."""
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    name = _dtype_name(tensor)
    code = _BY_EMBER_NAME[name]
    if name == "bfloat16":
        # Widening bf16 to f32 is exact; the top half of the f32 is the bf16.
        wide = np.ascontiguousarray(tensor.float().numpy(), dtype="<f4").reshape(-1)
        array = (wide.view("<u4") >> np.uint32(16)).astype("<u2")
    else:
        array = np.ascontiguousarray(tensor.numpy(), dtype=_DTYPES[code][1])
    return code, [int(d) for d in tensor.shape], array.tobytes()


class _Encoder:
    """Turns an object into (JSON structure, {name: tensor})."""

    def __init__(self):
        self.tensors = {}

    def _name_for(self, path):
        base = ".".join(str(part) for part in path) or "tensor"
        name, suffix = base, 0
        while name in self.tensors or name == "__metadata__":
            suffix += 1
            name = f"{base}#{suffix}"
        return name

    def encode(self, value, path):
        if isinstance(value, Tensor):
            name = self._name_for(path)
            self.tensors[name] = value
            return {"__tensor__": name}
        if isinstance(value, np.ndarray):
            # Stored as a tensor, tagged so that load gives an array back.
            if value.dtype.kind not in "biuf" or value.dtype.itemsize > 8:
                raise TypeError(f"ember.save: cannot save a NumPy array of dtype "
                                f"{value.dtype}")
            name = self._name_for(path)
            self.tensors[name] = ember.from_numpy(np.array(value, dtype=_saved_dtype(value)))
            return {"__ndarray__": [name, value.dtype.str]}
        if isinstance(value, np.generic):
            return self.encode(value.item(), path)
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            if math.isfinite(value):
                return float(value)
            return {"__float__": "nan" if math.isnan(value) else
                    ("inf" if value > 0 else "-inf")}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, path + [i]) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, path + [i]) for i, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: self.encode(v, path + [k]) for k, v in value.items()}
            return {"__dict__": [[self.encode(k, path + ["key"]), self.encode(v, path + [k])]
                                 for k, v in value.items()]}
        kind = type(value)
        kind = kind.__qualname__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"ember.save: cannot save a value of type {kind} "
                        f"(at {'.'.join(str(p) for p in path) or 'the top level'}); "
                        f"tensors, numbers, strings, None, lists, tuples and dicts can be "
                        f"saved")


def _is_flat_state_dict(obj):
    return (isinstance(obj, dict) and len(obj) > 0
            and all(isinstance(k, str) and k != "__metadata__" for k in obj)
            and all(isinstance(v, Tensor) for v in obj.values()))


def _serialize(obj):
    """The file's bytes for ``obj``."""
    if _is_flat_state_dict(obj):
        tensors = dict(obj)
        metadata = {"format": "pt"}
    else:
        encoder = _Encoder()
        structure = encoder.encode(obj, [])
        tensors = encoder.tensors
        metadata = {_STRUCTURE_KEY: json.dumps(structure, allow_nan=False,
                                               separators=(",", ":"))}
    header = {"__metadata__": metadata}
    chunks, offset = [], 0
    for name, tensor in tensors.items():
        code, shape, data = _tensor_bytes(tensor)
        header[name] = {"dtype": code, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, allow_nan=False, separators=(",", ":")).encode("utf-8")
    # Pad to a multiple of 8 so that the data starts 8-byte aligned.
    text += b" " * (-(8 + len(text)) % 8)
    return b"".join([struct.pack("<Q", len(text)), text] + chunks)


def _process_is_gone(pid):
    try:
        os.kill(pid, 0)  # asks only; PermissionError: another user's process lives
    except OSError as error:
        return error.errno == errno.ESRCH
    return False


def _remove_stale_temporaries(folder, base):
    """Removes the temporaries of ``base`` that killed writers left in ``folder``."""
    pattern = re.compile(re.escape("." + base + _TEMP_INFIX) + r"([0-9]{1,9})-[0-9A-Za-z_]+")
    try:
        names = os.listdir(folder)
    except OSError:
        return  # the write that follows reports the folder's trouble
    for name in names:
        match = pattern.fullmatch(name)
        if match and int(match.group(1)) > 0 and _process_is_gone(int(match.group(1))):
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass  # another writer removed it first


def _write_atomically(path, data):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    _remove_stale_temporaries(folder, base)
    prefix = os.path.join(folder, f".{base}{_TEMP_INFIX}{os.getpid()}-")
    temp = None
    try:
        for _ in range(100):
            candidate = prefix + secrets.token_hex(6)
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            temp = candidate
            break
        else:
            raise FileExistsError(f"ember.save: could not create a temporary file next to "
                                  f"{path}")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if temp is not None:
            try:
                os.unlink(temp)
            except OSError:
                pass
        raise
    try:  # Make the rename itself durable; some filesystems refuse, harmlessly.
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _saved_dtype(array):
    """The tensor dtype an array is stored in (Ember's dtypes hold every
    value of the array's)."""
    kind, size = array.dtype.kind, array.dtype.itemsize
    if kind == "b":
        return np.bool_
    if kind == "f":
        return np.float64 if size == 8 else np.float32
    if kind == "u" and size >= 4 or size == 8:
        return np.int64
    return np.int32


def save(obj, f):
    """Saves ``obj`` (a state dict: str -> Tensor, or nested dicts/lists of
    tensors, NumPy arrays and numbers such as an optimizer's state dict) to ``f``, a path
    or a binary file object, in the safetensors layout. A path is written
    atomically (temporary file, fsync, rename)."""
    data = _serialize(obj)
    if hasattr(f, "write"):
        f.write(data)
    else:
        _write_atomically(f, data)


# Reading --------------------------------------------------------------------

def _malformed(source, why):
    return ValueError(f"ember.load: {source} is not a valid safetensors file: {why}")


def _nests_deeper_than(value, limit):
    """Whether parsed JSON ``value`` nests arrays/objects more than ``limit``
    deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            stack.extend((item, depth + 1)
                         for item in (value.values() if isinstance(value, dict) else value))
    return False


def _parse_header(data, source):
    if len(data) < 8:
        raise _malformed(source, f"it has {len(data)} bytes, fewer than the 8 of the "
                                 f"header length (truncated?)")
    (length,) = struct.unpack("<Q", data[:8])
    if length > _MAX_HEADER_BYTES:
        raise _malformed(source, f"the header length {length} is implausibly large")
    if 8 + length > len(data):
        raise _malformed(source, f"the header needs {length} bytes but the file has "
                                 f"{len(data) - 8} after the length (truncated?)")
    try:
        text = bytes(data[8:8 + length]).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _malformed(source, f"the header is not UTF-8 JSON ({error})") from None
    too_deep = _malformed(source, f"the header nests deeper than {_MAX_HEADER_DEPTH} "
                                  f"levels, the most a safetensors header has "
                                  f"({{name: {{\"shape\": [...]}}}})")
    try:
        header = json.loads(text)
    except json.JSONDecodeError as error:
        raise _malformed(source, f"the header is not UTF-8 JSON ({error})") from None
    except RecursionError:  # far too deep for json's parser
        raise too_deep from None
    if _nests_deeper_than(header, _MAX_HEADER_DEPTH):
        raise too_deep
    if not isinstance(header, dict):
        raise _malformed(source, "the header is not a JSON object")
    return header, 8 + length


def _check_entry(name, entry, available, source):
    if not isinstance(entry, dict):
        raise _malformed(source, f"the entry of tensor {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in _DTYPES:
        raise _malformed(source, f"tensor {name!r} has dtype {dtype!r}; supported: "
                                 f"{', '.join(_DTYPES)}")
    if (not isinstance(shape, list)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                       for d in shape)):
        raise _malformed(source, f"tensor {name!r} has shape {shape!r}, not a list of "
                                 f"non-negative ints")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise _malformed(source, f"tensor {name!r} has data_offsets {offsets!r}, not "
                                 f"[begin, end]")
    begin, end = offsets
    itemsize = np.dtype(_DTYPES[dtype][1]).itemsize
    numel = math.prod(shape)
    if not 0 <= begin <= end:
        raise _malformed(source, f"tensor {name!r} has data_offsets {offsets}")
    if end - begin != numel * itemsize:
        raise _malformed(source, f"tensor {name!r} of shape {shape} and dtype {dtype} "
                                 f"needs {numel * itemsize} bytes but data_offsets "
                                 f"{offsets} give {end - begin}")
    if end > available:
        raise _malformed(source, f"tensor {name!r} ends at byte {end} of the data but the "
                                 f"file holds {available} (truncated?)")
    return dtype, shape, begin, end


def _make_tensor(dtype, shape, raw):
    ember_name, numpy_dtype = _DTYPES[dtype]
    array = np.frombuffer(raw, dtype=numpy_dtype).reshape(shape)
    if dtype == "BF16":
        bits = array.reshape(-1).astype("<u4") << np.uint32(16)
        wide = np.array(bits.view("<f4").reshape(shape), dtype=np.float32)
        return ember.from_numpy(wide).to(ember.bfloat16)
    if dtype == "BOOL":
        array = array != 0
    # A native-order copy that the tensor owns.
    return ember.from_numpy(np.array(array, dtype=np.dtype(ember_name)))


class _Decoder:
    def __init__(self, tensors, source):
        self.tensors = tensors
        self.source = source

    def decode(self, value):
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (tag, inner), = value.items()
            if tag == "__tensor__":
                if inner not in self.tensors:
                    raise _malformed(self.source, f"the structure names tensor {inner!r}, "
                                                  f"which the file does not hold")
                return self.tensors[inner]
            if tag == "__ndarray__" and isinstance(inner, list) and len(inner) == 2:
                name, dtype = inner
                if name not in self.tensors or not isinstance(dtype, str):
                    raise _malformed(self.source, f"the structure names array {name!r}, "
                                                  f"which the file does not hold")
                try:
                    wanted = np.dtype(dtype)
                except TypeError:
                    raise _malformed(self.source, f"unknown array dtype {dtype!r}") from None
                if wanted.kind not in "biuf":
                    raise _malformed(self.source, f"unknown array dtype {dtype!r}")
                return np.array(self.tensors[name].numpy(), dtype=wanted)
            if tag == "__tuple__" and isinstance(inner, list):
                return tuple(self.decode(v) for v in inner)
            if tag == "__float__" and inner in ("nan", "inf", "-inf"):
                return float(inner)
            if tag == "__dict__" and isinstance(inner, list):
                if not all(isinstance(p, list) and len(p) == 2 for p in inner):
                    raise _malformed(self.source, "a tagged dict is not a list of pairs")
                return {self._key(p[0]): self.decode(p[1]) for p in inner}
        if any(k.startswith("__") for k in value):
            raise _malformed(self.source, f"unknown tag in the structure: {sorted(value)}")
        return {k: self.decode(v) for k, v in value.items()}

    def _key(self, key):
        key = self.decode(key)
        if isinstance(key, (list, dict)):
            raise _malformed(self.source, "a dict key in the structure is not hashable")
        return key


def _deserialize(data, source):
    header, data_start = _parse_header(data, source)
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise _malformed(source, "__metadata__ is not an object of strings")
    available = len(data) - data_start
    tensors = {}
    for name, entry in header.items():
        dtype, shape, begin, end = _check_entry(name, entry, available, source)
        tensors[name] = _make_tensor(dtype, shape,
                                     data[data_start + begin:data_start + end])
    structure = (metadata or {}).get(_STRUCTURE_KEY)
    if structure is None:
        return tensors
    try:
        return _Decoder(tensors, source).decode(json.loads(structure))
    except json.JSONDecodeError as error:
        raise _malformed(source, f"{_STRUCTURE_KEY} is not JSON ({error})") from None
    except RecursionError:
        # Far deeper than anything ember.save writes without failing itself.
        raise _malformed(source, f"{_STRUCTURE_KEY} nests too deeply") from None


def load(f, map_location=None):
    """Loads what ``ember.save`` wrote (or any safetensors file of the
    supported dtypes: a dict from names to tensors) from a path or a binary
    file object. A malformed or truncated file raises ValueError.
    ``map_location`` puts the tensors on a device ("vulkan", ...); an
    unavailable one raises RuntimeError."""
    device = None
    if map_location is not None:
        device = ember.device(str(map_location))  # raises for unknown names
    if hasattr(f, "read"):
        data, source = f.read(), repr(f)
    else:
        source = os.fspath(f)
        with open(source, "rb") as stream:
            data = stream.read()
    result = _deserialize(memoryview(data), repr(source) if isinstance(source, str) else source)
    if device is not None and device.type != "cpu":
        result = _to_device(result, device.type)
    return result


def _to_device(value, device):
    """``value`` (tensors in dicts and lists) with every tensor on ``device``."""
    if isinstance(value, ember.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return type(value)((k, _to_device(v, device)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_to_device(v, device) for v in value)
    return value
