"""docs/ops.md is generated from the op vocabulary and the decomposition
table; it must match what scripts/gen-op-docs writes for this build."""

import os
import runpy


def _find(relative):
    # Under Bazel the files are runfiles of the workspace; from a checkout,
    # they sit two folders up.
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", relative),
                          os.path.join(base, "__main__", relative),
                          os.path.join(base, "..", "..", relative)):
            if os.path.exists(candidate):
                return candidate
    raise FileNotFoundError(relative)


def test_ops_doc_is_generated_from_the_vocabulary():
    generator = runpy.run_path(_find("scripts/gen-op-docs"))
    with open(_find("docs/ops.md")) as f:
        assert f.read() == generator["render"](), \
            "docs/ops.md is out of date: run scripts/gen-op-docs"


def test_every_vocabulary_op_is_bound():
    import ember
    for mnemonic, kind, types, names in ember._ember._vocabulary():
        for name in names.split():
            assert callable(getattr(ember, name)), name
            assert callable(getattr(ember.Tensor, name)), name
            assert callable(getattr(ember.Tensor, name + "_")), name
