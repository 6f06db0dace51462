"""ember_custom_op_library: a C++ custom op library for Ember, built by Bazel.

    load("//runtime:custom_op.bzl", "ember_custom_op_library")
    ember_custom_op_library(name = "swish_ops", srcs = ["swish_op.cpp"])

builds `libswish_ops.so` from sources that define their ops with
EMBER_CUSTOM_OP_LIBRARY (ember/Runtime/CustomOp.h, the only header they
need). Load it with `ember.ops.load_library(path)` in Python, or name its
folder to the C++ runtime (`LoadOptions::customOpPaths`, `ember-run
--custom-op-path`) for models that call its ops (docs/custom-ops.md).
"""

def ember_custom_op_library(name, srcs, deps = [], copts = [], **kwargs):
    native.cc_binary(
        name = "lib" + name + ".so",
        srcs = srcs,
        deps = deps + [Label("//runtime:custom_op_abi")],
        copts = copts + ["-fvisibility=hidden"],
        linkshared = True,
        **kwargs
    )
    native.filegroup(name = name, srcs = [":lib" + name + ".so"])
