"""A genrule wrapper that runs Debian's mlir-tblgen (LLVM/MLIR 22) on ODS files."""

def mlir_tablegen(name, td_file, outs, td_srcs = [], includes = []):
    """Runs mlir-tblgen once per (flags, output) pair.

    Args:
      name: prefix for the generated genrule targets; a filegroup `name` holds all outputs.
      td_file: the main .td file.
      outs: list of (flags, output file) pairs, e.g. ("-gen-op-decls", "EmberOps.h.inc").
      td_srcs: other .td files the main one includes.
      includes: extra include directories (relative to the workspace root).
    """
    include_flags = " ".join(["-I " + i for i in includes] + [
        "-I external/llvm/include",
        "-I $$(dirname $(location %s))" % td_file,
    ])
    generated = []
    for flags, out in outs:
        rule = name + "_" + out.replace(".", "_").replace("/", "_")
        native.genrule(
            name = rule,
            srcs = [td_file] + td_srcs + ["@llvm//:td_files"],
            outs = [out],
            tools = ["@llvm//:mlir_tblgen"],
            cmd = "$(location @llvm//:mlir_tblgen) %s %s $(location %s) -o $@" % (
                flags,
                include_flags,
                td_file,
            ),
        )
        generated.append(out)
    native.filegroup(name = name, srcs = generated)
