"""Collectives as graph ops: ember.all_reduce inside a compiled training step.

Each test runs this file as a worker under `mpirun -n 2` (real processes on
this machine, the "mpi" engine): a step -- forward, backward, the gradient
all-reduce, the SGD update -- must run as ONE compiled program per rank
(compile_stats()['graphs_run'] goes up by one) and give the parameters
that averaging every rank's gradient with NumPy gives. Also: the all-reduce's
own VJP, every traceable dtype, and the NCCL engine's skip reason.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ember

MPIRUN = shutil.which("mpirun")


def run_ranks(case, ranks=2):
    if MPIRUN is None:
        pytest.skip("mpirun not found (apt install openmpi-bin)")
    env = dict(os.environ)
    package = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    env["PYTHONPATH"] = package + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMPI_MCA_btl="self,vader,tcp", OMPI_MCA_btl_tcp_if_include="lo",
               OMPI_MCA_oob_tcp_if_include="lo", OMPI_MCA_rmaps_base_oversubscribe="1",
               OMP_NUM_THREADS="1", EMBER_NUM_THREADS="1")
    result = subprocess.run(
        [MPIRUN, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe",
         sys.executable, os.path.abspath(__file__), case],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(f"{case} ok") == ranks, result.stdout + result.stderr


def test_ddp_step_is_one_program():
    run_ranks("step")


def test_all_reduce_vjp_and_dtypes():
    run_ranks("vjp_dtypes")


def test_nccl_skips_with_reason():
    reason = ember._ember._nccl_unavailable_reason()
    if reason:
        assert "nccl is not available" in reason
        assert "libnccl.so.2" in reason or "GPU" in reason or "CUDA" in reason
        pytest.skip(reason)


#===- The workers (one per rank, under mpirun) ------------------------===#

def _ember_pending(t):
    return ember._ember._is_pending(t)


def rank_data(rank, shape, seed):
    return np.random.default_rng(seed + 97 * rank).standard_normal(shape).astype(np.float32)


def worker_step(group, rank, size):
    from ember.distributed import _graph
    w0 = rank_data(0, (5, 3), 1)          # the same start on every rank
    w = ember.tensor(w0, requires_grad=True)
    lr = 0.1
    expected = w0.astype(np.float64)
    for step in range(3):
        x = rank_data(rank, (4, 5), 10 + step)
        before = ember.compile_stats()
        loss = ((ember.tensor(x) @ w) ** 2).sum()
        loss.backward()
        assert _graph.can_trace(w.grad)
        # The Python API's all_reduce traces the op (async_op too).
        import ember.distributed as dist
        work = dist.all_reduce(w.grad, dist.ReduceOp.AVG, async_op=True)
        assert _ember_pending(w.grad)
        work.wait()
        with ember.no_grad():
            w -= lr * w.grad
        w.grad = None
        value = w.numpy().copy()
        after = ember.compile_stats()
        # Forward, backward, all_reduce and update: one program.
        assert after["graphs_run"] - before["graphs_run"] == 1, (before, after)
        if step > 0:
            assert after["compiles"] == before["compiles"], (before, after)
        # NumPy: the average over ranks of d/dw sum((x w)^2) = 2 x^T x w.
        grads = [2 * rank_data(r, (4, 5), 10 + step).astype(np.float64).T
                 @ (rank_data(r, (4, 5), 10 + step).astype(np.float64) @ expected)
                 for r in range(size)]
        expected = expected - lr * np.mean(grads, axis=0)
        np.testing.assert_allclose(value, expected, rtol=1e-4, atol=1e-4)


def worker_vjp_dtypes(group, rank, size):
    # y = all_reduce_sum(x_r * w) on every rank, loss_r = sum(y): the
    # gradient of w on rank r is sum over ranks of the cotangents (size) * x_r.
    x = rank_data(rank, (6,), 3)
    w = ember.ones(6, requires_grad=True)
    y = ember._ember._all_reduce(ember.tensor(x) * w, 0, group)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), size * x, rtol=1e-5)
    total = sum(rank_data(r, (6,), 3) for r in range(size))
    np.testing.assert_allclose(y.detach().numpy(), total, rtol=1e-5, atol=1e-6)

    # Every traceable dtype and reduce op, on pending values: one program
    # per dtype (ember.sync computes every pending value together).
    from ember.distributed import _graph
    inputs = [np.arange(1, 8) + r for r in range(size)]
    for dtype in (ember.float32, ember.float64, ember.float16, ember.bfloat16,
                  ember.int32, ember.int64):
        reduced = {}
        for name, reduce in (("SUM", np.sum), ("MIN", np.min), ("MAX", np.max),
                             ("PRODUCT", np.prod), ("AVG", np.mean)):
            if name == "AVG" and not dtype.is_floating_point:
                continue
            t = ember.tensor(inputs[rank]).to(dtype) * 1   # pending
            assert _graph.try_all_reduce(t, name, group)
            reduced[name] = (t, reduce(inputs, axis=0))
        before = ember.compile_stats()["graphs_run"]
        ember.sync()
        assert ember.compile_stats()["graphs_run"] - before == 1
        for name, (t, want) in reduced.items():
            np.testing.assert_allclose(t.to(ember.float64).numpy(), want,
                                       rtol=1e-2, err_msg=f"{dtype} {name}")

    # Two collectives in one program run in the traced order on every rank.
    a = ember.tensor(rank_data(rank, (3,), 5)) + 0
    b = ember.tensor(rank_data(rank, (3,), 6)) + 0
    _graph.all_reduce(a, "MAX", group)
    _graph.all_reduce(b, "SUM", group)
    c = (a * b).numpy()
    want = (np.max([rank_data(r, (3,), 5) for r in range(size)], axis=0)
            * np.sum([rank_data(r, (3,), 6) for r in range(size)], axis=0))
    np.testing.assert_allclose(c, want, rtol=1e-5)

    # A group that does not exist is an error raised after the program.
    bad = ember.ones(2) * 2
    _graph.all_reduce(bad, "SUM", 12345)
    with pytest.raises(RuntimeError, match="process group 12345 does not exist"):
        bad.numpy()


if __name__ == "__main__":
    import ember.distributed as dist
    case = sys.argv[1]
    dist.init_process_group("mpi")           # rank and size from mpirun
    rank, size = dist.get_rank(), dist.get_world_size()
    group = dist._api._resolve(None)._pg.group_id
    {"step": worker_step, "vjp_dtypes": worker_vjp_dtypes}[case](group, rank, size)
    dist.destroy_process_group()
    print(f"{case} ok", flush=True)
