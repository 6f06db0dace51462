"""The API surface PyTorch programs use without thinking (issue: the tensor
library's breadth): legacy constructors, Tensor.data/.type()/__format__,
Variable, inference_mode, Generator, random samplers, save/load of NumPy
arrays, keyword arguments and out=."""

import io

import numpy as np
import pytest
import torch

import ember


def test_legacy_constructors_like_torch():
    assert ember.LongTensor([1, 2]).dtype == ember.int64
    assert ember.FloatTensor(2, 3).shape == (2, 3)
    assert ember.Tensor([0]).tolist() == [0.0]
    assert ember.Tensor([0]).dtype == ember.float32
    assert ember.Tensor(2, 3).shape == (2, 3)
    assert ember.Tensor().shape == (0,)
    assert isinstance(ember.tensor([1.0]), ember.FloatTensor)
    assert not isinstance(ember.tensor([1]), ember.FloatTensor)


def test_data_type_and_format():
    x = ember.tensor([1.5, -2.0], requires_grad=True)
    assert not x.data.requires_grad
    x.data.mul_(2)
    assert x.tolist() == [3.0, -4.0]
    assert x.type() == torch.tensor([1.5]).type()
    assert x.type(ember.int64).dtype == ember.int64
    assert x.type("torch.LongTensor").dtype == ember.int64
    assert "{:+.2f}".format(x.sum()) == "{:+.2f}".format(torch.tensor(-1.0))
    with pytest.raises(TypeError):
        "{:.2f}".format(x)


def test_variable_and_inference_mode():
    x = ember.autograd.Variable(ember.ones(2), requires_grad=True)
    assert x.requires_grad
    with ember.inference_mode():
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @ember.inference_mode()
    def f(t):
        return t * 3
    assert not f(x).requires_grad


def test_generator_streams_are_reproducible_and_independent():
    a = ember.rand(5, generator=ember.Generator().manual_seed(7)).tolist()
    ember.manual_seed(1)
    b = ember.rand(5, generator=ember.Generator().manual_seed(7)).tolist()
    assert a == b
    ember.manual_seed(3)
    first = ember.randperm(10).tolist()
    ember.manual_seed(3)
    assert ember.randperm(10).tolist() == first
    assert sorted(first) == list(range(10))


def test_samplers_have_the_right_statistics():
    ember.manual_seed(0)
    x = ember.empty(20000)
    assert abs(float(x.uniform_(2, 4).mean()) - 3) < 0.05
    assert abs(float(x.normal_(1, 2).std()) - 2) < 0.05
    assert abs(float(x.exponential_(2.0).mean()) - 0.5) < 0.02
    probs = ember.tensor([0.1, 0.0, 0.9])
    draws = ember.multinomial(probs, 1000, replacement=True)
    counts = np.bincount(draws.numpy(), minlength=3)
    assert counts[1] == 0 and counts[2] > 800
    picks = ember.multinomial(ember.tensor([1.0, 1.0, 1.0, 1.0]), 4)
    assert sorted(picks.tolist()) == [0, 1, 2, 3]
    assert set(ember.bernoulli(ember.full([100], 0.5)).unique().tolist()) <= {0.0, 1.0}


def test_keywords_and_out():
    a, b = ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0])
    assert ember.mul(input=a, other=b).tolist() == [3.0, 8.0]
    out = ember.empty(2)
    assert ember.mul(a, b, out=out) is out
    assert out.tolist() == [3.0, 8.0]
    assert ember.add(a, b, alpha=2).tolist() == [7.0, 10.0]
    assert ember.div(ember.tensor([7, -7]), 2, rounding_mode="floor").tolist() == [3, -4]
    assert ember.round(ember.tensor([1.2345]), decimals=2).tolist() == pytest.approx([1.23])
    with pytest.raises(RuntimeError, match="shape"):
        ember.mul(a, b, out=ember.empty(3))


def test_cuda_seeding_is_accepted_without_a_gpu():
    ember.cuda.manual_seed_all(0)
    ember.cuda.manual_seed(0)


def test_save_and_load_numpy_arrays_and_containers():
    buffer = io.BytesIO()
    value = {"array": np.arange(6, dtype=np.float64).reshape(2, 3), "step": 3,
             "names": ["a", "b"], "pair": (1.5, np.int64(4))}
    ember.save(value, buffer)
    buffer.seek(0)
    loaded = ember.load(buffer)
    assert isinstance(loaded["array"], np.ndarray)
    np.testing.assert_array_equal(loaded["array"], value["array"])
    assert loaded["array"].dtype == np.float64
    assert loaded["step"] == 3 and loaded["names"] == ["a", "b"]
    assert loaded["pair"] == (1.5, 4)


def test_split_chunk_and_friends_match_torch():
    t = torch.arange(10.0).reshape(2, 5)
    x = ember.tensor(t.numpy())
    for got, want in zip(x.split(2, 1), t.split(2, 1)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    for got, want in zip(x.chunk(3, 1), t.chunk(3, 1)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(x.narrow(1, 1, 3).numpy(), t.narrow(1, 1, 3).numpy())
    np.testing.assert_array_equal(ember.tril(x).numpy(), torch.tril(t).numpy())
    mask = x > 4
    np.testing.assert_array_equal(x.masked_fill(mask, -1.0).numpy(),
                                  t.masked_fill(t > 4, -1.0).numpy())
    values, indices = x.topk(2)
    want = t.topk(2)
    np.testing.assert_array_equal(values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), want.indices.numpy())
    np.testing.assert_array_equal(ember.eye(3).numpy(), torch.eye(3).numpy())


def test_decompositions_have_gradients():
    t = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    x = ember.tensor(t.detach().numpy(), requires_grad=True)
    (torch.logsumexp(t, 1) * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    (ember.logsumexp(x, 1) * ember.arange(4.0, dtype=ember.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    t.grad = None
    x.grad = None
    torch.sort(t, 1).values[:, 0].sum().backward()
    ember.sort(x, 1).values[:, 0].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_linalg_gradients_match_torch():
    a = np.random.default_rng(0).standard_normal((3, 3)) + 3 * np.eye(3)
    t = torch.tensor(a, requires_grad=True)
    x = ember.tensor(a, requires_grad=True)
    (torch.linalg.inv(t).sum() + torch.linalg.det(t)).backward()
    (ember.linalg.inv(x).sum() + ember.linalg.det(x)).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9)
    with pytest.raises(RuntimeError, match="square"):
        ember.linalg.inv(ember.ones(2, 3))


def test_errors_in_composite_ops_surface_at_the_callers_line():
    from ember_testing import assert_raised_here
    x = ember.ones(3)
    with pytest.raises(RuntimeError, match="at least 2 dimensions") as excinfo:
        ember.tril(x)  # raises
    assert_raised_here(excinfo)
    with pytest.raises(RuntimeError, match="exceeds dimension size") as excinfo:
        x.narrow(0, 2, 5)  # raises
    assert_raised_here(excinfo)
    with pytest.raises(RuntimeError, match="must match") as excinfo:
        ember.lerp(ember.ones(2), ember.ones(3), 0.5)  # raises
    assert_raised_here(excinfo)


def test_default_dtype_follows_set_default_dtype():
    assert ember.get_default_dtype() == ember.float32
    try:
        ember.set_default_dtype(ember.float64)
        assert ember.get_default_dtype() == ember.float64
        assert ember.tensor([1.5]).dtype == ember.float64
        assert ember.zeros(2).dtype == ember.float64
        assert ember.tensor([1, 2]).exp().dtype == ember.float64
        assert (ember.tensor([1, 2]) / 2).dtype == ember.float64
        assert ember.Tensor([0]).dtype == ember.float64
        assert ember.eye(2).dtype == ember.float64
        with pytest.raises(TypeError, match="floating-point"):
            ember.set_default_dtype(ember.int64)
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1.5]).dtype == ember.float32


def test_tutorial_program_runs_with_only_the_import_changed():
    """examples/tensor_breadth.py: tutorial PyTorch code under `import ember as torch`."""
    import os
    import runpy
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", "examples", "tensor_breadth.py"),
                          os.path.join(base, "__main__", "examples", "tensor_breadth.py"),
                          os.path.join(base, "..", "..", "examples", "tensor_breadth.py")):
            if os.path.exists(candidate):
                result = runpy.run_path(candidate, run_name="__main__")
                assert result["final_loss"] < 50
                return
    raise FileNotFoundError("examples/tensor_breadth.py")


# Bad input to the composite ops: each raises like torch, at the caller's line.
BAD_INPUTS = [
  ("tril 1-d", lambda: ember.tril(ember.ones(3))),
  ("split sizes", lambda: ember.ones(5).split([2, 2])),
  ("narrow", lambda: ember.ones(5).narrow(0, 4, 3)),
  ("gather rank", lambda: ember.gather(ember.ones(2, 3), 1, ember.tensor([0]))),
  ("gather oob", lambda: ember.gather(ember.ones(2, 3), 1, ember.tensor([[5], [0]]))),
  ("scatter_add oob", lambda: ember.scatter_add(ember.ones(2, 3), 1, ember.tensor([[5], [0]]), ember.ones(2, 1))),
  ("index_add shape", lambda: ember.index_add(ember.ones(3, 2), 0, ember.tensor([0, 1]), ember.ones(3, 2))),
  ("masked_fill dtype", lambda: ember.ones(3).masked_fill(ember.ones(3), 0.0)),
  ("masked_fill broadcast", lambda: ember.ones(3).masked_fill(ember.ones(4) > 0, 0.0)),
  ("cross size", lambda: ember.cross(ember.ones(4), ember.ones(4))),
  ("einsum operands", lambda: ember.einsum("ij,jk->ik", ember.ones(2, 3))),
  ("einsum dims", lambda: ember.einsum("ij->i", ember.ones(2, 3, 4))),
  ("einsum mismatch", lambda: ember.einsum("ij,jk->ik", ember.ones(2, 3), ember.ones(4, 5))),
  ("topk k", lambda: ember.topk(ember.ones(3), 5)),
  ("kthvalue k", lambda: ember.kthvalue(ember.ones(3), 0)),
  ("multinomial negative", lambda: ember.multinomial(ember.tensor([-1.0, 2.0]), 1)),
  ("multinomial too many", lambda: ember.multinomial(ember.tensor([1.0, 2.0]), 3)),
  ("inv square", lambda: ember.linalg.inv(ember.ones(2, 3))),
  ("inv singular", lambda: ember.linalg.inv(ember.zeros(2, 2))),
  ("solve shapes", lambda: ember.linalg.solve(ember.eye(2), ember.ones(3))),
  ("cholesky not pd", lambda: ember.linalg.cholesky(-ember.eye(2))),
  ("lerp shapes", lambda: ember.lerp(ember.ones(2), ember.ones(3), 0.5)),
  ("var dim", lambda: ember.var(ember.ones(2, 3), 4)),
  ("diag 3d", lambda: ember.diag(ember.ones(2, 2, 2))),
  ("repeat dims", lambda: ember.ones(2, 3).repeat(2)),
  ("chunk 0", lambda: ember.ones(4).chunk(0)),
  ("movedim", lambda: ember.ones(2, 3).movedim(0, 5)),
  ("roll dim", lambda: ember.ones(3).roll(1, 2)),
  ("searchsorted dims", lambda: ember.searchsorted(ember.ones(2, 3), ember.ones(4, 1))),
  ("bincount negative", lambda: ember.bincount(ember.tensor([-1, 2]))),
  ("one_hot float", lambda: ember.nn.functional.one_hot(ember.ones(3))),
  ("pad odd", lambda: ember.nn.functional.pad(ember.ones(3), (1,))),
  ("sort dim", lambda: ember.sort(ember.ones(3), 2)),
  ("logsumexp dim", lambda: ember.logsumexp(ember.ones(3), 3)),
  ("atan2 shapes", lambda: ember.atan2(ember.ones(2), ember.ones(3))),
  ("sin string", lambda: ember.sin("x")),
  ("remainder bool", lambda: ember.remainder(ember.ones(2) > 0, ember.ones(2) > 0)),
  ("shift float", lambda: ember.bitwise_left_shift(ember.ones(2), 1)),
]


@pytest.mark.parametrize("name,call", BAD_INPUTS, ids=[name for name, _ in BAD_INPUTS])
def test_bad_input_raises_at_the_callers_line(name, call):
    import os
    with pytest.raises((RuntimeError, IndexError, TypeError, ValueError)) as excinfo:
        call()
    # The traceback ends in the lambda above (this file), not inside ember.
    last = excinfo.traceback[-1]
    assert os.path.realpath(str(last.path)) == os.path.realpath(__file__), \
        f"the traceback ends in {last.path}:{last.lineno + 1}"


def test_out_on_composites_and_tuples():
    values, indices = ember.empty(3), ember.empty(3, dtype=ember.int64)
    result = ember.sort(ember.tensor([3.0, 1.0, 2.0]), out=(values, indices))
    assert result == (values, indices)
    assert values.tolist() == [1.0, 2.0, 3.0] and indices.tolist() == [1, 2, 0]
    out = ember.empty(2, 2)
    assert ember.tril(ember.ones(2, 2), out=out) is out
    assert out.tolist() == [[1.0, 0.0], [1.0, 1.0]]
    assert ember.var(ember.tensor([1.0, 3.0]), out=ember.empty([])).item() == 2.0


def test_dtype_rules_match_torch():
    assert ember.promote_types(ember.int32, ember.float16) == ember.float16
    assert ember.promote_types(ember.float16, ember.bfloat16) == ember.float32
    assert ember.can_cast(ember.float32, ember.int64) is False
    assert ember.can_cast(ember.int64, ember.float32) is True
    assert ember.result_type(ember.tensor([True]), ember.tensor([False])) == ember.bool
    assert ember.result_type(ember.tensor([1]), 2.5) == ember.float32
    assert ember.result_type(ember.tensor([1.0], dtype=ember.float16), 2) == ember.float16


def test_num_threads_like_torch():
    """get_num_threads/set_num_threads: the count the GEMMs use; torch's
    errors for bad counts; results do not depend on the count."""
    before = ember.get_num_threads()
    assert isinstance(before, int) and before >= 1
    rng = np.random.default_rng()
    a = rng.standard_normal((67, 129)).astype(np.float32)
    b = rng.standard_normal((129, 45)).astype(np.float32)
    try:
        results = []
        for threads in (1, 2):
            ember.set_num_threads(threads)
            assert ember.get_num_threads() == threads
            results.append((ember.from_numpy(a) @ ember.from_numpy(b)).numpy())
        np.testing.assert_allclose(results[0], a @ b, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(results[1], a @ b, rtol=1e-4, atol=1e-4)
        for bad in (0, -3, 1.5, True):
            with pytest.raises(RuntimeError) as ours:
                ember.set_num_threads(bad)
            with pytest.raises(RuntimeError) as theirs:
                torch.set_num_threads(bad)
            assert str(ours.value) == str(theirs.value)
        assert ember.get_num_threads() == 2
    finally:
        ember.set_num_threads(before)


@pytest.mark.parametrize("value, expected", [("1", 1), ("3", 3), ("zero", None)])
def test_num_threads_from_the_environment(value, expected):
    import os
    import subprocess
    import sys
    env = dict(os.environ, EMBER_NUM_THREADS=value)
    code = "import ember; print(ember.get_num_threads())"
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    default = subprocess.run([sys.executable, "-c", code],
                             env={k: v for k, v in env.items() if k != "EMBER_NUM_THREADS"},
                             capture_output=True, text=True, check=True)
    if expected is None:
        assert run.stdout == default.stdout
        assert "ignoring EMBER_NUM_THREADS=zero" in run.stderr
    else:
        assert int(run.stdout) == expected
        assert run.stderr == ""
