#!/usr/bin/python3
"""A tour of Ember's eager Python API, side by side with NumPy.

Ember tensors look like PyTorch tensors. Behind them, operations are traced
into a graph, compiled by MLIR for this CPU the first time a graph is seen,
and taken from the compile cache after that.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/eager_tour.py
Set EMBER_DEBUG=1 (or EMBER_LOG_COMPILES=1) to see one line per compile on stderr.
"""
import sys

import numpy as np

import ember

all_match = True


def show(title, ember_value, numpy_value):
    """Prints an Ember result, the NumPy result, and whether they match."""
    global all_match
    got = ember_value.numpy() if isinstance(ember_value, ember.Tensor) else np.asarray(ember_value)
    want = np.asarray(numpy_value)
    match = got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-6)
    all_match = all_match and match
    print(f"-- {title}")
    print("   ember:", str(ember_value).replace("\n", "\n          "))
    print("   numpy:", str(numpy_value).replace("\n", "\n          "))
    print("   match:", "yes" if match else "NO")


print("== Creating tensors ==")
x = ember.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
xn = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
print(f"x = {x!r}")
print(f"x.shape = {tuple(x.shape)}, x.dtype = {x.dtype}, x.device = {x.device}")
i = ember.arange(6).reshape(2, 3)
print(f"ember.arange(6).reshape(2, 3) = {i!r}  (dtype {i.dtype})")
rng = np.random.default_rng(0)
yn = rng.standard_normal((2, 3)).astype(np.float32)
y = ember.from_numpy(yn)  # shares memory with yn
print(f"y = ember.from_numpy(...) = {y!r}")

print()
print("== Element-wise ops ==")
show("x * y + 1", x * y + 1, xn * yn + 1)
show("(x - 3).relu()", (x - 3).relu(), np.maximum(xn - 3, 0))
show("x.exp() / x.exp().sum()", x.exp() / x.exp().sum(), np.exp(xn) / np.exp(xn).sum())

print()
print("== Broadcasting ==")
row = ember.tensor([10.0, 20.0, 30.0])
col = ember.tensor([[1.0], [-1.0]])
rown, coln = np.array([10, 20, 30], np.float32), np.array([[1], [-1]], np.float32)
show("x + row        ([2, 3] + [3])", x + row, xn + rown)
show("col * row      ([2, 1] * [3])", col * row, coln * rown)

print()
print("== Reductions ==")
show("x.sum()", x.sum(), xn.sum())
show("x.mean(dim=0)", x.mean(dim=0), xn.mean(axis=0))
show("x.max(dim=1).values", x.max(dim=1).values, xn.max(axis=1))
show("x.argmax(dim=1)", x.argmax(dim=1), xn.argmax(axis=1))
show("x.softmax(dim=-1)", x.softmax(dim=-1),
     np.exp(xn) / np.exp(xn).sum(axis=-1, keepdims=True))

print()
print("== Matmul ==")
show("x @ x.T", x @ x.T, xn @ xn.T)
show("x @ y.T", x @ y.T, xn @ yn.T)

print()
print("== Indexing ==")
show("x[1]", x[1], xn[1])
show("x[:, 1:]", x[:, 1:], xn[:, 1:])
show("x[x > 2]  (boolean mask)", x[x > 2], xn[xn > 2])
show("x[ember.tensor([1, 0])]  (index tensor)", x[ember.tensor([1, 0])], xn[np.array([1, 0])])

print()
print("== In-place through a view ==")
base = ember.zeros(3, 4)
basen = np.zeros((3, 4), np.float32)
middle = base[1]            # a view: shares storage with `base`
middlen = basen[1]
middle += 5                 # writes into base's second row
middlen += 5
base[:, 0] = 7              # writes into column 0, visible through `middle`
basen[:, 0] = 7
show("base after `middle += 5; base[:, 0] = 7`", base, basen)
show("middle (the view sees base's write)", middle, middlen)


print()
print("== The compile cache ==")


def mlp(inp, w1, w2):
    """A small MLP block: one graph of matmul, relu, matmul, softmax."""
    return ((inp @ w1).relu() @ w2).softmax(dim=-1)


def mlp_numpy(inp, w1, w2):
    logits = np.maximum(inp @ w1, 0) @ w2
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


w1n = rng.standard_normal((16, 24)).astype(np.float32) / 4
w2n = rng.standard_normal((24, 8)).astype(np.float32) / 4
w1, w2 = ember.from_numpy(w1n), ember.from_numpy(w2n)


def run_mlp(label, batch):
    inpn = rng.standard_normal((batch, 16)).astype(np.float32)
    before = ember.compile_stats()
    out = mlp(ember.from_numpy(inpn), w1, w2)
    result = out.numpy()  # materializes: traces, compiles if new, runs
    after = ember.compile_stats()
    compiles = after["compiles"] - before["compiles"]
    hits = after["cache_hits"] - before["cache_hits"]
    ms = after["compile_ms"] - before["compile_ms"]
    match = np.allclose(result, mlp_numpy(inpn, w1n, w2n), rtol=1e-5, atol=1e-6)
    global all_match
    all_match = all_match and match
    print(f"-- {label:34s} batch {batch:4d}: {compiles} compile(s) ({ms:.1f} ms), "
          f"{hits} cache hit(s), matches numpy: {'yes' if match else 'NO'}")
    return compiles


# Ember's cache key records which dims are 1, not the sizes themselves: any
# batch size other than 1 runs the code compiled for the first one.
first = run_mlp("mlp(), first call", 64)
second = run_mlp("mlp(), same call again", 64)
bigger = run_mlp("mlp(), a new batch size", 1000)
print(f"   second run compiled nothing: {'yes' if second == 0 else 'NO'}; "
      f"new batch size compiled nothing: {'yes' if bigger == 0 else 'NO'}")

print()
print("== Stats ==")
print("ember.compile_stats():", ember.compile_stats())
print("ember.memory_stats(): ", ember.memory_stats())
print()
if not all_match:
    sys.exit("SOME RESULTS DID NOT MATCH numpy")
print("every result matched numpy")
