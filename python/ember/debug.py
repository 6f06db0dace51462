"""ember.debug: pictures of the lazy graph.

``draw(x, "g.svg")`` writes the graph behind a pending tensor (or tensors, or
an exported program) through Graphviz's ``dot``: one box per op, its output's
shape and dtype on each edge, values computed by an earlier graph as grey
"computed value" inputs with a dashed note saying why the trace was cut
there (".item() read", "ember.sync()", the size limit) and at which line, and
the kernels the compiler makes of the graph for the tensors' device as
clusters named as the profiler names their spans (CPU: ``ember_kernel_<hash>``;
GPU: ``ember_gpu_kernel_<hash>``, the name of its dispatches).
``to_dot`` returns the dot text alone (no Graphviz needed).

The clusters are read back from the compiled code, not predicted: drawing a
pending tensor compiles its graph for its device (CPU kernels through the
kernel cache; it runs nothing and the tensor stays pending). An exported
program's text is drawn without clusters (it is compiled per target later).
"""

import os
import re
import shutil

from ember import _ember

__all__ = ["draw", "to_dot", "dot_available"]

def dot_available():
    """Whether Graphviz's ``dot`` is on PATH."""
    return shutil.which("dot") is not None


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _type_label(dtype, shape):
    return f"{dtype}[{', '.join(str(d) for d in shape)}]"


def _graph_of_tensors(tensors):
    tensors = list(tensors)
    raw, outputs = _ember._graph_nodes(tensors)
    nodes = []
    for (i, op, dtype, shape, inputs, file, line, computed, requires_grad,
         constant, cut) in raw:
        nodes.append({"id": i, "op": op, "dtype": dtype, "shape": list(shape),
                      "inputs": list(inputs), "where": f"{os.path.basename(file)}:{line}"
                      if file else "", "computed": computed,
                      "requires_grad": requires_grad, "constant": constant, "cut": cut})
    kernels = []
    if any(node["op"] not in ("input", "constant") for node in nodes):
        kernels = _ember._graph_kernels(tensors)
    return nodes, outputs, kernels


_OP_LINE = re.compile(r"^\s*(%[\w.#:]+(?::\d+)?)\s*=\s*\"?([\w]+\.[\w.]+)\"?(.*)$")
_TENSOR = re.compile(r"tensor<([^>]*)>")


# MLIR's element types by the names tensors print (the C++ side's too).
_MLIR_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "bf16": "bfloat16",
                "i64": "int64", "i32": "int32", "i16": "int16", "i8": "int8",
                "ui8": "uint8", "i1": "bool"}


def _parse_tensor(text):
    parts = text.split("x")
    return _MLIR_DTYPES.get(parts[-1], parts[-1]), [p for p in parts[:-1]]


def _graph_of_program_text(text):
    """An exported program's ops, from its MLIR text."""
    nodes, names = [], {}
    outputs = []
    arguments = re.search(r"func\.func\s+@\w+\((.*?)\)\s*(->|\{)", text, re.S)
    if arguments:
        for name, ty in re.findall(r"(%arg\d+)\s*:\s*tensor<([^>]*)>", arguments.group(1)):
            dtype, shape = _parse_tensor(ty)
            names[name] = len(nodes)
            nodes.append({"id": len(nodes), "op": "input", "dtype": dtype, "shape": shape,
                          "inputs": [], "where": name, "computed": True,
                          "requires_grad": False, "constant": None})
    for line in text.splitlines():
        if re.match(r"^\s*(func\.)?return\b", line):
            outputs = [names[o] for o in re.findall(r"%[\w.#]+", line.split(":")[0])
                       if o in names]
            continue
        match = _OP_LINE.match(line)
        if not match:
            continue
        result, op, rest = match.groups()
        body, _, types = rest.rpartition(" : ") if " : " in rest else (rest, "", "")
        operands = [names[o] for o in re.findall(r"%[\w.#]+", body) if o in names]
        result_types = _TENSOR.findall(types.split("->")[-1])
        dtype, shape = _parse_tensor(result_types[-1]) if result_types else ("", [])
        names[result.split(":")[0]] = len(nodes)
        nodes.append({"id": len(nodes), "op": op.split(".", 1)[1] if op.startswith("ember.")
                      else op, "dtype": dtype, "shape": shape, "inputs": operands,
                      "where": "", "computed": False, "requires_grad": False,
                      "constant": None})
    return nodes, outputs, []


def _graph_of(obj):
    if hasattr(obj, "program_text"):
        return _graph_of_program_text(obj.program_text())
    if isinstance(obj, str):
        return _graph_of_program_text(obj)
    if isinstance(obj, _ember.Tensor):
        return _graph_of_tensors([obj])
    return _graph_of_tensors(list(obj))


def to_dot(obj, title=None):
    """The dot text of the graph behind ``obj``: a tensor, a list of
    tensors, an ExportedProgram or a program's MLIR text."""
    nodes, outputs, kernels = _graph_of(obj)
    lines = ["digraph ember {", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#e8f0fe", '
             'fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    if title:
        lines.append(f"  label={_quote(title)}; labelloc=t;")

    def node_line(node, indent="  "):
        i = node["id"]
        if node["op"] == "input":
            # A value computed before this graph: the user's data, or an
            # earlier graph's output (where the trace was cut).
            label = ("computed value" if node["computed"] and
                     not node["where"].startswith("%arg") else "input")
            if node["where"]:
                label += f"\\n{node['where']}"
            return (f'{indent}n{i} [label="{label}", shape=ellipse, '
                    f'fillcolor="#eeeeee"];')
        if node["op"] == "constant":
            value = node["constant"]
            text = f"constant {value:g}" if isinstance(value, float) else "constant"
            return f'{indent}n{i} [label={_quote(text)}, shape=plain, style=""];'
        label = node["op"]
        if node["where"]:
            label += f"\\n{node['where']}"
        style = ', fillcolor="#fde7c8"' if node["id"] in outputs else ""
        return f'{indent}n{i} [label="{label}"{style}];'

    # The kernels the compiler made, named by their symbols. A node whose
    # ops several kernels compute (a producer recomputed in each consumer)
    # is drawn in the first and named in the others' labels.
    placed = set()
    for symbol, members in kernels:
        own = [nodes[i] for i in members if nodes[i]["op"] != "input" and i not in placed]
        shared = [nodes[i]["op"] for i in members
                  if nodes[i]["op"] not in ("input", "constant") and i in placed]
        if not own and not shared:
            continue
        also = "".join(f", also {op}" for op in shared)
        lines.append(f'  subgraph "cluster_{symbol}" {{')
        # Constants are drawn inside but not counted as ops.
        count = len(shared) + sum(node["op"] != "constant" for node in own)
        lines.append(f'    label="kernel {symbol} ({count} ops{also})";'
                     ' style="dashed"; color="#1a73e8"; fontname="Helvetica";'
                     " fontsize=10;")
        for node in own:
            lines.append(node_line(node, "    "))
            placed.add(node["id"])
        lines.append("  }")
    for node in nodes:
        if node["id"] not in placed:
            lines.append(node_line(node))
    for node in nodes:
        for i in node["inputs"]:
            source = nodes[i]
            lines.append(f'  n{i} -> n{node["id"]} '
                         f'[label={_quote(_type_label(source["dtype"], source["shape"]))}];')
    # Where the trace was cut (the frontend remembers why each value an
    # earlier graph computed was computed there): a dashed note beside it.
    for node in nodes:
        if not node.get("cut"):
            continue
        reason, where = node["cut"]
        label = _quote(f"cut: {reason}")
        if where:  # dot's line break inside the quotes
            label = label[:-1] + "\\nat " + _quote(os.path.basename(where))[1:]
        i = node["id"]
        lines.append(f'  cut{i} [label={label}, shape=note, style="dashed", '
                     'color="#d93025", fontcolor="#d93025"];')
        lines.append(f'  cut{i} -> n{i} [style=dashed, arrowhead=none, color="#d93025"];')
    for k, i in enumerate(outputs):
        node = nodes[i]
        lines.append(f'  out{k} [label="output {k}", shape=ellipse, fillcolor="#fde7c8"];')
        lines.append(f'  n{i} -> out{k} '
                     f'[label={_quote(_type_label(node["dtype"], node["shape"]))}];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(obj, path, title=None):
    """Writes the graph behind ``obj`` to ``path``: ``.dot`` writes the dot
    text; any other suffix (``.svg``, ``.png``, ``.pdf``) is rendered by
    Graphviz's ``dot`` (RuntimeError when it is missing). Returns ``path``."""
    text = to_dot(obj, title)
    path = os.fspath(path)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "svg"
    if fmt in ("dot", "gv"):
        with open(path, "w") as f:
            f.write(text)
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError("ember.debug.draw: Graphviz's `dot` is not installed "
                           "(Debian: apt install graphviz); write a .dot file instead")
    import subprocess
    subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode(), check=True)
    return path
