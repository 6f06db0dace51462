"""A differential fuzzer: seeded random programs of tensor ops run on Ember and
on PyTorch 1.13, compared value by value.

A program is a list of Python statements over a module `M` (``ember`` or
``torch``) and variables ``v0, v1, ...``; inputs are literals inside it, so a
program prints as a self-contained repro. The generator builds it one step at
a time while running it on torch: it sees each result's shape, dtype and
values and proposes only steps that are well defined (no float->int casts of
NaN, no rounding of inexact values near a boundary), including steps torch
refuses (those check that Ember refuses them too).

`run(program, module)` executes a program and records, per step, the
exception it raised (if any), then every live variable's shape, dtype and
values; `compare(program)` runs it on both libraries and returns the
differences (empty when they agree). Differences where Ember raises and torch
does not are "known" when they match an entry of difffuzz_known.KNOWN.
"""

import math
import re

import numpy as np

FLOAT = ("float32", "float64")
INT = ("int32", "int64")
DTYPES = ("bool",) + INT + FLOAT

# (rtol, atol scale) per dtype: values agree within rtol * max(1, max |value|)
# (summation order differs, so errors scale with the operands' magnitude).
# float64 values may come from float32 ones (a cast), hence its loose bound.
TOLERANCE = {"float32": 2e-4, "float64": 1e-5}

UNARY_FLOAT = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "rsqrt",
               "log1p", "expm1", "erf", "atan", "reciprocal"]
UNARY_ANY = ["neg", "abs", "relu", "square", "sign", "floor", "ceil", "round",
             "trunc", "logical_not", "isnan", "isinf", "frac"]
UNARY_INT = ["bitwise_not"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "remainder",
          "fmod", "floor_divide", "atan2", "eq", "ne", "lt", "le", "gt", "ge",
          "logical_and", "logical_or", "logical_xor", "bitwise_and",
          "bitwise_or", "bitwise_xor"]
OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**",
             "remainder": "%", "floor_divide": "//", "bitwise_and": "&",
             "bitwise_or": "|", "bitwise_xor": "^", "eq": "==", "ne": "!=",
             "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
# Ops whose result is exact when the operands are small exact values.
EXACT_BINARY = {"add", "sub", "mul", "maximum", "minimum", "eq", "ne", "lt",
                "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
                "bitwise_and", "bitwise_or", "bitwise_xor"}
EXACT_UNARY = {"neg", "abs", "relu", "square", "sign", "floor", "ceil",
               "round", "trunc", "logical_not", "isnan", "isinf",
               "bitwise_not", "frac"}
# Ops that jump (a tiny input difference gives a different result): only on
# exact values.
DISCONTINUOUS = {"sign", "floor", "ceil", "round", "trunc", "frac", "remainder",
                 "fmod", "floor_divide", "eq", "ne", "lt", "le", "gt", "ge",
                 "logical_and", "logical_or", "logical_xor", "logical_not",
                 "argmax", "argmin", "max", "min", "bool", "long", "int"}
REDUCTIONS = ["sum", "mean", "amax", "amin", "prod", "max", "min", "argmax",
              "argmin", "all", "any", "std", "logsumexp", "count_nonzero"]
IN_PLACE = ["add_", "sub_", "mul_", "div_", "clamp_", "fill_", "zero_",
            "copy_", "neg_", "abs_", "exp_", "pow_", "remainder_"]


class Var:
    """What the generator knows of a variable (from its torch value)."""

    def __init__(self, name, value, exact, root):
        self.name = name
        self.value = value          # the torch tensor (for shapes and values)
        self.exact = exact          # computed exactly from exact inputs
        self.root = root            # storage identity: views share it

    @property
    def shape(self):
        return tuple(self.value.shape)

    @property
    def dtype(self):
        return str(self.value.dtype).split(".")[-1]


def literal(array):
    """`array` as Python source for M.tensor (exactly representable values)."""
    dtype = array.dtype.name
    if array.size == 0:
        return f"M.zeros({tuple(array.shape)!r}, dtype=M.{dtype})"
    data = array.tolist()
    if dtype == "bool":
        return f"M.tensor({data!r})"
    return f"M.tensor({data!r}, dtype=M.{dtype})"


class Generator:
    """Builds one program from a seed, running it on torch as it goes."""

    def __init__(self, seed, torch_module, max_steps=None):
        self.rng = np.random.default_rng(seed)
        self.torch = torch_module
        self.vars = []
        self.dead = set()
        self.steps = []
        self.env = {"M": torch_module}
        self.max_steps = max_steps or int(self.rng.integers(4, 11))

    # -- random pieces -------------------------------------------------------

    def choice(self, items):
        return items[int(self.rng.integers(len(items)))]

    def chance(self, p):
        return self.rng.random() < p

    def random_shape(self, rank=None):
        rank = int(self.rng.integers(0, 4)) if rank is None else rank
        sizes = [1, 1, 2, 3, 4] + ([0] if self.chance(0.1) else [])
        return tuple(int(self.choice(sizes)) for _ in range(rank))

    def random_array(self, shape, dtype):
        rng = self.rng
        if dtype == "bool":
            return rng.random(shape) < 0.5
        if dtype in INT:
            return rng.integers(-5, 6, size=shape).astype(dtype)
        # Quarters: exact in every float dtype, and ties do occur.
        return (rng.integers(-16, 17, size=shape) / 4).astype(dtype)

    def scalar(self, dtype_hint):
        kind = self.choice(["int", "float", "bool"] if self.chance(0.2)
                           else (["float"] if dtype_hint in FLOAT else ["int"]))
        if kind == "bool":
            return repr(bool(self.chance(0.5)))
        if kind == "int":
            return repr(int(self.rng.integers(-3, 4)))
        return repr(float(self.rng.integers(-8, 9) / 4))

    def live(self, predicate=lambda v: True):
        return [v for v in self.vars if v.name not in self.dead and predicate(v)]

    def pick(self, predicate=lambda v: True):
        candidates = self.live(predicate)
        return self.choice(candidates) if candidates else None

    def broadcast_shape_for(self, shape):
        """A shape that broadcasts with `shape` (some dims 1, fewer dims)."""
        keep = int(self.rng.integers(0, len(shape) + 1))
        tail = list(shape[len(shape) - keep:])
        tail = [1 if self.chance(0.3) else s for s in tail]
        if self.chance(0.15):
            tail = [int(self.choice([1, 2]))] + tail if len(tail) < 4 else tail
        return tuple(tail)

    # -- steps -------------------------------------------------------------

    def new_name(self):
        return f"v{len(self.vars)}"

    def add_input(self, shape=None, dtype=None):
        shape = self.random_shape() if shape is None else shape
        dtype = self.choice(DTYPES) if dtype is None else dtype
        return f"{self.new_name()} = {literal(self.random_array(shape, dtype))}"

    def operand(self, x, allow_scalar=True, writes_x=False):
        """A second operand for x: a scalar, a live variable that broadcasts
        with it, or a new literal. Where x is written (`writes_x`), a
        variable sharing x's memory is cloned: torch's result would depend
        on the order its kernel writes in."""
        if allow_scalar and self.chance(0.35):
            return self.scalar(x.dtype), True
        other = self.pick(lambda v: v is not x and _broadcasts(v.shape, x.shape))
        if other is not None and self.chance(0.5):
            if writes_x and other.root == x.root:
                return other.name + ".clone()", other.exact
            return other.name, other.exact
        shape = self.broadcast_shape_for(x.shape)
        dtype = x.dtype if self.chance(0.6) else self.choice(DTYPES)
        return literal(self.random_array(shape, dtype)), True

    def step_unary(self, x):
        names = UNARY_ANY + (UNARY_FLOAT if self.chance(0.7) else [])
        if x.dtype in INT + ("bool",):
            names = names + UNARY_INT
        op = self.choice(names)
        if op in DISCONTINUOUS and not x.exact:
            op = "neg"
        if op in ("sin", "cos") and _max_abs(x.value) > 1e4:
            # Ember's f32 sin/cos reduce large arguments less exactly than
            # libm (see difffuzz_known.ACCURACY).
            op = "tanh"
        form = self.choice(["fn", "method"])
        code = f"M.{op}({x.name})" if form == "fn" else f"{x.name}.{op}()"
        if op == "neg" and self.chance(0.3):
            code = f"-{x.name}"
        if op == "bitwise_not" and self.chance(0.5):
            code = f"~{x.name}"
        return code, x.exact and op in EXACT_UNARY

    def step_binary(self, x):
        op = self.choice(BINARY)
        if op in DISCONTINUOUS and not x.exact:
            op = self.choice(["add", "mul", "sub", "maximum"])
        other, other_exact = self.operand(x)
        if op in DISCONTINUOUS and not other_exact:
            other, other_exact = self.scalar(x.dtype), True
        if op == "pow":
            # Small exponents: big powers of quarters overflow float32 ranges
            # differently after rounding.
            other = repr(int(self.rng.integers(-2, 4))) if self.chance(0.6) else other
        lhs, rhs = (x.name, other) if self.chance(0.85) else (other, x.name)
        if lhs[0] in "-0123456789TF" and op not in OPERATORS:
            lhs, rhs = rhs, lhs  # M.add(2, x) is not torch's signature
        form = self.choice(["fn", "method", "operator"])
        if form == "operator" and op in OPERATORS:
            code = f"({lhs}) {OPERATORS[op]} ({rhs})"
        elif form == "method" and not lhs[0] in "-0123456789TF":
            code = f"({lhs}).{op}({rhs})"
        else:
            code = f"M.{op}({lhs}, {rhs})"
        return code, x.exact and other_exact and op in EXACT_BINARY

    def step_where(self, x):
        cond = self.pick(lambda v: v.dtype == "bool" and _broadcasts(v.shape, x.shape))
        cond_code = cond.name if cond is not None else literal(
            self.random_array(self.broadcast_shape_for(x.shape), "bool"))
        other, other_exact = self.operand(x)
        return f"M.where({cond_code}, {x.name}, {other})", x.exact and other_exact

    def step_reduce(self, x):
        op = self.choice(REDUCTIONS)
        if op in DISCONTINUOUS and not x.exact:
            op = "sum"
        args = []
        if len(x.shape) > 0 and self.chance(0.7):
            dim = int(self.rng.integers(-len(x.shape), len(x.shape)))
            args.append(f"dim={dim}")
            if op not in ("count_nonzero",) and self.chance(0.5):
                args.append("keepdim=True")
        elif op in ("max", "min", "logsumexp"):
            op = "amax" if op != "logsumexp" else "sum"
        suffix = ""
        if op in ("max", "min") and args:
            suffix = self.choice(["[0]", "[1]", ".values", ".indices"])
        exact = x.exact and op in ("sum", "amax", "amin", "max", "min", "argmax",
                                   "argmin", "all", "any", "count_nonzero", "prod")
        return f"{x.name}.{op}({', '.join(args)}){suffix}", exact

    def step_matmul(self, x):
        if len(x.shape) == 0:
            return None
        k = x.shape[-1]
        rank = int(self.rng.integers(1, 3))
        shape = (k,) if rank == 1 else (k, int(self.choice([1, 2, 3])))
        dtype = x.dtype if self.chance(0.9) else self.choice(DTYPES)
        other = literal(self.random_array(shape, dtype))
        form = self.choice(["@", "fn"])
        code = f"{x.name} @ {other}" if form == "@" else f"M.matmul({x.name}, {other})"
        return code, x.exact

    def step_view(self, x):
        shape = x.shape
        kind = self.choice(["reshape", "view", "transpose", "permute", "expand",
                            "slice", "squeeze", "unsqueeze", "t", "flatten",
                            "contiguous", "clone", "select"])
        rank = len(shape)
        if kind in ("reshape", "view"):
            numel = int(np.prod(shape)) if shape else 1
            target = _factor(numel, self.rng)
            if self.chance(0.3) and target:
                i = int(self.rng.integers(len(target)))
                target = target[:i] + [-1] + target[i + 1:]
            return f"{x.name}.{kind}({', '.join(map(str, target)) or '()'})", x.exact
        if kind == "transpose" and rank >= 2:
            a, b = self.rng.choice(rank, 2, replace=False)
            return f"{x.name}.transpose({int(a)}, {int(b) - rank})", x.exact
        if kind == "permute" and rank >= 1:
            perm = [int(i) for i in self.rng.permutation(rank)]
            return f"{x.name}.permute({', '.join(map(str, perm))})", x.exact
        if kind == "expand":
            target = [s if s != 1 or self.chance(0.3) else int(self.choice([2, 3]))
                      for s in shape]
            if self.chance(0.3):
                target = [2] + target
            if self.chance(0.2) and target:
                i = int(self.rng.integers(len(target)))
                target[i] = -1
            return f"{x.name}.expand({', '.join(map(str, target)) or '()'})", x.exact
        if kind == "slice" and rank >= 1:
            return f"{x.name}[{self.basic_index(shape)}]", x.exact
        if kind == "select" and rank >= 1 and shape[0] > 0:
            i = int(self.rng.integers(-shape[0], shape[0]))
            return f"{x.name}[{i}]", x.exact
        if kind == "squeeze":
            if rank and self.chance(0.6):
                return f"{x.name}.squeeze({int(self.rng.integers(-rank, rank))})", x.exact
            return f"{x.name}.squeeze()", x.exact
        if kind == "unsqueeze":
            return f"{x.name}.unsqueeze({int(self.rng.integers(-rank - 1, rank + 1))})", x.exact
        if kind == "t" and rank <= 2:
            return f"{x.name}.t()", x.exact
        if kind == "flatten":
            return f"{x.name}.flatten()", x.exact
        if kind in ("contiguous", "clone"):
            return f"{x.name}.{kind}()", x.exact
        return f"{x.name}.reshape(-1)", x.exact

    def basic_index(self, shape):
        if not shape:
            return self.choice(["...", "None", "()"])
        items = []
        for size in shape[:int(self.rng.integers(1, len(shape) + 1))]:
            r = self.rng.random()
            if r < 0.2 and size > 0:
                items.append(str(int(self.rng.integers(-size, size))))
            elif r < 0.3:
                items.append("None")
            elif r < 0.4:
                items.append(":")
            else:
                start = int(self.rng.integers(-size - 1, size + 2))
                stop = int(self.rng.integers(-size - 1, size + 2))
                step = int(self.choice([1, 1, 2, 3]))
                parts = [str(start) if self.chance(0.7) else "",
                         str(stop) if self.chance(0.6) else ""]
                text = ":".join(parts) + (f":{step}" if step != 1 else "")
                items.append(text)
        if self.chance(0.15):
            items.insert(int(self.rng.integers(len(items) + 1)), "...")
        return ", ".join(items) if len(items) != 1 else items[0] + ("," if self.chance(0.2) else "")

    def advanced_index(self, x):
        shape = x.shape
        r = self.rng.random()
        if r < 0.4 and shape and shape[0] > 0:
            count = int(self.rng.integers(0, 4))
            idx = [int(self.rng.integers(-shape[0], shape[0])) for _ in range(count)]
            if self.chance(0.1):
                idx.append(shape[0])  # out of range: both raise
            return f"[{', '.join(map(str, idx))}]" if count > 1 or self.chance(0.5) \
                else f"M.tensor({idx!r}, dtype=M.int64)"
        if r < 0.8:
            k = int(self.rng.integers(0, len(shape) + 1))
            if x.exact and self.chance(0.4) and k == len(shape):
                return f"{x.name} > 0"
            mask = self.random_array(shape[:k], "bool")
            return literal(mask)
        if len(shape) >= 2 and shape[1] > 0:
            idx = [int(self.rng.integers(-shape[1], shape[1])) for _ in range(2)]
            return f":, {idx!r}"
        return "..."

    def step_getitem(self, x):
        return f"{x.name}[{self.advanced_index(x)}]", x.exact

    def step_setitem(self, x):
        index = self.basic_index(x.shape) if self.chance(0.5) or not x.shape \
            else self.advanced_index(x)
        if self.chance(0.5):
            value = self.scalar(x.dtype)
        else:
            # A value shaped like the indexed part (torch computes it).
            try:
                target = eval(f"{x.name}[{index}]", self.env)
                shape = self.broadcast_shape_for(tuple(target.shape))
                if self.chance(0.2):
                    shape = (1,) + shape
            except Exception:  # noqa: BLE001 (torch refuses: both must)
                shape = ()
            value = literal(self.random_array(shape, x.dtype if self.chance(0.8)
                                              else self.choice(DTYPES)))
        return f"{x.name}[{index}] = {value}"

    def step_in_place(self, x):
        op = self.choice(IN_PLACE)
        if op in ("zero_", "neg_", "abs_", "exp_"):
            return f"{x.name}.{op}()"
        if op == "clamp_":
            lo, hi = self.scalar(x.dtype), self.scalar(x.dtype)
            return f"{x.name}.clamp_({lo}, {hi})" if self.chance(0.5) \
                else f"{x.name}.clamp_(min={lo})"
        if op == "fill_":
            return f"{x.name}.fill_({self.scalar(x.dtype)})"
        if op == "copy_":
            other, _ = self.operand(x, allow_scalar=False, writes_x=True)
            return f"{x.name}.copy_({other})"
        if op in ("remainder_",) and not x.exact:
            op = "add_"
        other, other_exact = self.operand(x, writes_x=True)
        if not other_exact and op == "remainder_":
            other = "2"
        if op == "pow_":
            other = repr(int(self.rng.integers(0, 3)))
        if self.chance(0.3) and op in ("add_", "sub_", "mul_", "div_"):
            return f"{x.name} {OPERATORS[op[:-1]]}= {other}"
        return f"{x.name}.{op}({other})"

    def step_cast(self, x):
        target = self.choice(DTYPES)
        if target in INT and x.dtype in FLOAT:
            values = x.value.detach().numpy() if x.value.numel() else np.zeros(0)
            if not x.exact or not np.all(np.isfinite(values)) or \
                    (values.size and np.abs(values).max() > 1e6):
                target = "float64"
        form = self.choice(["to", "method"])
        method = {"float32": "float", "float64": "double", "int64": "long",
                  "int32": "int", "bool": "bool"}[target]
        code = f"{x.name}.to(M.{target})" if form == "to" else f"{x.name}.{method}()"
        return code, x.exact

    def step_join(self, x):
        if not x.shape:
            return None
        dim = int(self.rng.integers(-len(x.shape), len(x.shape)))
        other = self.pick(lambda v: v is not x and v.shape == x.shape)
        other_code = other.name if other is not None else literal(
            self.random_array(x.shape, x.dtype))
        op = self.choice(["cat", "stack"])
        return f"M.{op}([{x.name}, {other_code}], {dim})", x.exact and (
            other is None or other.exact)

    # -- driving -----------------------------------------------------------

    def run_torch(self, code):
        try:
            exec(code, self.env)  # noqa: S102 (the program is ours)
        except Exception:  # noqa: BLE001 (a refused step is a test too)
            return False
        return True

    def record(self, code, exact, in_place_target=None):
        if in_place_target is not None:
            ok = self.run_torch(code)
            self.steps.append(code)
            if not ok:
                # A refused in-place step may have written part: its storage
                # is not compared or used again.
                for v in self.live(lambda v: v.root == in_place_target.root):
                    self.dead.add(v.name)
            else:
                for v in self.live(lambda v: v.root == in_place_target.root):
                    v.exact = v.exact and exact
            return
        name = self.new_name()
        statement = f"{name} = {code}"
        ok = self.run_torch(statement)
        self.steps.append(statement)
        if not ok:
            return
        value = self.env[name]
        if not hasattr(value, "dtype"):
            return
        if value.dtype.is_floating_point and value.numel() and \
                not bool(self.torch.isfinite(value).all()):
            exact = False
        root = _root(value, name)
        self.vars.append(Var(name, value, exact, root))

    def record_input(self):
        code = self.add_input()
        name = code.split(" = ")[0]
        self.steps.append(code)
        self.run_torch(code)
        self.vars.append(Var(name, self.env[name], True, None))
        self.vars[-1].root = _root(self.vars[-1].value, name)

    def generate(self):
        for _ in range(int(self.rng.integers(1, 3))):
            self.record_input()
        kinds = ["unary", "binary", "binary", "where", "reduce", "matmul", "view",
                 "view", "view", "getitem", "setitem", "in_place", "in_place",
                 "cast", "join", "input"]
        while len(self.steps) < self.max_steps:
            kind = self.choice(kinds)
            x = self.pick()
            if kind == "input" or x is None:
                self.record_input()
                continue
            if kind == "setitem":
                code = self.step_setitem(x)
                self.record(code, x.exact, in_place_target=x)
                continue
            if kind == "in_place":
                code = self.step_in_place(x)
                self.record(code, x.exact and ("div_" not in code and "exp_" not in code),
                            in_place_target=x)
                continue
            made = getattr(self, "step_" + kind)(x)
            if made is None:
                continue
            code, exact = made
            self.record(code, exact)
        return [s for s in self.steps]


def _max_abs(value):
    if value.numel() == 0 or not value.dtype.is_floating_point:
        return 0.0
    finite = value[value.isfinite()]
    return float(finite.abs().max()) if finite.numel() else 0.0


def _broadcasts(a, b):
    for x, y in zip(reversed(a), reversed(b)):
        if x != y and x != 1 and y != 1:
            return False
    return True


def _factor(numel, rng):
    """A random shape with `numel` elements."""
    if numel == 0:
        return [int(rng.choice([0, 2])), 0][:int(rng.integers(1, 3))] or [0]
    shape = []
    rest = numel
    for p in (2, 3, 2, 5, 7):
        while rest % p == 0 and rng.random() < 0.6:
            shape.append(p)
            rest //= p
    if rest != 1:
        shape.append(rest)
    rng.shuffle(shape)
    if rng.random() < 0.3:
        shape.insert(int(rng.integers(len(shape) + 1)), 1)
    return [int(s) for s in shape]


def _root(value, name):
    try:
        if value.numel() == 0:
            return name
        return value.storage().data_ptr()
    except Exception:  # noqa: BLE001
        return name


def generate(seed, torch_module):
    """The program (a list of statements) for `seed`."""
    return Generator(seed, torch_module).generate()


class Outcome:
    """What running a program on one library gave."""

    def __init__(self):
        self.errors = {}     # step index -> (type name, message)
        self.values = {}     # variable name -> (shape, dtype, array) or error
        self.sync_error = None
        self.roots = {}      # variable name -> storage identity (torch only)


def run(program, module):
    outcome = Outcome()
    env = {"M": module}
    for i, statement in enumerate(program):
        try:
            exec(statement, env)  # noqa: S102
        except Exception as error:  # noqa: BLE001
            outcome.errors[i] = (type(error).__name__, str(error).split("\n")[0][:300])
    for name, value in env.items():
        if not re.fullmatch(r"v\d+", name) or not hasattr(value, "dtype"):
            continue
        try:
            array = np.array(value.numpy(), copy=True) if hasattr(value, "numpy") else None
            outcome.values[name] = (tuple(value.shape), str(value.dtype).split(".")[-1], array)
            outcome.roots[name] = _root(value, name)
        except Exception as error:  # noqa: BLE001
            outcome.values[name] = ("error", type(error).__name__, str(error)[:300])
    return outcome


def _values_differ(a, b, dtype):
    if a.shape != b.shape:
        return "shape"
    if dtype in TOLERANCE:
        if a.size == 0:
            return None
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same_nan = np.isnan(a64) == np.isnan(b64)
        if not same_nan.all():
            return "nan"
        finite = np.isfinite(b64)
        if not (np.isinf(a64) == np.isinf(b64)).all() or \
                not (a64[~finite & ~np.isnan(b64)] == b64[~finite & ~np.isnan(b64)]).all():
            return "inf"
        scale = max(1.0, float(np.abs(b64[finite]).max())) if finite.any() else 1.0
        if np.abs(a64[finite] - b64[finite]).max(initial=0) > TOLERANCE[dtype] * scale:
            return "values"
        return None
    return None if np.array_equal(a, b) else "values"


def compare(program, ember_module, torch_module, known=()):
    """Differences between Ember and torch on `program`: a list of
    (kind, detail) with kind one of 'ember-raises' (torch works), 'missed-error'
    (torch raises, Ember does not), 'mismatch', 'known' (an ember-raises that
    matches a listed entry; detail names it)."""
    e = run(program, ember_module)
    t = run(program, torch_module)
    failures = []
    ember_only = False
    for i in sorted(set(e.errors) | set(t.errors)):
        # A name an earlier refused step did not define.
        if ember_only and i not in t.errors and e.errors[i][0] == "NameError":
            continue
        ember_only |= i in e.errors and i not in t.errors
        if i in t.errors and i not in e.errors:
            entry = match_known(t.errors[i][1], program[i], known, side="torch")
            failures.append(("known", entry["name"]) if entry else
                            ("missed-error", f"step {i}: {program[i]!r}: torch raised "
                             f"{t.errors[i][0]}: {t.errors[i][1]}"))
        elif i in e.errors and i not in t.errors:
            entry = match_known(e.errors[i][1], program[i], known)
            detail = f"step {i}: {program[i]!r}: ember raised {e.errors[i][0]}: {e.errors[i][1]}"
            failures.append(("known", entry["name"]) if entry else ("ember-raises", detail))
    # A refused in-place step may have written part of its target in torch:
    # whatever shares the target's storage is not compared.
    partial = set()
    if any(kind == "known" for kind, _ in failures):
        return failures
    for i in set(t.errors) | set(e.errors):
        target = re.match(r"(v\d+)(\[|\.\w+_\(| \S+= )", program[i])
        if target and not re.match(r"v\d+ = ", program[i]) and target.group(1) in t.roots:
            partial.add(t.roots[target.group(1)])
    # Values computed after such a write differ too: none is compared (nor
    # after a step only Ember refused, already reported or known).
    if partial or ember_only:
        return failures
    for name, expected in t.values.items():
        got = e.values.get(name)
        if got is None:
            if not any(i in e.errors for i in range(len(program))):
                failures.append(("mismatch", f"{name}: missing in ember"))
            continue
        if expected[0] == "error" or got[0] == "error":
            if got[0] == "error" and expected[0] != "error":
                failures.append(("ember-raises", f"{name}: reading it raised {got[1]}: {got[2]}"))
            continue
        if got[0] != expected[0]:
            failures.append(("mismatch", f"{name}: shape {got[0]} != torch {expected[0]}"))
        elif got[1] != expected[1]:
            failures.append(("mismatch", f"{name}: dtype {got[1]} != torch {expected[1]}"))
        else:
            why = _values_differ(got[2], expected[2], expected[1])
            if why:
                failures.append(("mismatch", f"{name}: {why} differ:\n  ember {got[2]!r}\n"
                                 f"  torch {expected[2]!r}"))
    return failures


def match_known(message, statement, known, side="ember"):
    for entry in known:
        if entry.get("side", "ember") != side:
            continue
        if re.search(entry["message"], message) and re.search(entry.get("statement", ""),
                                                               statement):
            return entry
    return None


def failure_kinds(failures):
    return sorted({kind for kind, _ in failures if kind != "known"})


def shrink(program, ember_module, torch_module, known=()):
    """A shorter program that fails the same way (steps dropped one at a time
    while the failure kinds stay)."""
    target = failure_kinds(compare(program, ember_module, torch_module, known))
    if not target:
        return program
    current = list(program)
    changed = True
    while changed:
        changed = False
        for i in range(len(current) - 1, -1, -1):
            candidate = current[:i] + current[i + 1:]
            try:
                kinds = failure_kinds(compare(candidate, ember_module, torch_module, known))
            except Exception:  # noqa: BLE001
                continue
            if kinds and set(target) <= set(kinds):
                current = candidate
                changed = True
    return current


def as_python(program, module="ember"):
    lines = [f"import {module} as M"] + list(program)
    return "\n".join(lines)
