"""``ember.utils.cpp_extension``: build and load C++ custom op libraries
(torch.utils.cpp_extension's ``load``, for Ember's custom op ABI).

``load(name, sources, ...)`` compiles ``sources`` (C++ files that define
their ops with ``EMBER_CUSTOM_OP_LIBRARY``, see ``ember/Runtime/CustomOp.h``,
shipped with this package: ``include_paths()``) into ``lib<name>.so`` with
the system's C++ compiler (``$CXX``, else ``c++``, ``g++`` or ``clang++``),
loads it and registers its ops (``ember.ops.<namespace>.<op>``). The build
folder is ``build_directory`` or ``<cache>/extensions/<name>-<hash>``
(``<cache>``: ``EMBER_CACHE_DIR``, else ``$XDG_CACHE_HOME/ember`` or
``~/.cache/ember``), keyed by a hash of the sources, the flags, the compiler
and the header: an unchanged extension is not compiled again. A failed
compile raises RuntimeError with the compiler's output.
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

import ember
from ember import _ember

_HEADER = os.path.join("ember", "Runtime", "CustomOp.h")


def include_paths(cuda=False):
    """The folders holding Ember's custom op header (torch's function)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [
        os.path.join(package, "include"),  # an installed package (scripts/build)
        # Bazel's runfiles and the source tree: python/ember -> runtime/include
        os.path.join(os.path.dirname(os.path.dirname(package)), "runtime", "include"),
    ]
    for folder in candidates:
        if os.path.isfile(os.path.join(folder, _HEADER)):
            return [folder]
    raise RuntimeError("ember's custom op header (ember/Runtime/CustomOp.h) is "
                       "not installed next to the package; looked in " +
                       ", ".join(candidates))


def _compiler():
    for candidate in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    raise RuntimeError("no C++ compiler found (set CXX, or install g++ or clang++)")


def _cache_root():
    root = os.environ.get("EMBER_CACHE_DIR")
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "ember")
    return os.path.join(root, "extensions")


class ExtensionLibrary:
    """What ``load`` returns: the library's path and its ops as attributes
    (``lib.swish`` is ``ember.ops.<namespace>.swish``)."""

    def __init__(self, name, path, op_names):
        self.name = name
        self.path = path
        self.op_names = list(op_names)

    def __getattr__(self, attr):
        for full in self.op_names:
            if full.split("::")[1] == attr:
                return ember.ops.CustomOp(full)
        raise AttributeError(f"extension '{self.name}' has no op '{attr}' "
                             f"(it registered {', '.join(self.op_names)})")

    def __repr__(self):
        return f"<ember extension {self.name} ({', '.join(self.op_names)}) at {self.path}>"


def _build_command(compiler, sources, includes, cflags, ldflags, output):
    return ([compiler, "-shared", "-fPIC", "-O2", "-std=c++17",
             "-fvisibility=hidden"] +
            [f"-I{p}" for p in includes] + list(cflags) + list(sources) +
            ["-o", output] + list(ldflags))


def load(name, sources, extra_cflags=None, extra_ldflags=None,
         extra_include_paths=None, build_directory=None, verbose=False,
         with_cuda=None, is_python_module=True, is_standalone=False,
         keep_intermediates=True):
    """Compiles (unless unchanged) and loads the custom op library ``name``
    built from ``sources``; returns an ``ExtensionLibrary``."""
    if with_cuda:
        raise RuntimeError("cpp_extension.load: CUDA sources are not supported "
                           "yet (the CUDA kernel hook is recorded, not dispatched)")
    if not name.isidentifier():
        raise ValueError(f"cpp_extension.load: name must be an identifier, got {name!r}")
    if isinstance(sources, str):
        sources = [sources]
    sources = [os.path.abspath(s) for s in sources]
    cflags = list(extra_cflags or [])
    ldflags = list(extra_ldflags or [])
    includes = [os.path.abspath(p) for p in (extra_include_paths or [])] + \
        include_paths()
    compiler = _compiler()

    digest = hashlib.sha256()
    for part in [name, compiler] + cflags + ["--"] + ldflags + ["--"] + includes:
        digest.update(part.encode() + b"\0")
    for source in sources + [os.path.join(includes[-1], _HEADER)]:
        with open(source, "rb") as f:
            digest.update(source.encode() + b"\0" + f.read() + b"\0")
    key = digest.hexdigest()[:16]
    folder = build_directory or os.path.join(_cache_root(), f"{name}-{key}")
    os.makedirs(folder, exist_ok=True)
    library = os.path.join(folder, f"lib{name}.so")
    stamp = library + ".key"

    current = None
    if os.path.exists(stamp) and os.path.exists(library):
        with open(stamp) as f:
            current = f.read().strip()
    if current != key:
        fd, temporary = tempfile.mkstemp(prefix=f".lib{name}.", suffix=".so", dir=folder)
        os.close(fd)
        command = _build_command(compiler, sources, includes, cflags, ldflags, temporary)
        if verbose:
            print("ember.utils.cpp_extension: " + " ".join(command))
        result = subprocess.run(command, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        if result.returncode != 0:
            os.unlink(temporary)
            raise RuntimeError(f"Error building extension '{name}':\n"
                               f"{' '.join(command)}\n{result.stdout}")
        if verbose and result.stdout:
            print(result.stdout)
        os.replace(temporary, library)
        with open(stamp, "w") as f:
            f.write(key + "\n")
        _load.built += 1
    elif verbose:
        print(f"ember.utils.cpp_extension: {library} is up to date")
    op_names = _ember._load_custom_op_library(library)
    return ExtensionLibrary(name, library, op_names)


class _Counter:
    built = 0


# How many libraries this process compiled (tests assert a cached rebuild).
_load = _Counter()
