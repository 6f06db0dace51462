"""Programs where Ember raises and PyTorch 1.13 computes a result (KNOWN), and
results that differ for reasons of accuracy (ACCURACY), each with
the reason. The differential fuzzer (difffuzz.py) counts a step that raises
with a listed `message` (a regex on Ember's message; `statement`, a regex on
the step, narrows it) as known instead of failing; test_differential_fuzz.py
runs each `repro` to check that torch still computes it and Ember still
raises (an entry that starts working must be removed: the list stays true).
"""

KNOWN = [
    {
        "name": "index_put on an expanded tensor",
        "message": r"more than one element of the written-to tensor refers to a "
                   r"single memory location",
        "statement": r"^v\d+\[.*(M\.tensor\(|\[\[?-?\d).*\] = ",
        "reason": "torch 1.13 writes through advanced indices into a broadcast "
                  "view with a deprecation warning (the result depends on its "
                  "write order); Ember refuses, as torch does for every other "
                  "write into overlapping memory.",
        "repro": ["v0 = M.zeros(1).expand(3)",
                  "v0[M.tensor([1])] = M.tensor([5.0])"],
    },
]

# Results that differ beyond the fuzzer's tolerance for a reason of accuracy,
# not of semantics; the generator steers around them (difffuzz.py says where).
ACCURACY = [
    {
        "name": "f32 sin/cos of large arguments",
        "reason": "Ember's vectorized float32 sin/cos (MLIR's polynomial "
                  "approximation) reduce the argument with a float32 multiple "
                  "of pi, so beyond |x| ~ 1e4 the result drifts from libm's "
                  "correctly reduced one (sin(exp(14.0625)): -0.902 vs -0.923).",
        "repro": ["v0 = M.tensor(1277271.75, dtype=M.float32)", "v1 = M.sin(v0)"],
    },
]
