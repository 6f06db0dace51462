"""The conformance suite's driver: reads the shared programs, makes a model
file for one (program, dtype), compiles and runs it on one backend with the
real tools, and compares the outputs with the program's NumPy reference.

A program (programs/NAME.mlir) is a `func.func @forward` in the ember
dialect written over the element type alias `!T`, with a header:

  // CTS: what it covers
  // dtypes: f32 f64 f16 bf16 i32 i64 i1       the types !T takes
  // input x: [batch, 8] in [-3, 3]            name, dims, value range
  // output y: [batch, 8]                      name, dims
  // sizes: batch = 1, 7                       each symbol's run-time sizes
  // reference: x + 1, softmax(x, 1)           Python over the inputs
  // tolerance: 4                              scales the float tolerances
  !T = f32                                     the default, replaced per run

Element types come from the signature. The references run in float64 (ints
in int64) on the very values the backend gets, and are rounded to each
output's type; helpers they may call are in REFERENCE_HELPERS.

The tools read and write .npy, which has no bfloat16: for bf16 the driver
gives the function f32 arguments and results with `ember.cast`s at the
boundary (the values are bf16-exact), so every op in between is bf16.
"""

import math
import os
import re
import subprocess
from dataclasses import dataclass, field

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
UNSUPPORTED = os.path.join(HERE, "unsupported.txt")

# One test target per backend (BUILD.bazel); the device kind each runs on
# (ember's Python name, for presence) and ember-compile's target.
BACKENDS = {
    "cpu_jit": {"device": None, "run": "cpu"},
    "cpu_aot": {"device": None, "run": "cpu"},
    "vulkan": {"device": "vulkan", "run": "vulkan"},
    "cuda": {"device": "cuda", "run": "cuda"},
    "rocm": {"device": "rocm", "run": "rocm"},
    "level_zero": {"device": "xpu", "run": "level-zero"},
}

DTYPES = {
    "f32": "float32", "f64": "float64", "f16": "float16", "bf16": "bfloat16",
    "i32": "int32", "i64": "int64", "i1": "bool",
}
FLOATS = ("f32", "f64", "f16", "bf16")

# (rtol, atol) per computed element type: a few roundings of that type
# against a float64 reference rounded once; a program's `tolerance` scales.
TOLERANCES = {
    "f32": (2e-6, 1e-6),
    "f64": (1e-10, 1e-12),
    "f16": (2e-3, 1e-3),
    "bf16": (1.6e-2, 8e-3),
}


class CaseFailed(AssertionError):
    """A (program, dtype) did not compile, run or match on a backend."""


class StaleUnsupported(AssertionError):
    """A case listed in unsupported.txt passes."""


@dataclass
class Tensor:
    name: str
    dims: list            # ints and symbol names
    low: float = -3.0
    high: float = 3.0
    type: str = ""        # element type from the signature, after !T


@dataclass
class Program:
    name: str
    path: str
    text: str
    summary: str
    dtypes: list
    inputs: list
    outputs: list
    sizes: dict           # symbol -> [sizes]
    reference: str
    tolerance: float = 1.0
    extra: dict = field(default_factory=dict)


_TENSOR = re.compile(r"^(\w+): \[([^\]]*)\](?: in \[([-0-9.e]+), ([-0-9.e]+)\])?$")


def _parse_tensor(text, where):
    match = _TENSOR.match(text.strip())
    if not match:
        raise ValueError(f"{where}: bad tensor line '{text}' "
                         "(want 'name: [d0, d1] [in [low, high]]')")
    dims = [int(d) if d.strip().lstrip("-").isdigit() else d.strip()
            for d in match.group(2).split(",") if d.strip()]
    tensor = Tensor(match.group(1), dims)
    if match.group(3):
        tensor.low, tensor.high = float(match.group(3)), float(match.group(4))
    return tensor


def load_program(path):
    """Parses one program's header (raises ValueError naming the line)."""
    name = os.path.splitext(os.path.basename(path))[0]
    with open(path) as f:
        text = f.read()
    fields = {"inputs": [], "outputs": [], "sizes": {}, "summary": [],
              "dtypes": None, "reference": None, "tolerance": 1.0}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("//"):
            continue
        where = f"{name}.mlir:{number}"
        body = line[2:].strip()
        key, _, value = body.partition(":")
        key = key.strip()
        if key == "CTS":
            fields["summary"].append(value.strip())
        elif key == "dtypes":
            fields["dtypes"] = value.split()
            unknown = [d for d in fields["dtypes"] if d not in DTYPES]
            if unknown:
                raise ValueError(f"{where}: unknown dtypes {unknown}")
        elif key.startswith("input "):
            fields["inputs"].append(_parse_tensor(body[len("input "):], where))
        elif key.startswith("output "):
            fields["outputs"].append(_parse_tensor(body[len("output "):], where))
        elif key == "sizes":
            for item in value.split(";"):
                symbol, _, sizes = item.partition("=")
                fields["sizes"][symbol.strip()] = [int(s) for s in sizes.split(",")]
        elif key == "reference":
            fields["reference"] = value.strip()
        elif key == "tolerance":
            fields["tolerance"] = float(value)
        elif fields["summary"] and fields["dtypes"] is None:
            fields["summary"].append(body)  # the summary's continuation
    for required in ("dtypes", "reference"):
        if not fields[required]:
            raise ValueError(f"{name}.mlir: the header has no '{required}:' line")
    if not re.search(r"^!T = \w+$", text, re.M):
        raise ValueError(f"{name}.mlir: no '!T = <type>' line (the default dtype)")
    program = Program(name, path, text, " ".join(fields["summary"]), fields["dtypes"],
                      fields["inputs"], fields["outputs"], fields["sizes"],
                      fields["reference"], fields["tolerance"])
    symbols = {d for t in program.inputs + program.outputs for d in t.dims
               if isinstance(d, str)}
    missing = symbols - set(program.sizes)
    if missing:
        raise ValueError(f"{name}.mlir: no 'sizes:' for {sorted(missing)}")
    return program


def load_programs():
    return [load_program(os.path.join(PROGRAMS, f))
            for f in sorted(os.listdir(PROGRAMS)) if f.endswith(".mlir")]


# --- instantiating a program for one dtype -----------------------------------

_SIGNATURE = re.compile(r"func\.func @forward\((.*)\) -> (.*) \{$", re.M)
_ARG = re.compile(r"%(\w+): (tensor<[^>]*>)")
_TYPE = re.compile(r"tensor<[^>]*>")
_RETURN = re.compile(r"^(\s*)return (.*) : (.*)$", re.M)


def element_type(tensor_type):
    """'tensor<?x8xf32>' -> 'f32'; 'tensor<i1>' -> 'i1'."""
    return tensor_type[len("tensor<"):-1].split("x")[-1]


def instantiate(program, dtype):
    """The program's MLIR text with `!T` = dtype, and the element types of
    its inputs and outputs as the tools see them (bf16 passes as f32)."""
    text = re.sub(r"^!T = \w+$", f"!T = {dtype}", program.text, count=1, flags=re.M)
    signature = _SIGNATURE.search(text)
    if not signature:
        raise ValueError(f"{program.name}.mlir: want the signature on one line: "
                         "'func.func @forward(...) -> ... {'")
    args = _ARG.findall(signature.group(1))
    results = _TYPE.findall(signature.group(2))
    if len(args) != len(program.inputs) or len(results) != len(program.outputs):
        raise ValueError(f"{program.name}.mlir: the header names {len(program.inputs)} "
                         f"inputs and {len(program.outputs)} outputs, the signature has "
                         f"{len(args)} and {len(results)}")
    concrete = lambda t: t.replace("!T", dtype)
    io = lambda t: "f32" if t == "bf16" else t
    in_types = [element_type(concrete(t)) for _, t in args]
    out_types = [element_type(concrete(t)) for t in results]
    if dtype == "bf16":
        text = _bf16_boundary(text, signature, args)
    return text, in_types, out_types, [io(t) for t in in_types], [io(t) for t in out_types]


def _bf16_boundary(text, signature, args):
    """Gives @forward f32 arguments and results around its bf16 body."""
    as_f32 = lambda t: t.replace("!T>", "f32>")
    params = ", ".join(f"%{n}__io: {as_f32(t)}" if "!T" in t else f"%{n}: {t}"
                       for n, t in args)
    header = f"func.func @forward({params}) -> {as_f32(signature.group(2))} {{\n"
    casts = "".join(f"  %{n} = ember.cast %{n}__io : {as_f32(t)} to {t}\n"
                    for n, t in args if "!T" in t)
    text = text[:signature.start()] + header + casts + text[signature.end() + 1:]
    ret = _RETURN.search(text)
    values = [v.strip() for v in ret.group(2).split(",")]
    types = _TYPE.findall(ret.group(3))
    lines, outs = "", []
    for i, (value, type) in enumerate(zip(values, types)):
        if "!T" in type:
            lines += f"{ret.group(1)}%r__io{i} = ember.cast {value} : {type} to {as_f32(type)}\n"
            value = f"%r__io{i}"
        outs.append(value)
    new_return = (f"{ret.group(1)}return {', '.join(outs)} : "
                  f"{', '.join(as_f32(t) for t in types)}")
    return text[:ret.start()] + lines + new_return + text[ret.end():]


# --- inputs and references ----------------------------------------------------

def random_input(rng, tensor, shape, type):
    """Values of `type` (an MLIR element type) in the tensor's range, as the
    NumPy array the tools read (bf16 values as float32)."""
    if type == "i1":
        return rng.random(shape) < 0.5
    if type in ("i32", "i64"):
        return rng.integers(math.ceil(tensor.low), math.floor(tensor.high) + 1,
                            size=shape).astype(DTYPES[type])
    values = rng.uniform(tensor.low, tensor.high, size=shape)
    return round_to(values, type)


def round_to(values, type):
    """Float64 values rounded to `type`, as the NumPy dtype the tools use."""
    values = np.asarray(values)
    if type == "bf16":
        return torch.from_numpy(values.astype(np.float32)).bfloat16().float().numpy()
    if type == "i1":
        return values.astype(bool)
    if type in ("i32", "i64") and values.dtype.kind == "f":
        # The programs' integer results come from integer arithmetic; a float
        # reference (a cast) truncates toward zero like ember.cast.
        values = np.trunc(values)
    return values.astype(DTYPES[type])


def _softmax(x, dim):
    e = np.exp(x - x.max(dim, keepdims=True))
    return e / e.sum(dim, keepdims=True)


def _log_softmax(x, dim):
    shifted = x - x.max(dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(dim, keepdims=True))


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _div(x, y):
    if x.dtype.kind in "iu":
        return np.trunc(x / y).astype(x.dtype)  # ember's integer div truncates
    return x / y


def _scatter_add(x, idx, u):
    out = x.copy()
    np.add.at(out, (slice(None), idx), u)  # repeated indices accumulate
    return out


def _insert(x, s):
    out = x.copy()
    out[-2:, 0:8:2] = s
    return out


REFERENCE_HELPERS = {
    "np": np,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "erf": _erf,
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "div": _div,
    "cast": lambda x: x,
    "scatter_add": _scatter_add,
    "insert": _insert,  # the rounding to the output's type is the cast
}


def reference(program, arrays):
    """The reference outputs (float64 / int64 / bool) for the inputs."""
    wide = {}
    for tensor, array in zip(program.inputs, arrays):
        kind = array.dtype.kind
        wide[tensor.name] = (array.astype(np.float64) if kind == "f" else
                             array.astype(np.int64) if kind in "iu" else array)
    values = eval(program.reference, dict(REFERENCE_HELPERS), wide)  # noqa: S307
    if not isinstance(values, tuple):
        values = (values,)
    if len(values) != len(program.outputs):
        raise ValueError(f"{program.name}: the reference gives {len(values)} values "
                         f"for {len(program.outputs)} outputs")
    return [np.asarray(v) for v in values]


def compare(program, output, got, want, type, where):
    """Raises CaseFailed unless `got` (from the tool) matches the reference
    rounded to `type` (exact for integers and bool)."""
    expected = round_to(want, type)
    if tuple(got.shape) != tuple(expected.shape):
        raise CaseFailed(f"{where}: output {output.name}: shape {got.shape}, "
                         f"expected {expected.shape}")
    if type in TOLERANCES:
        rtol, atol = (t * program.tolerance for t in TOLERANCES[type])
        try:
            np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64),
                                       rtol=rtol, atol=atol, equal_nan=True)
        except AssertionError as error:
            raise CaseFailed(f"{where}: output {output.name} ({type}):{error}") from None
    else:
        if got.dtype != expected.dtype or not np.array_equal(got, expected):
            raise CaseFailed(f"{where}: output {output.name} ({type}): got {got.dtype}\n"
                             f"{got}\nexpected {expected.dtype}\n{expected}")


# --- running on a backend -----------------------------------------------------

@dataclass
class Tools:
    pack: str
    compile: str
    run: str
    env: dict = None
    cuda_arch: str = "sm_70"
    rocm_arch: str = "gfx942"


def _call(tools, argv, stage, where):
    result = subprocess.run(argv, capture_output=True, text=True, env=tools.env,
                            timeout=300)
    if result.returncode != 0:
        raise CaseFailed(f"{where}: {stage} failed (exit {result.returncode}):\n"
                         f"$ {' '.join(argv)}\n{result.stderr.strip()}")
    return result


def _spec(tensor, type):
    return f"{tensor.name}:{DTYPES[type]}:{','.join(str(d) for d in tensor.dims)}"


def _size_sets(program):
    """Every symbol's sizes, zipped (the last size repeats for shorter lists)."""
    if not program.sizes:
        return [{}]
    count = max(len(v) for v in program.sizes.values())
    return [{s: v[min(i, len(v) - 1)] for s, v in program.sizes.items()}
            for i in range(count)]


def compile_target(backend, tools):
    return {"cpu_aot": "cpu", "vulkan": "vulkan", "level_zero": "level-zero",
            "cuda": "cuda:" + tools.cuda_arch, "rocm": "rocm:" + tools.rocm_arch}.get(backend)


def run_case(program, dtype, backend, tools, workdir, rng):
    """Compiles `program` for `dtype` and runs it on `backend` at each of
    its sizes against the reference; raises CaseFailed on any difference.
    Returns the number of runs checked."""
    where = f"{program.name}[{dtype}] on {backend}"
    text, in_types, out_types, in_io, out_io = instantiate(program, dtype)
    stem = os.path.join(workdir, f"{program.name}.{dtype}")
    with open(stem + ".mlir", "w") as f:
        f.write(text)
    pack = [tools.pack, stem + ".mlir", "-o", stem + ".ember"]
    pack += [f"--input={_spec(t, io)}" for t, io in zip(program.inputs, in_io)]
    pack += [f"--output={_spec(t, io)}" for t, io in zip(program.outputs, out_io)]
    _call(tools, pack, "ember-pack (parse and verify)", where)
    model = stem + ".ember"
    target = compile_target(backend, tools)
    if target:
        model = f"{stem}.{backend}.ember"
        _call(tools, [tools.compile, stem + ".ember", "--target", target, "-o", model,
                      "--quiet"], f"ember-compile --target {target}", where)
    run = [tools.run, model, "--trust-native"]
    run += {"cpu_jit": ["--no-native"], "cpu_aot": ["--no-jit"]}.get(
        backend, ["--device", BACKENDS[backend]["run"]])
    for sizes in _size_sets(program):
        label = ",".join(f"{k}={v}" for k, v in sizes.items())
        at = f"{where} ({label})" if label else where
        arrays, argv = [], list(run)
        for i, (tensor, type) in enumerate(zip(program.inputs, in_types)):
            shape = tuple(sizes.get(d, d) for d in tensor.dims)
            array = random_input(rng, tensor, shape, type)
            path = f"{stem}.in{i}.npy"
            np.save(path, array)
            arrays.append(array)
            argv += ["--input", path]
        outs = [f"{stem}.out{i}.npy" for i in range(len(program.outputs))]
        for path in outs:
            argv += ["--output", path]
        _call(tools, argv, "ember-run", at)
        expected = reference(program, arrays)
        for output, path, want, type in zip(program.outputs, outs, expected, out_types):
            compare(program, output, np.load(path), want, type, at)
    return len(_size_sets(program))


def check_case(program, dtype, backend, tools, workdir, rng, unsupported_reason=None):
    """run_case, or for a case listed as unsupported (with its reason): that
    it still fails, else StaleUnsupported."""
    if unsupported_reason is None:
        run_case(program, dtype, backend, tools, workdir, rng)
        return
    try:
        run_case(program, dtype, backend, tools, workdir, rng)
    except CaseFailed:
        return
    raise StaleUnsupported(f"{program.name}[{dtype}] on {backend} passes, but "
                           f"unsupported.txt lists it ({unsupported_reason}): "
                           "delete that line")


# --- the unsupported list -----------------------------------------------------

@dataclass
class Unsupported:
    backend: str
    program: str
    dtypes: list          # or ["*"]
    reason: str
    line: int


def load_unsupported(path=UNSUPPORTED):
    """Lines 'backend program dtypes|* reason...'; '#' starts a comment."""
    entries = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 3)
            if len(parts) < 4:
                raise ValueError(f"unsupported.txt:{number}: want 'backend program "
                                 f"dtypes reason', got '{line}'")
            entries.append(Unsupported(parts[0], parts[1], parts[2].split(","), parts[3],
                                       number))
    return entries


def unsupported_reason(entries, backend, program, dtype):
    for entry in entries:
        if entry.backend == backend and entry.program == program and (
                entry.dtypes == ["*"] or dtype in entry.dtypes):
            return entry.reason
    return None
