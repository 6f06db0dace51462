"""Where Ember and PyTorch 1.13 knowingly differ, each with the reason.

KNOWN: steps where one side raises and the other computes; Ember raises
unless the entry says "side": "torch". The fuzzer (difffuzz.py) counts a step
whose error matches an entry's `message` (a regex; `statement`, a regex on
the step, narrows it) as known instead of failing, and compares no values of
that program. ACCURACY: results that differ for reasons of precision, which
the generator steers around. test_differential_fuzz.py runs every `repro` and
fails when a difference has gone (the list must stay true).
"""

KNOWN = [
    {
        "name": "index_put on an expanded tensor",
        "message": r"more than one element of the written-to tensor refers to a "
                   r"single memory location",
        "statement": r"^v\d+\[.+\] = ",
        "reason": "torch 1.13 writes through advanced indices into a broadcast "
                  "view with a deprecation warning (the result depends on its "
                  "write order); Ember refuses, as torch does for every other "
                  "write into overlapping memory.",
        "repro": ["v0 = M.zeros(1).expand(3)",
                  "v0[M.tensor([1])] = M.tensor([5.0])"],
    },
    # Where torch raises and Ember computes ("side": "torch"): layouts.
    {
        "name": "view of a computed result of a permuted input",
        "side": "torch",
        "message": r"view size is not compatible with input tensor's size and stride",
        "statement": r"\.view\(",
        "reason": "torch's element-wise results keep a permuted input's strides, so "
                  ".view() of them can fail; Ember's results are always "
                  "contiguous, and the view succeeds (with the same values).",
        "repro": ["v0 = M.zeros(2, 3).t()", "v1 = M.add(v0, 1)", "v2 = v1.view(-1)"],
    },
    {
        "name": "write into a flattened expanded tensor",
        "side": "torch",
        "message": r"more than one element of the written-to tensor refers to a "
                   r"single memory location",
        "statement": r"",
        "reason": "torch views a flatten/reshape of a broadcast (all stride-0) "
                  "tensor, so a copy into it overlaps; Ember's reshape of it "
                  "copies, and the write goes to that copy.",
        "repro": ["v0 = M.zeros(1).expand(2, 3)", "v1 = v0.flatten()",
                  "v1[:] = M.tensor([1.0])"],
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
