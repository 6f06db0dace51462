"""The error an fx node without an Ember mapping raises: it names the op, the
module whose forward created it and the source line."""


class UnsupportedTorchOp(NotImplementedError):
    """Raised by ember.from_torch for a torch op that has no Ember mapping."""


def source_line(node):
    """'file:line in function: code' of the user code that created ``node``,
    from its recorded stack trace, or '' when none was recorded."""
    trace = node.stack_trace or ""
    lines = [line for line in trace.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        text = line.strip()
        if text.startswith('File "'):
            where = text[len('File "'):]
            path, _, rest = where.partition('", line ')
            number, _, function = rest.partition(", in ")
            code = lines[index + 1].strip() if index + 1 < len(lines) else ""
            return f"{path}:{number} in {function}: {code}"
    return ""


def describe(node, root):
    """Where the node comes from: module path (and type) and source line."""
    path = node.meta.get("module_path", "")
    if node.op == "call_module":
        path = node.target
    try:
        owner = type(root.get_submodule(path)).__name__ if path else type(root).__name__
    except AttributeError:
        owner = "?"
    text = f"in module '{path or '<root>'}' ({owner})"
    line = source_line(node)
    if line:
        text += f", at {line}"
    return text


def unsupported(kind, name, node, root, hint=""):
    return UnsupportedTorchOp(
        f"ember.from_torch: {kind} {name} has no Ember mapping ({describe(node, root)})"
        f"{hint}. docs/from_torch.md lists the supported ops")
