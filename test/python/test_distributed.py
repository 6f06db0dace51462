"""ember.distributed over Gloo: real processes on 127.0.0.1.

Few processes do many checks: the 2-rank job (started by the launcher,
env://) runs every collective in every dtype, async handles, groups, lazy
and in-place semantics and the mismatch error, then re-joins through tcp://
and file://; a 3-rank job (tcp://) runs the collectives again; a 2-rank job
checks that a hung and then a killed peer make the survivor fail in time.
Every rank computes all ranks' inputs from seeds and checks its results
against NumPy. The file is also the workers' program (run as a script).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
DTYPES = ["bool", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    import ember
    env = dict(os.environ)
    package = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    env["PYTHONPATH"] = package + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def _spawn(n, args, env=None):
    return [subprocess.Popen([sys.executable, HERE, "--worker"] + args +
                             ["--rank", str(r), "--world", str(n)],
                             env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for r in range(n)]


def _collect(procs, timeout):
    outputs = []
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            out, _ = p.communicate(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a worker hung; outputs so far:\n" + "\n".join(outputs))
        outputs.append(out)
    return outputs


def _reports(outputs):
    reports = []
    for out in outputs:
        lines = [l for l in out.splitlines() if l.startswith("REPORT ")]
        assert lines, "a worker reported nothing:\n" + out
        reports.append(json.loads(lines[-1][len("REPORT "):]))
    return reports


def test_two_ranks_launcher_env_tcp_file(tmp_path):
    port, tcp_port = _free_port(), _free_port()
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
           "--master-port", str(port), HERE, "--worker", "suite", "--tcp-port", str(tcp_port),
           "--file", str(tmp_path / "rendezvous")]
    proc = subprocess.run(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=150)
    assert proc.returncode == 0, proc.stdout
    reports = _reports([proc.stdout])  # both ranks print; any one failing fails the job
    for report in reports:
        assert report["failures"] == [], "\n".join(report["failures"])
    assert proc.stdout.count("REPORT ") == 2
    assert "checks" in reports[0] and reports[0]["checks"] > 80


def test_three_ranks_tcp():
    port = _free_port()
    outputs = _collect(_spawn(3, ["suite3", "--tcp-port", str(port)]), 150)
    for report in _reports(outputs):
        assert report["failures"] == [], "\n".join(report["failures"])
        assert report["checks"] > 30


def test_hung_then_killed_rank_fails_in_time(tmp_path):
    port = _free_port()
    outputs = _collect(_spawn(2, ["failure", "--tcp-port", str(port), "--tcp-port2",
                                  str(_free_port()), "--file", str(tmp_path)]), 90)
    survivor = _reports(outputs[:1])[0]
    assert survivor["failures"] == [], "\n".join(survivor["failures"])
    # The victim died by SIGKILL: it wrote no report.
    assert "REPORT" not in outputs[1]


def test_launcher_stops_the_job_when_a_rank_fails():
    # Rank 1 fails at once; rank 0 would sleep for a minute.
    script = ("import os, sys, time\n"
              "if os.environ['RANK'] == '1': sys.exit(3)\n"
              "time.sleep(60)\n")
    env = _env()
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node",
                           "2", "--standalone", "--no-python", sys.executable, "-c", script],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=60)
    assert proc.returncode == 3, proc.stdout
    assert "rank 1" in proc.stdout and "exit code 3" in proc.stdout, proc.stdout
    assert time.monotonic() - start < 30


def test_launcher_sets_the_environment(tmp_path):
    script = ("import os, json\n"
              "keys = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'GROUP_RANK',"
              " 'MASTER_ADDR', 'MASTER_PORT']\n"
              "line = 'ENV ' + json.dumps({k: os.environ[k] for k in keys}) + '\\n'\n"
              "os.write(1, line.encode())\n")
    proc = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nnodes", "2",
                           "--node-rank", "1", "--nproc-per-node", "2", "--master-port",
                           "23456", "--no-python", sys.executable, "-c", script],
                          env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout
    seen = sorted((json.loads(l[4:]) for l in proc.stdout.splitlines() if l.startswith("ENV ")),
                  key=lambda e: e["RANK"])
    assert seen == [
        {"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "2",
         "GROUP_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "23456"},
        {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
         "GROUP_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "23456"}]


def test_errors_without_a_process_group():
    import ember
    import ember.distributed as dist
    assert dist.is_available() and dist.is_gloo_available()
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.all_reduce(ember.ones(2))
    with pytest.raises(ValueError, match="MASTER_ADDR"):
        os.environ.pop("MASTER_ADDR", None)
        dist.init_process_group("gloo", rank=0, world_size=1)
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("nosuch", init_method="tcp://127.0.0.1:1", rank=0,
                                world_size=1)
    assert dist.Backend("GLOO") == "gloo" and dist.ReduceOp.AVG.name == "AVG"


def test_single_rank_group_and_store(tmp_path):
    import ember
    import ember.distributed as dist
    from datetime import timedelta
    store = dist.TCPStore("127.0.0.1", 0, 1, True, timeout=timedelta(seconds=5))
    store.set("k", b"v")
    assert store.get("k") == b"v"
    assert store.add("n", 2) == 2 and store.add("n", 3) == 5
    files = dist.FileStore(str(tmp_path / "fs"), timeout=timedelta(seconds=1))
    files.set("a", b"")
    files.set("a", b"xyz")  # torch's stores overwrite
    assert files.get("a") == b"xyz"
    assert files.add("c", 4) == 4 and files.add("c", -1) == 3
    with pytest.raises(RuntimeError, match="timed out.*'missing'"):
        files.get("missing")
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        x = ember.arange(6.0).reshape(2, 3)
        dist.all_reduce(x, op=dist.ReduceOp.AVG)
        np.testing.assert_array_equal(x.numpy(), np.arange(6.0).reshape(2, 3))
        assert dist.get_world_size() == 1 and dist.get_backend() == "gloo"
        with pytest.raises(RuntimeError, match="twice"):
            dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


#===- The workers ------------------------------------------------------------===#

class Checker:
    def __init__(self):
        self.failures = []
        self.checks = 0

    def run(self, name, fn, *args):
        self.checks += 1
        try:
            fn(*args)
        except Exception as error:  # noqa: BLE001 (every failure is reported)
            import traceback
            self.failures.append(name + ": " + repr(error) + "\n" + traceback.format_exc())

    def report(self):
        # One write: the ranks share the launcher's stdout.
        line = "REPORT " + json.dumps({"failures": self.failures, "checks": self.checks})
        sys.stdout.flush()
        os.write(1, (line + "\n").encode())


def _values(dtype, rank, shape, seed=0, small=False):
    """Rank `rank`'s input for a check: exact in every dtype."""
    rng = np.random.RandomState(1000 * seed + rank)
    if dtype == "bool":
        return rng.rand(*shape) > 0.5
    if dtype in ("int32", "int64"):
        return rng.randint(-5, 6, size=shape).astype(dtype)
    if dtype in ("float16", "bfloat16") or small:
        # Small integers: sums and products are exact in 16 bits.
        return rng.randint(-3, 4, size=shape).astype(np.float32)
    return rng.randn(*shape).astype(dtype)


def _tensor(ember, dtype, array):
    # A copy: from_numpy shares memory, and the collective writes in place.
    return ember.from_numpy(np.array(array, copy=True)).to(getattr(ember, dtype))


def _numpy(x):
    import ember
    if x.dtype in (ember.float16, ember.bfloat16):
        x = x.float()
    return x.numpy().copy()


def _expect(x, expected, dtype):
    got = _numpy(x)
    if dtype in ("float32", "float64"):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, np.asarray(expected).astype(got.dtype))


def _reduce(op, arrays, dtype):
    stack = np.stack(arrays)
    if dtype == "bool":
        return stack.any(0) if op in ("SUM", "MAX") else stack.all(0)
    if op == "SUM":
        return stack.sum(0)
    if op == "AVG":
        return stack.sum(0) / len(arrays)
    if op == "PRODUCT":
        return stack.prod(0)
    return stack.min(0) if op == "MIN" else stack.max(0)


def check_collectives(c, dist, ember, rank, n, dtypes):
    shape = (3, 4)
    for dtype in dtypes:
        ins = lambda seed, shape=shape, small=False: [  # noqa: E731
            _values(dtype, r, shape, seed, small) for r in range(n)]
        ops = ["SUM", "MIN", "MAX", "PRODUCT"] + (["AVG"] if dtype.startswith("float") else [])
        for i, op in enumerate(ops):
            def all_reduce(op=op, seed=i):
                arrays = ins(seed, small=op == "PRODUCT")
                x = _tensor(ember, dtype, arrays[rank])
                dist.all_reduce(x, op=getattr(dist.ReduceOp, op))
                _expect(x, _reduce(op, arrays, dtype), dtype)
            c.run("all_reduce %s %s" % (dtype, op), all_reduce)

        def broadcast():
            arrays = ins(10)
            x = _tensor(ember, dtype, arrays[rank])
            dist.broadcast(x, src=n - 1)
            _expect(x, arrays[n - 1], dtype)
        c.run("broadcast " + dtype, broadcast)

        def reduce():
            arrays = ins(11)
            x = _tensor(ember, dtype, arrays[rank])
            dist.reduce(x, dst=0)
            _expect(x, _reduce("SUM", arrays, dtype) if rank == 0 else arrays[rank], dtype)
        c.run("reduce " + dtype, reduce)

        def all_gather():
            arrays = ins(12)
            x = _tensor(ember, dtype, arrays[rank])
            outs = [ember.zeros(*shape, dtype=getattr(ember, dtype)) for _ in range(n)]
            dist.all_gather(outs, x)
            for r in range(n):
                _expect(outs[r], arrays[r], dtype)
            flat = ember.zeros(n * shape[0], shape[1], dtype=getattr(ember, dtype))
            dist.all_gather_into_tensor(flat, x)
            _expect(flat, np.concatenate(arrays), dtype)
        c.run("all_gather " + dtype, all_gather)

        def reduce_scatter():
            arrays = ins(13, (n * 2, 3))
            x = _tensor(ember, dtype, arrays[rank])
            out = ember.zeros(2, 3, dtype=getattr(ember, dtype))
            dist.reduce_scatter_tensor(out, x)
            _expect(out, _reduce("SUM", arrays, dtype)[2 * rank:2 * rank + 2], dtype)
        c.run("reduce_scatter " + dtype, reduce_scatter)

        def gather_scatter():
            arrays = ins(14)
            x = _tensor(ember, dtype, arrays[rank])
            root = 1 % n
            outs = [ember.zeros(*shape, dtype=getattr(ember, dtype)) for _ in range(n)]
            dist.gather(x, outs if rank == root else None, dst=root)
            if rank == root:
                for r in range(n):
                    _expect(outs[r], arrays[r], dtype)
            pieces = [_tensor(ember, dtype, _values(dtype, r, shape, 15)) for r in range(n)]
            got = ember.zeros(*shape, dtype=getattr(ember, dtype))
            dist.scatter(got, pieces if rank == 0 else None, src=0)
            _expect(got, _values(dtype, rank, shape, 15), dtype)
        c.run("gather/scatter " + dtype, gather_scatter)

        def all_to_all():
            arrays = ins(16, (2 * n, 2))
            x = _tensor(ember, dtype, arrays[rank])
            out = ember.zeros(2 * n, 2, dtype=getattr(ember, dtype))
            dist.all_to_all_single(out, x)
            _expect(out, np.concatenate([a[2 * rank:2 * rank + 2] for a in arrays]), dtype)
            # Rank r sends r + 1 rows to every peer.
            rows = [_values(dtype, r, ((r + 1) * n, 2), 17) for r in range(n)]
            y = _tensor(ember, dtype, rows[rank])
            out = ember.zeros(sum(r + 1 for r in range(n)), 2, dtype=getattr(ember, dtype))
            dist.all_to_all_single(out, y, output_split_sizes=[r + 1 for r in range(n)],
                                   input_split_sizes=[rank + 1] * n)
            _expect(out, np.concatenate([rows[r][(r + 1) * rank:(r + 1) * (rank + 1)]
                                         for r in range(n)]), dtype)
        c.run("all_to_all_single " + dtype, all_to_all)

        def send_recv():
            arrays = ins(18)
            x = _tensor(ember, dtype, arrays[rank])
            got = ember.zeros(*shape, dtype=getattr(ember, dtype))
            outgoing = dist.isend(x, (rank + 1) % n)
            incoming = dist.irecv(got, (rank - 1) % n)
            outgoing.wait()
            incoming.wait()
            _expect(got, arrays[(rank - 1) % n], dtype)
        c.run("isend/irecv " + dtype, send_recv)


def check_semantics(c, dist, ember, rank, n):
    def blocking_send_recv():
        x = ember.full((5,), float(rank))
        if rank == 0:
            dist.send(x + 1, 1, tag=7)
        elif rank == 1:
            assert dist.recv(x, 0, tag=7) == 0
            np.testing.assert_array_equal(x.numpy(), np.ones(5))
    c.run("send/recv", blocking_send_recv)

    def async_in_order():
        xs = [ember.full((4,), float(rank + k)) for k in range(3)]
        works = [dist.all_reduce(x, async_op=True) for x in xs]
        for k, (x, w) in enumerate(zip(xs, works)):
            assert w.wait() is True and w.is_completed()
            np.testing.assert_array_equal(x.numpy(), np.full(4, sum(r + k for r in range(n))))
        b = dist.barrier(async_op=True)
        b.wait()
    c.run("async_op", async_in_order)

    def lazy_inputs_and_views():
        base = ember.arange(8.0) * (rank + 1)      # pending, computed by the collective
        view = base[2:6]
        dist.all_reduce(view)
        after = base + 1                           # later ops see the result
        scale = sum(r + 1 for r in range(n))
        expected = np.arange(8.0) * (rank + 1)
        expected[2:6] = np.arange(2.0, 6.0) * scale
        np.testing.assert_array_equal(base.numpy(), expected)
        np.testing.assert_array_equal(after.numpy(), expected + 1)
        # A non-contiguous view: its elements, written back in place.
        m = ember.arange(6.0).reshape(2, 3) + rank
        t = m.t()
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        np.testing.assert_array_equal(m.numpy(), np.arange(6.0).reshape(2, 3) + n - 1)
    c.run("lazy inputs and views", lazy_inputs_and_views)

    def parameters_stay_leaves():
        p = ember.nn.Parameter(ember.full((3,), float(rank)))
        dist.broadcast(p, src=0)
        assert p.is_leaf and p.requires_grad
        np.testing.assert_array_equal(p.detach().numpy(), np.zeros(3))
        (p * 2).sum().backward()
        dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)
        np.testing.assert_array_equal(p.grad.numpy(), np.full(3, 2.0))
    c.run("parameters", parameters_stay_leaves)

    def mismatched_shapes():
        x = ember.ones(3 + rank)
        try:
            dist.all_reduce(x)
        except RuntimeError as error:
            message = str(error)
            assert "rank 0 has float32[3]" in message and "rank 1 has float32[4]" in message, \
                message
        else:
            raise AssertionError("no error for mismatched shapes")
        dist.barrier()  # the group still works
        y = ember.ones(2)
        dist.all_reduce(y)
        np.testing.assert_array_equal(y.numpy(), np.full(2, float(n)))
    c.run("mismatched shapes", mismatched_shapes)

    def argument_errors():
        try:
            dist.all_gather([ember.ones(2)], ember.ones(2))
        except ValueError as error:
            assert "for a group of" in str(error)
        else:
            raise AssertionError("no error for a short tensor_list")
        try:
            dist.all_reduce([1, 2])
        except TypeError as error:
            assert "Expected parameter `tensor`" in str(error)
        else:
            raise AssertionError("no error for a list")
        try:
            dist.broadcast(ember.ones(1), src=n)
        except ValueError as error:
            assert "not part of the group" in str(error)
        else:
            raise AssertionError("no error for a bad src")
    c.run("argument errors", argument_errors)

    def objects():
        got = [None] * n
        dist.all_gather_object(got, {"rank": rank})
        assert got == [{"rank": r} for r in range(n)]
        items = ["a", rank] if rank == 0 else [None, None]
        dist.broadcast_object_list(items, src=0)
        assert items == ["a", 0]
    c.run("objects", objects)


def check_groups(c, dist, ember, rank, n):
    def subgroup():
        members = [0, n - 1]
        g = dist.new_group(members)
        if rank in members:
            assert dist.get_rank(g) == members.index(rank) and dist.get_world_size(g) == 2
            x = ember.full((3,), float(rank))
            dist.all_reduce(x, group=g)
            np.testing.assert_array_equal(x.numpy(), np.full(3, float(sum(members))))
            y = ember.full((2,), float(rank))
            dist.broadcast(y, src=n - 1, group=g)   # a global rank
            np.testing.assert_array_equal(y.numpy(), np.full(2, float(n - 1)))
        else:
            assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
            assert dist.all_reduce(ember.ones(1), group=g) is None
        solo = dist.new_group([rank for rank in range(1)])
        if rank == 0:
            z = ember.ones(2)
            dist.all_reduce(z, group=solo)
            np.testing.assert_array_equal(z.numpy(), np.ones(2))
        everyone = dist.new_group()
        w = ember.ones(1)
        dist.all_reduce(w, group=everyone)
        np.testing.assert_array_equal(w.numpy(), np.full(1, float(n)))
        dist.destroy_process_group(everyone)
        dist.barrier()
    c.run("new_group", subgroup)


def _init_check(c, dist, ember, rank, n, name):
    def check():
        assert dist.is_initialized() and dist.get_rank() == rank
        assert dist.get_world_size() == n
        x = ember.full((2,), float(rank + 1))
        dist.all_reduce(x)
        np.testing.assert_array_equal(x.numpy(), np.full(2, n * (n + 1) / 2))
        dist.barrier()
    c.run("init " + name, check)


def worker(argv):
    import argparse
    from datetime import timedelta
    p = argparse.ArgumentParser()
    p.add_argument("mode")
    p.add_argument("--rank", type=int, default=-1)
    p.add_argument("--world", type=int, default=-1)
    p.add_argument("--tcp-port", type=int)
    p.add_argument("--tcp-port2", type=int)
    p.add_argument("--file")
    args = p.parse_args(argv)
    import ember
    import ember.distributed as dist
    c = Checker()
    if args.mode == "suite":        # under the launcher: env://
        rank, n = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        dist.init_process_group("gloo", timeout=timedelta(seconds=60))
        _init_check(c, dist, ember, rank, n, "env://")
        check_collectives(c, dist, ember, rank, n, DTYPES)
        check_semantics(c, dist, ember, rank, n)
        check_groups(c, dist, ember, rank, n)
        dist.destroy_process_group()
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % args.tcp_port,
                                rank=rank, world_size=n, timeout=timedelta(seconds=60))
        _init_check(c, dist, ember, rank, n, "tcp://")
        dist.destroy_process_group()
        dist.init_process_group("gloo", init_method="file://" + args.file + "?rank=%d" % rank,
                                world_size=n, timeout=timedelta(seconds=60))
        _init_check(c, dist, ember, rank, n, "file://")
        dist.destroy_process_group()
    elif args.mode == "suite3":
        rank, n = args.rank, args.world
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % args.tcp_port,
                                rank=rank, world_size=n, timeout=timedelta(seconds=60))
        check_collectives(c, dist, ember, rank, n, ["int64", "float32"])
        check_semantics(c, dist, ember, rank, n)
        check_groups(c, dist, ember, rank, n)
        dist.destroy_process_group()
    elif args.mode == "failure":
        failure(c, dist, ember, args)
    c.report()


def failure(c, dist, ember, args):
    """Rank 1 hangs past rank 0's timeout; then, in a new group, dies."""
    from datetime import timedelta
    rank = args.rank
    # Both ranks are up before the clock starts (a loaded machine starts
    # processes slowly): the timeout below is the collectives'.
    open(os.path.join(args.file, "ready%d" % rank), "w").close()
    while not all(os.path.exists(os.path.join(args.file, "ready%d" % r)) for r in range(2)):
        time.sleep(0.01)
    timeout = 3.0

    def join(port):
        dist.init_process_group("gloo", init_method="tcp://127.0.0.1:%d" % port, rank=rank,
                                world_size=2, timeout=timedelta(seconds=timeout))
        x = ember.ones(4)
        dist.all_reduce(x)
        return x

    x = join(args.tcp_port)
    if rank == 1:
        time.sleep(timeout + 1)            # hangs past rank 0's timeout
        try:
            dist.all_reduce(x)             # rank 0 gave up: this fails too
        except RuntimeError:
            pass
        dist.destroy_process_group()
        join(args.tcp_port2)
        os.kill(os.getpid(), signal.SIGKILL)

    def hung_peer():
        start = time.monotonic()
        try:
            dist.all_reduce(x)
        except RuntimeError as error:
            elapsed = time.monotonic() - start
            assert "all_reduce" in str(error) and "timed out" in str(error), str(error)
            assert "rank 0 of 2" in str(error), str(error)
            assert timeout - 0.5 < elapsed < timeout + 4, elapsed
        else:
            raise AssertionError("no error from a hung peer")
    c.run("hung peer", hung_peer)
    dist.destroy_process_group()
    y = join(args.tcp_port2)

    def killed_peer():
        time.sleep(1)                      # rank 1 is dead by now
        start = time.monotonic()
        try:
            dist.all_reduce(y)
        except RuntimeError as error:
            assert "all_reduce" in str(error) and "closed its connection" in str(error), \
                str(error)
            assert time.monotonic() - start < timeout
        else:
            raise AssertionError("no error from a killed peer")
    c.run("killed peer", killed_peer)
    dist.destroy_process_group()


if __name__ == "__main__" and "--worker" in sys.argv:
    sys.argv.remove("--worker")
    worker(sys.argv[1:])
