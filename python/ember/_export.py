"""Exporting a model as a portable program, and loading ``.ember`` files.

``ember.export(model, example_inputs, dynamic_dims=...)`` traces ``model`` once
on the example inputs (tracing only: nothing is computed) into a functional
program in the ``ember`` MLIR dialect. Parameters and buffers become the
program's weights (arguments, not constants in the IR); any other tensor the
function reads, such as one it creates, becomes a weight named ``constant.N``.
Dims named in ``dynamic_dims`` stay symbolic: the program runs at any size of
them. Sizes inside the program (reshape targets, broadcasts) and the output
shapes are affine functions of the symbols; they are found by tracing again
with other sizes, which also checks that the program does not change with the
size.

The result runs in Python like the original (JIT-compiled once), and
``.save(path)`` writes a ``.ember`` file (docs/model-format.md) that
``ember.load_model``, ``ember-compile``, ``ember-run`` and the C++ runtime
(``ember::Model::load``) read.

What cannot be exported: Python control flow on tensor values (``.item()``,
``bool(t)``, ``print``), which raises at the line that reads the value;
a tensor created inside the function whose shape depends on a symbolic dim;
index tensors (``Embedding``: their bounds are checked on the host);
autograd (the program is traced under ``no_grad``). Call ``model.eval()``
first when the model has dropout.
"""

import inspect
import json
import os
import threading
from collections import namedtuple

import numpy as np

from ember import _ember

__all__ = ["export", "load_model", "ExportedProgram", "LoadedModel", "TensorSpec"]

_MANIFEST, _PROGRAM, _WEIGHTS = 1, 2, 3
_WEIGHT_ALIGNMENT = 64
_PRODUCER = "ember 0.1.0"
# The example sizes of symbolic dims change by these amounts in the extra
# traces: one per symbol, then all together to verify the affine fit.
_PROBE_STEP = 3
_VERIFY_STEP = 7

TensorSpec = namedtuple("TensorSpec", ["name", "dtype", "shape"])
TensorSpec.__doc__ = """An input or output of an exported program: its name,
dtype name ("float32", ...) and shape, whose dims are ints or symbol
strings ("batch", or an affine expression like "2*batch+1")."""


def _dim_text(dim):
    """A manifest dim (int, symbol, or {"add", "terms"}) as an int or str."""
    if isinstance(dim, (int, str)):
        return dim
    text = ""
    for name, coefficient in dim["terms"].items():
        sign = "-" if coefficient < 0 else ("+" if text else "")
        magnitude = abs(coefficient)
        text += sign + (f"{magnitude}*" if magnitude != 1 else "") + name
    constant = dim.get("add", 0)
    if constant:
        text += f"{constant:+d}"
    return text


def _specs(tensors):
    return [TensorSpec(t["name"], t["dtype"], tuple(_dim_text(d) for d in t["shape"]))
            for t in tensors]


def _spec_text(spec):
    return f"{spec.name}: [{', '.join(str(d) for d in spec.shape)}] {spec.dtype}"


class _RunnableModel:
    """What ExportedProgram and LoadedModel share: the runtime model, the
    specs from its manifest, and calling it."""

    def __init__(self, model, manifest_text=None):
        self._model = model
        manifest = json.loads(model.manifest if manifest_text is None else manifest_text)
        self._manifest = manifest
        entry = manifest["entries"][0]
        self._entry = entry["name"]
        self.input_specs = _specs(entry["inputs"])
        self.output_specs = _specs(entry["outputs"])
        self.weights = [w["name"] for w in manifest.get("weights", [])]

    @property
    def entries(self):
        """The names of the model's entry points."""
        return [entry["name"] for entry in self._manifest["entries"]]

    def run(self, entry, *inputs):
        """Runs entry point ``entry`` on ``inputs`` (ember tensors or NumPy
        arrays): one output as a tensor, several as a tuple."""
        tensors = []
        for i, value in enumerate(inputs):
            if isinstance(value, np.ndarray):
                value = _ember.from_numpy(value)
            elif not isinstance(value, _ember.Tensor):
                raise TypeError(f"input {i} must be an ember Tensor or a NumPy array, "
                                f"not {type(value).__name__}")
            tensors.append(value)
        outputs = self._model.run(entry, tensors)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __call__(self, *inputs):
        return self.run(self._entry, *inputs)

    forward = __call__

    def _signature(self):
        inputs = ", ".join(_spec_text(s) for s in self.input_specs)
        outputs = ", ".join(_spec_text(s) for s in self.output_specs)
        return f"{self._entry}({inputs}) -> ({outputs})"


class ExportedProgram(_RunnableModel):
    """A traced, functional program with its weights (what ``ember.export``
    returns). Calling it runs the program (JIT-compiled on first use);
    ``save`` writes it as a ``.ember`` file."""

    def __init__(self, image, program):
        self._image = image
        self._program = program
        # Compiled at the first call, not here: a program built only to be
        # saved (ember.from_torch(...).save(path)) compiles nothing.
        super().__init__(None, _ember._model_manifest_of(image))

    @property
    def _model(self):
        if self.__model is None:
            self.__model = _ember._Model.from_bytes(self._image, "<exported program>")
        return self.__model

    @_model.setter
    def _model(self, model):
        self.__model = model

    @property
    def compiled(self):
        """Whether the program has been compiled (it is at the first call)."""
        return self.__model is not None

    def save(self, path):
        """Writes the program and weights to ``path`` (a ``.ember`` file),
        atomically: on failure an existing file is left as it was."""
        _ember._write_file_atomically(os.fspath(path), self._image)

    def program_text(self):
        """The program as MLIR text (the ``ember`` dialect)."""
        return _ember._program_text(self._program)

    def __repr__(self):
        return (f"ExportedProgram({self._signature()}, {len(self.weights)} weights, "
                f"{len(self._image) / 1024:.1f} KiB)")


class LoadedModel(_RunnableModel):
    """A ``.ember`` file loaded for running (what ``ember.load_model``
    returns). ``executable_kind`` says how it runs: ``"cpu-native"`` (the
    file's compiled code for this CPU, from ``ember-compile``) or ``"jit"``
    (its portable program, compiled at load); ``native_note`` says why the
    file's native code was not used, when it has some."""

    def __init__(self, path, allow_native=None, trusted_keys=()):
        if allow_native not in (None, True, False):
            raise TypeError("allow_native must be None (native code only from a file "
                            "signed by a trusted key), True (unsigned native code too) "
                            f"or False (never), not {allow_native!r}")
        if isinstance(trusted_keys, (str, os.PathLike)):
            trusted_keys = [trusted_keys]
        super().__init__(_ember._Model.load(
            os.fspath(path), allow_native is not False, True, allow_native is True,
            [os.fspath(key) for key in trusted_keys]))
        self.path = os.fspath(path)

    @property
    def executable_kind(self):
        return self._model.executable_kind

    @property
    def native_note(self):
        return self._model.native_note

    def __repr__(self):
        return (f"LoadedModel({self.path!r}, {self._signature()}, "
                f"{len(self.weights)} weights, runs {self.executable_kind})")


def load_model(path, allow_native=None, trusted_keys=()):
    """Loads a ``.ember`` file.

    Native code in the file (from ``ember-compile``) runs only when it was
    compiled for this CPU and the file is trusted: with ``allow_native=None``
    (the default) it must be signed (``ember-compile --sign KEY.key``) by a key
    in ``trusted_keys`` (public key files or folders of ``*.pub`` files),
    ``EMBER_TRUSTED_KEYS`` or ``~/.config/ember/trusted-keys``;
    ``allow_native=True`` also runs unsigned native code (it can do anything
    this process can: only for files you trust); ``allow_native=False`` never
    runs it. Otherwise the portable program is JIT-compiled, which runs only
    Ember's own ops. A malformed, truncated, corrupted, tampered or
    unsupported-version file raises RuntimeError saying what is wrong."""
    return LoadedModel(path, allow_native, trusted_keys)


# --- export -----------------------------------------------------------------


def _as_tuple(value, what):
    if isinstance(value, _ember.Tensor):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, _ember.Tensor) for v in value):
        return tuple(value)
    raise TypeError(f"ember.export: {what} must be a tensor or a tuple of tensors, "
                    f"not {type(value).__name__}")


def _parameter_names(function, count):
    target = function.forward if hasattr(function, "forward") else function
    try:
        parameters = [p for p in inspect.signature(target).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    if len(parameters) >= count:
        return [p.name for p in parameters[:count]]
    return [f"input{i}" for i in range(count)]


def _symbolic_dims(dynamic_dims, inputs, names):
    """Per input, {dim: symbol}; checks names, dims and example sizes."""
    per_input = [{} for _ in inputs]
    if dynamic_dims is None:
        return per_input
    if isinstance(dynamic_dims, dict):
        items = []
        for key, dims in dynamic_dims.items():
            if isinstance(key, str):
                if key not in names:
                    raise ValueError(f"ember.export: dynamic_dims names input '{key}', "
                                     f"but the inputs are {names}")
                key = names.index(key)
            items.append((key, dims))
    elif isinstance(dynamic_dims, (list, tuple)):
        if len(dynamic_dims) != len(inputs):
            raise ValueError(f"ember.export: dynamic_dims has {len(dynamic_dims)} entries "
                             f"for {len(inputs)} inputs")
        items = list(enumerate(dynamic_dims))
    else:
        raise TypeError("ember.export: dynamic_dims must be a list (one {dim: name} per "
                        "input) or a dict keyed by input index or name")
    sizes = {}
    for index, dims in items:
        if not isinstance(index, int) or not 0 <= index < len(inputs):
            raise ValueError(f"ember.export: dynamic_dims names input {index!r}, "
                             f"but there are {len(inputs)} inputs")
        if not dims:
            continue
        rank = inputs[index].dim()
        for dim, symbol in dims.items():
            if not isinstance(symbol, str) or not symbol.isidentifier():
                raise ValueError(f"ember.export: symbol {symbol!r} for input "
                                 f"'{names[index]}' must be an identifier string")
            if not isinstance(dim, int) or not -rank <= dim < rank:
                raise ValueError(f"ember.export: input '{names[index]}' has {rank} dims; "
                                 f"dim {dim!r} cannot be dynamic")
            dim %= rank
            size = inputs[index].shape[dim]
            if size < 2:
                raise ValueError(
                    f"ember.export: input '{names[index]}' dim {dim} ('{symbol}') is "
                    f"{size} in the example; a size-1 dim is static in the program "
                    f"(it broadcasts), so use an example of size 2 or more")
            if sizes.setdefault(symbol, size) != size:
                raise ValueError(f"ember.export: symbol '{symbol}' is {sizes[symbol]} and "
                                 f"{size} in the example inputs; a symbol has one size")
            per_input[index][dim] = symbol
    return per_input


# Whether this thread is tracing for ember.export: layers that would build a
# host-side table (read back as a value) take their table-free form then.
_tracing = threading.local()


def exporting():
    """True while this thread traces a function for ``ember.export``."""
    return getattr(_tracing, "active", False)


def _trace(call, inputs, weights):
    """Calls the function with tracing only; its outputs and their graph."""
    from ember import no_grad

    _ember._set_exporting(True)
    _tracing.active = True
    try:
        with no_grad():
            result = call(*inputs)
    finally:
        _tracing.active = False
        _ember._set_exporting(False)
    single = isinstance(result, _ember.Tensor)
    outputs = _as_tuple(result, "the function's result")
    return outputs, single, _ember._export_trace(list(outputs), list(inputs), weights)


def _resized(inputs, symbols_of_input, new_sizes):
    """Fresh inputs where every symbolic dim has its size from new_sizes."""
    result = []
    for x, symbols in zip(inputs, symbols_of_input):
        shape = list(x.shape)
        for dim, symbol in symbols.items():
            shape[dim] = new_sizes[symbol]
        # Computed at once, without a sync, which would compute the earlier
        # traces' outputs too. NumPy has no bfloat16: those stay uninitialized
        # (a trace reads no values).
        if x.dtype == _ember.bfloat16:
            result.append(_ember.empty(*shape, dtype=x.dtype))
        else:
            result.append(_ember.from_numpy(np.zeros(shape, dtype=x.numpy().dtype)))
    return result


def _fit(base, probes, verify, symbols, example, what):
    """(constant, {symbol: coefficient}) with base = constant + sum(coef * size),
    from traces that moved each symbol by _PROBE_STEP; checked on `verify`."""

    def not_affine():
        def sizes(step, only=None):
            return ", ".join(f"{s}={example[s] + (step if only in (None, s) else 0)}"
                             for s in symbols)
        seen = [f"{base} at {sizes(0)}"]
        seen += [f"{probes[s]} at {sizes(_PROBE_STEP, s)}" for s in symbols]
        seen.append(f"{verify} at {sizes(_VERIFY_STEP)}")
        return RuntimeError(
            f"ember.export: {what} is not an affine function of the symbolic dims "
            f"(c + a*{symbols[0]} + ...): it is {'; '.join(seen)}. Only sizes such as "
            f"4*{symbols[0]} or {symbols[0]}+1 can be exported")

    terms = {}
    for symbol in symbols:
        delta = probes[symbol] - base
        if delta % _PROBE_STEP:
            raise not_affine()
        if delta:
            terms[symbol] = delta // _PROBE_STEP
    constant = base - sum(c * example[s] for s, c in terms.items())
    if constant + sum(c * (example[s] + _VERIFY_STEP) for s, c in terms.items()) != verify:
        raise not_affine()
    return constant, terms


def _structure_error(symbol, base, trace):
    """The error for a trace whose program differs from the example's; names
    the first op that differs."""
    subject = (f"the size of {symbol}" if symbol is not None
               else "the sizes of the symbolic dims")
    where = ""
    pairs = list(zip(base["node_hashes"], trace["node_hashes"]))
    for index, (ours, theirs) in enumerate(pairs):
        if ours != theirs:
            before, after = base["node_names"][index], trace["node_names"][index]
            where = (f": the {before} differs" if before == after
                     else f": the {before} becomes a {after}")
            break
    else:
        if len(base["node_names"]) != len(trace["node_names"]):
            longer = max(base["node_names"], trace["node_names"], key=len)
            where = f": the {longer[len(pairs)]} appears only at some sizes"
    return RuntimeError(
        f"ember.export: the program's structure depends on {subject}{where}. Python "
        f"code that branches on a size or computes a number from it (x / x.shape[0]) "
        f"makes the traced program differ between sizes; only programs that are the same at every "
        f"size can be exported")


def _tensor_bytes(tensor, name):
    if tensor.dtype == _ember.bfloat16:
        raise NotImplementedError(f"ember.export: weight '{name}' is bfloat16, which "
                                  f"export does not store yet; convert it to float32")
    return np.ascontiguousarray(tensor.numpy()).tobytes()


def export(function, example_inputs, dynamic_dims=None, input_names=None,
           output_names=None):
    """Traces ``function`` (an ``nn.Module`` or a function of tensors) on
    ``example_inputs`` into an ExportedProgram.

    ``dynamic_dims`` keeps dims symbolic: per input a ``{dim: "symbol"}``
    dict, as a list aligned with the inputs (``[{0: "batch"}]``) or a dict
    keyed by input index or name (``{"x": {0: "batch"}}``). One symbol may
    name dims of several inputs (they must then be equal). Input names default
    to the forward's parameter names; outputs are ``output0``, ... unless
    ``output_names`` is given.
    """
    from ember import nn

    call = function
    inputs = _as_tuple(example_inputs, "example_inputs")
    names = list(input_names) if input_names is not None else _parameter_names(function, len(inputs))
    if len(names) != len(inputs) or len(set(names)) != len(names):
        raise ValueError(f"ember.export: {len(inputs)} inputs need {len(inputs)} distinct "
                         f"names, got {names}")
    symbols_of_input = _symbolic_dims(dynamic_dims, inputs, names)
    example = {}
    bindings = {}  # symbol -> (input, dim) that binds it
    for index, symbols in enumerate(symbols_of_input):
        for dim, symbol in sorted(symbols.items()):
            example[symbol] = inputs[index].shape[dim]
            bindings.setdefault(symbol, (index, dim))
    symbol_names = list(example)

    weight_names, weights = [], []
    if isinstance(function, nn.Module):
        seen = set()
        named = list(function.named_parameters()) + list(function.named_buffers())
        for name, tensor in named:
            if id(tensor) not in seen:
                seen.add(id(tensor))
                weight_names.append(name)
                weights.append(tensor.detach())
    # Everything the trace reads must be computed, dense and its own base.
    inputs = tuple(x.detach().clone() for x in inputs)
    _ember.sync()

    outputs, single, base = _trace(call, inputs, weights)
    probes = {}
    for symbol in symbol_names:
        sizes = dict(example, **{symbol: example[symbol] + _PROBE_STEP})
        probes[symbol] = _trace(call, _resized(inputs, symbols_of_input, sizes), weights)[2]
    verify_sizes = {s: v + _VERIFY_STEP for s, v in example.items()}
    verify = _trace(call, _resized(inputs, symbols_of_input, verify_sizes), weights)[2]

    for symbol, trace in list(probes.items()) + [(None, verify)]:
        if trace["key"] != base["key"]:
            raise _structure_error(symbol, base, trace)
        shapes = [tuple(c.shape) for c in trace["constants"]]
        if shapes != [tuple(c.shape) for c in base["constants"]]:
            raise RuntimeError(
                f"ember.export: the function creates a tensor whose shape depends on "
                f"{symbol or 'the symbolic dims'}; pass it as an input instead")

    def fitted(values_of, what):
        return _fit(values_of(base), {s: values_of(t) for s, t in probes.items()},
                    values_of(verify), symbol_names, example, what)

    size_exprs = []
    for slot, owner in enumerate(base["slot_owners"]):
        if base["slot_is_scalar"][slot]:
            # A Python float in the program (its f64 bits): fixed, never fitted.
            if any(t["sizes"][slot] != base["sizes"][slot]
                   for t in list(probes.values()) + [verify]):
                raise RuntimeError(
                    f"ember.export: the value of the {owner} depends on the size of "
                    f"the symbolic dims (a number computed from x.shape); an exported "
                    f"program's numbers cannot depend on sizes")
            size_exprs.append((base["sizes"][slot], []))
            continue
        constant, terms = fitted(lambda t: t["sizes"][slot], f"a size of the {owner}")
        size_exprs.append((constant, [(bindings[s][0], bindings[s][1], c)
                                      for s, c in terms.items()]))

    output_names = (list(output_names) if output_names is not None
                    else [f"output{i}" for i in range(len(outputs))])
    if len(output_names) != len(outputs):
        raise ValueError(f"ember.export: {len(outputs)} outputs, {len(output_names)} "
                         f"output_names")
    output_specs, output_dims = [], []
    for index, output in enumerate(outputs):
        dims, program_dims = [], []
        for dim in range(output.dim()):
            constant, terms = fitted(lambda t: t["output_shapes"][index][dim],
                                     f"dim {dim} of output '{output_names[index]}'")
            if not terms:
                dims.append(constant)
            elif constant == 0 and list(terms.values()) == [1]:
                dims.append(next(iter(terms)))
            else:
                dims.append({"add": constant, "terms": terms})
            program_dims.append(constant if not terms else -1)
        output_specs.append({"name": output_names[index], "dtype": str(output.dtype).split(".")[-1],
                             "shape": dims})
        output_dims.append(program_dims)

    input_specs, input_dims = [], []
    for x, name, symbols in zip(inputs, names, symbols_of_input):
        shape = [symbols.get(d, size) for d, size in enumerate(x.shape)]
        input_specs.append({"name": name, "dtype": str(x.dtype).split(".")[-1], "shape": shape})
        input_dims.append([-1 if d in symbols else size for d, size in enumerate(x.shape)])

    constants = list(base["constants"])
    all_weights = weights + constants
    all_names = weight_names + [f"constant.{i}" for i in range(len(constants))]
    program = _ember._export_program(list(outputs), list(inputs), weights, input_dims,
                                     size_exprs, output_dims, "forward")

    blob = bytearray()
    weight_specs = []
    for name, tensor in zip(all_names, all_weights):
        data = _tensor_bytes(tensor, name)
        blob.extend(b"\0" * (-len(blob) % _WEIGHT_ALIGNMENT))
        weight_specs.append({"name": name, "dtype": str(tensor.dtype).split(".")[-1],
                             "shape": list(tensor.shape), "offset": len(blob),
                             "size": len(data)})
        blob.extend(data)
    libraries = _custom_op_libraries(program)
    manifest = {
        "format_version": 3 if libraries else 1,
        "producer": _PRODUCER,
        "entries": [{"name": "forward", "inputs": input_specs, "outputs": output_specs,
                     "weights": all_names}],
        "weights": weight_specs,
        "artifacts": [],
    }
    if libraries:
        manifest["custom_op_libraries"] = libraries
    sections = [(_MANIFEST, "manifest", json.dumps(manifest, indent=1).encode()),
                (_PROGRAM, "program", program)]
    if weight_specs:
        sections.append((_WEIGHTS, "weights", bytes(blob)))
    image = _ember._build_model_image(sections)
    del outputs
    return ExportedProgram(image, program)


def _custom_op_libraries(program):
    """The manifest's custom_op_libraries (format version 3) for the C++
    custom ops ``program`` calls: per library, its file name, the BLAKE2b-256
    of its bytes and the ops (docs/custom-ops.md)."""
    import hashlib
    import re
    text = _ember._program_text(program)
    names = sorted(set(re.findall(r'ember\.custom_call "(\w+::\w+)"', text)))
    by_library = {}
    for name in names:
        info = _ember._custom_op_info(name)
        if info is None:
            raise RuntimeError(f"export: custom op '{name}' is not registered")
        by_library.setdefault(info["library"], []).append(name)
    libraries = []
    for path, ops in sorted(by_library.items()):
        with open(path, "rb") as f:
            digest = hashlib.blake2b(f.read(), digest_size=32).hexdigest()
        libraries.append({"name": os.path.basename(path), "blake2b": digest,
                          "ops": ops})
    return libraries
