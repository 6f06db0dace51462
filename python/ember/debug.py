"""ember.debug: pictures of the lazy graph.

``draw(x, "g.svg")`` writes the graph behind a pending tensor (or tensors, or
an exported program) through Graphviz's ``dot``: one box per op, its output's
shape and dtype on each edge, values computed by an earlier graph (where the
graph was cut) as grey "computed value" inputs, and the chains of element-wise ops that
``ember-fuse-elementwise`` merges into one kernel as clusters. ``to_dot``
returns the dot text alone (no Graphviz needed).

Clusters follow the fusion rule (an element-wise op with a single user fuses
into that user when it is element-wise too); they are computed from the
graph here, not read back from the compiled code, which may fuse more (a
reduction's element-wise producers, matmul epilogues).
"""

import os
import re
import shutil

from ember import _ember

__all__ = ["draw", "to_dot", "dot_available"]

_ELEMENTWISE_OTHER = {"where", "cast", "clamp", "broadcast_to", "constant"}


def _elementwise_ops():
    ops = set(_ELEMENTWISE_OTHER)
    for mnemonic, kind, _, _ in _ember._vocabulary():
        if kind in ("unary", "binary"):
            ops.add(mnemonic)
    return ops


def dot_available():
    """Whether Graphviz's ``dot`` is on PATH."""
    return shutil.which("dot") is not None


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _type_label(dtype, shape):
    return f"{dtype}[{', '.join(str(d) for d in shape)}]"


def _fusion_groups(nodes, elementwise):
    """Per node id: its group's representative (union of element-wise
    producers with their single element-wise user)."""
    users = {}
    for node in nodes:
        for i in node["inputs"]:
            users.setdefault(i, []).append(node["id"])
    parent = {n["id"]: n["id"] for n in nodes}

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_id = {n["id"]: n for n in nodes}
    for node in nodes:
        if node["op"] not in elementwise or node["op"] == "constant":
            continue
        node_users = users.get(node["id"], [])
        if len(node_users) == 1 and by_id[node_users[0]]["op"] in elementwise:
            parent[find(node["id"])] = find(node_users[0])
    return {i: find(i) for i in parent}


def _graph_of_tensors(tensors):
    raw, outputs = _ember._graph_nodes(list(tensors))
    nodes = []
    for (i, op, dtype, shape, inputs, file, line, computed, requires_grad,
         constant) in raw:
        nodes.append({"id": i, "op": op, "dtype": dtype, "shape": list(shape),
                      "inputs": list(inputs), "where": f"{os.path.basename(file)}:{line}"
                      if file else "", "computed": computed,
                      "requires_grad": requires_grad, "constant": constant})
    return nodes, outputs


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
    return nodes, outputs


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
    nodes, outputs = _graph_of(obj)
    elementwise = _elementwise_ops()
    groups = _fusion_groups(nodes, elementwise)
    members = {}
    for node in nodes:
        if node["op"] not in ("input", "constant"):
            members.setdefault(groups[node["id"]], []).append(node)
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

    kernel = 0
    placed = set()
    for rep, group in members.items():
        if len(group) > 1:
            lines.append(f"  subgraph cluster_k{kernel} {{")
            lines.append(f'    label="fused kernel {kernel} ({len(group)} element-wise ops)";'
                         ' style="dashed"; color="#1a73e8"; fontname="Helvetica";'
                         " fontsize=10;")
            for node in group:
                lines.append(node_line(node, "    "))
                placed.add(node["id"])
            lines.append("  }")
            kernel += 1
    for node in nodes:
        if node["id"] not in placed:
            lines.append(node_line(node))
    for node in nodes:
        for i in node["inputs"]:
            source = nodes[i]
            lines.append(f'  n{i} -> n{node["id"]} '
                         f'[label={_quote(_type_label(source["dtype"], source["shape"]))}];')
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
