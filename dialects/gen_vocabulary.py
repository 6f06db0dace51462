#!/usr/bin/env python3
"""Generates the frontend's op table from the ember dialect's ODS records.

Reads the JSON that `llvm-tblgen --dump-json EmberOps.td` prints and writes
an X-macro file with one line per ember op, so that ODS is the single source
of op identity: the frontend's OpCode enum, its name table, the emission of
element-wise ops and the Python bindings of unary and binary ops all expand
these macros.

  EMBER_UNARY_OP(Name, "mnemonic", Types, "torch names")
  EMBER_BINARY_OP(Name, "mnemonic", Types, "torch names")
  EMBER_OTHER_OP(Name, "mnemonic")

`Types` is the operand constraint: Float, Numeric, IntegerOrBool or Any.
"torch names" is a space-separated list (the op's `torchNames` field).
Each macro defaults to EMBER_OP(Name, "mnemonic").
"""

import json
import sys

TYPES = {
    "Ember_FloatTensor": "Float",
    "Ember_NumericTensor": "Numeric",
    "Ember_IntegerOrBoolTensor": "IntegerOrBool",
    "Ember_Tensor": "Any",
}


def main(json_path, out_path):
    with open(json_path) as f:
        records = json.load(f)
    lines = []
    for name in records["!instanceof"]["Op"]:
        record = records[name]
        if "Ember_Op" not in record["!superclasses"]:
            continue
        cpp = name.removeprefix("Ember_").removesuffix("Op")
        mnemonic = record["opName"]
        superclasses = record["!superclasses"]
        kind = ("UNARY" if "Ember_UnaryOp" in superclasses else
                "BINARY" if "Ember_BinaryOp" in superclasses else "OTHER")
        if kind == "OTHER":
            lines.append(f'EMBER_OTHER_OP({cpp}, "{mnemonic}")')
            continue
        operand = record["arguments"]["args"][0][0]["def"]
        types = TYPES[operand]
        names = " ".join(record["torchNames"])
        lines.append(f'EMBER_{kind}_OP({cpp}, "{mnemonic}", {types}, "{names}")')
    header = [
        "// The ember op vocabulary, generated from EmberOps.td by",
        "// dialects/gen_vocabulary.py. Do not edit.",
        "#ifndef EMBER_OP",
        "#define EMBER_OP(Name, Mnemonic)",
        "#endif",
    ]
    for kind in ("UNARY", "BINARY"):
        header += [f"#ifndef EMBER_{kind}_OP",
                   f"#define EMBER_{kind}_OP(Name, Mnemonic, Types, TorchNames) "
                   "EMBER_OP(Name, Mnemonic)",
                   "#endif"]
    header += ["#ifndef EMBER_OTHER_OP",
               "#define EMBER_OTHER_OP(Name, Mnemonic) EMBER_OP(Name, Mnemonic)",
               "#endif"]
    footer = ["#undef EMBER_OP", "#undef EMBER_UNARY_OP", "#undef EMBER_BINARY_OP",
              "#undef EMBER_OTHER_OP"]
    with open(out_path, "w") as f:
        f.write("\n".join(header + lines + footer) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
