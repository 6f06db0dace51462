"""The error an fx node without an Ember mapping raises: it names the op, the
module whose forward created it and the source line."""


class UnsupportedTorchOp(NotImplementedError):
    """Raised by ember.from_torch for a torch op that has no Ember mapping."""


def _internal(path):
    import os
    import torch
    torch_dir = os.path.dirname(os.path.abspath(torch.__file__))
    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return path.startswith(torch_dir) or path.startswith(ours) or path.startswith("<frozen")


def source_line(node):
    """'file:line in function: code' of the user code that created ``node``,
    from its recorded stack trace, or '' when none was recorded. fx records
    the innermost frame first, torch.export last (meta "innermost_last");
    frames inside torch and Ember are skipped."""
    lines = [line for line in (node.stack_trace or "").splitlines() if line.strip()]
    entries = []
    for index, line in enumerate(lines):
        text = line.strip()
        if text.startswith('File "'):
            path, _, rest = text[len('File "'):].partition('", line ')
            number, _, function = rest.partition(", in ")
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            code = "" if following.startswith('File "') else following
            entries.append((path, f"{path}:{number} in {function}: {code}"))
    if node.meta.get("innermost_last"):
        entries.reverse()
    for path, text in entries:
        if not _internal(path):
            return text
    return entries[0][1] if entries else ""


def describe(node, root):
    """Where the node comes from: module path (and type) and source line."""
    path = node.meta.get("module_path", "")
    if node.op == "call_module":
        path = node.target
    try:
        module = root.get_submodule(path) if path else root
        owner = getattr(module, "_torch_type", type(module).__name__)
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
