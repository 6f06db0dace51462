"""DistributedDataParallel over real processes on 127.0.0.1 (Gloo; one
case under mpirun when Ember has the MPI engine): training an MLP and a
small CNN over 2 ranks equals one process training on the concatenated
batches; no_sync; find_unused_parameters; rank-0 checkpointing loaded on
every rank; a killed rank makes the other fail within the timeout; the
launcher. The ranks run ddp_worker.py; this file compares what they save."""

import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

dist = pytest.importorskip("ember.distributed")

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "ddp_worker.py")
WORLD = 2


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra):
    env = dict(os.environ)
    # The ranks import the same ember as this process.
    import ember
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_root, env.get("PYTHONPATH", "")])
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _spawn(out, backend, scenarios, timeout=90, **env):
    """WORLD ranks by hand (env:// rendezvous); returns their exit codes."""
    port = _free_port()
    procs = [subprocess.Popen(
        [sys.executable, WORKER, str(out), backend, *scenarios],
        env=_env(RANK=r, WORLD_SIZE=WORLD, LOCAL_RANK=r, MASTER_ADDR="127.0.0.1",
                 MASTER_PORT=port, **env))
        for r in range(WORLD)]
    try:
        return [p.wait(timeout=timeout) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def _compare(out, name, prefixes=("ref",), rtol=2e-5, atol=2e-6):
    """Every rank's DDP values equal rank 0's and the single process's."""
    results = [np.load(os.path.join(out, f"{name}.rank{r}.npz")) for r in range(WORLD)]
    keys = [k[len("ddp."):] for k in results[0].files if k.startswith("ddp.")]
    assert keys
    for r, result in enumerate(results):
        for k in keys:
            for prefix in prefixes:
                np.testing.assert_allclose(result["ddp." + k], result[prefix + "." + k],
                                           rtol=rtol, atol=atol,
                                           err_msg=f"rank {r} {name} {k} vs {prefix}")
            np.testing.assert_array_equal(result["ddp." + k], results[0]["ddp." + k],
                                          err_msg=f"rank {r} {name} {k} vs rank 0")


def test_ddp_training_equals_one_process_via_the_launcher(tmp_path):
    """The launcher starts both ranks; MLP (with rank-0 checkpointing), CNN,
    no_sync and find_unused_parameters in one run."""
    command = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(WORLD),
               "--master-port", str(_free_port()),
               WORKER, str(tmp_path), "gloo", "mlp", "cnn", "no_sync", "find_unused"]
    done = subprocess.run(command, env=_env(), timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    _compare(tmp_path, "mlp", prefixes=("ref", "loaded"))
    # A step (one bucket) runs at most the program up to the bucket's
    # all_reduce and the one after it.
    for r in range(WORLD):
        programs = np.load(os.path.join(tmp_path, f"mlp.rank{r}.npz"))["programs"]
        assert 1 <= programs[-1] <= 2, programs
    _compare(tmp_path, "cnn")
    _compare(tmp_path, "no_sync")
    _compare(tmp_path, "find_unused")


def test_a_killed_rank_fails_the_other_within_the_timeout(tmp_path):
    codes = _spawn(tmp_path, "gloo", ["killed"], timeout=60, DDP_TEST_TIMEOUT=5)
    assert codes == [0, 3]
    with open(os.path.join(tmp_path, "killed.rank0.txt")) as f:
        elapsed, message = f.read().split("\n", 1)
    assert message.startswith("RuntimeError") and "rank" in message, message
    # The group's timeout is 5 s; a dead peer is usually seen at once.
    assert float(elapsed) < 5 + 15, elapsed


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not installed")
def test_ddp_under_mpirun(tmp_path):
    if not dist.is_mpi_available():
        pytest.skip("this Ember was built without the MPI engine")
    command = ["mpirun", "-np", str(WORLD), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    command += [sys.executable, WORKER, str(tmp_path), "mpi", "mlp"]
    done = subprocess.run(command, env=_env(), timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    _compare(tmp_path, "mlp", prefixes=("ref", "loaded"))
