"""Differential fuzzing against PyTorch 1.13: a fixed range of seeded random
programs (difffuzz.py: element-wise ops with broadcasting and number
operands, reductions, matmul, views, basic/advanced/boolean indexing and
assignment, in-place ops through views, casts, joins; bool, int32, int64,
float32 and float64; empty and 0-d tensors) must give the same values,
dtypes and shapes on Ember as on torch, and raise where torch raises. Steps
where Ember raises and torch does not fail unless difffuzz_known.py lists
them; each listed entry must still raise (and torch still compute it).
scripts/difffuzz runs longer ranges."""

import re
import warnings

import pytest
import torch

import difffuzz
import difffuzz_known
import ember

# 24 chunks of 100 programs (~7 steps each): ~17000 compared steps in about
# 90 s of one core (measured; 2400 programs).
CHUNKS = 24
PER_CHUNK = 100


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_programs_agree_with_torch(chunk):
    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warnings
        for seed in range(chunk * PER_CHUNK, (chunk + 1) * PER_CHUNK):
            program = difffuzz.generate(seed, torch)
            found = [f for f in difffuzz.compare(program, ember, torch,
                                                 difffuzz_known.KNOWN)
                     if f[0] != "known"]
            if found:
                small = difffuzz.shrink(program, ember, torch, difffuzz_known.KNOWN)
                failures.append(f"seed {seed}: {found[0][0]}: {found[0][1]}\n"
                                + difffuzz.as_python(small))
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("entry", difffuzz_known.KNOWN, ids=lambda e: e["name"])
def test_known_entries_still_raise(entry):
    """Each listed difference is still there: the listed side raises and the
    other computes (one that went away must leave the list)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = difffuzz.run(entry["repro"], torch)
    e = difffuzz.run(entry["repro"], ember)
    if entry.get("side", "ember") == "torch":
        e, t = t, e
    assert not t.errors, f"the other side refuses the repro now: {t.errors}"
    assert e.errors, (f"'{entry['name']}' no longer differs: remove it from "
                      "difffuzz_known.KNOWN")
    step, (kind, message) = next(iter(e.errors.items()))
    assert re.search(entry["message"], message), message
    assert re.search(entry.get("statement", ""), entry["repro"][step])
    assert entry["reason"]


def test_the_generator_is_deterministic_and_varied():
    programs = [difffuzz.generate(seed, torch) for seed in range(40)]
    assert programs[:5] == [difffuzz.generate(seed, torch) for seed in range(5)]
    text = "\n".join("\n".join(p) for p in programs)
    for piece in ("M.tensor(", "M.zeros((", "] = ", "_(", ".to(M.", "@", "M.where("):
        assert piece in text, piece


def test_a_wrong_result_is_reported():
    """The comparison itself finds a difference (here, a stand-in module whose
    add is off by one)."""
    class OffByOne:
        def __getattr__(self, name):
            return getattr(ember, name)

        @staticmethod
        def add(a, b):
            return ember.add(a, b) + 1
    program = ["v0 = M.tensor([1.0, 2.0])", "v1 = M.add(v0, 1)"]
    found = difffuzz.compare(program, OffByOne(), torch)
    assert [kind for kind, _ in found] == ["mismatch"]
    found = difffuzz.compare(["v0 = M.tensor([1, 2]) - M.tensor([True, False])"],
                             torch, torch)
    assert found == []


@pytest.mark.parametrize("entry", difffuzz_known.ACCURACY, ids=lambda e: e["name"])
def test_accuracy_entries_still_differ(entry):
    e = difffuzz.run(entry["repro"], ember)
    t = difffuzz.run(entry["repro"], torch)
    assert not e.errors and not t.errors
    name = sorted(t.values)[-1]
    got, want = e.values[name][2], t.values[name][2]
    assert abs(float(got) - float(want)) > 1e-3, (
        f"Ember matches torch on '{entry['name']}' now: remove it from "
        "difffuzz_known.ACCURACY and the generator's detour")
    assert entry["reason"]
