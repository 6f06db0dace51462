"""The compile cache on disk (EMBER_CACHE_DIR): a second process compiles
nothing; corrupt or truncated entries are ignored and rewritten; processes
share a folder; the folder stays under EMBER_CACHE_SIZE_MB; an empty
EMBER_CACHE_DIR turns it off; the in-memory cache is bounded too. Every case
runs ember in subprocesses with a folder of its own."""

import json
import os
import subprocess
import sys

import numpy as np

# A small training loop whose programs go to the cache, printing its stats
# and a checksum of its result.
SCRIPT = r"""
import json, sys
import numpy as np
import ember
rng = np.random.default_rng(0)
x = ember.tensor(rng.standard_normal((64, 5)).astype(np.float32))
y = ember.tensor(rng.standard_normal(64).astype(np.float32))
w = ember.zeros(5, requires_grad=True)
opt = ember.optim.SGD([w], lr=0.01)
for _ in range(20):
    loss = ((x @ w - y) ** 2).mean()
    loss.item()
    opt.zero_grad(); loss.backward(); opt.step()
extra = int(sys.argv[1]) if len(sys.argv) > 1 else 0
for k in range(extra):   # distinct programs: a chain of k+1 ops
    z = x
    for _ in range(k + 1):
        z = z.tanh()
    z.sum().item()
stats = ember.compile_stats()
print(json.dumps({"loss": loss.item(), "compiles": stats["compiles"],
                  "disk_hits": stats["disk_hits"], "cache_hits": stats["cache_hits"],
                  "kernels_compiled": stats["kernels_compiled"]}))
"""


def run(cache_dir, *args, env=None, background=False):
    environment = dict(os.environ)
    environment["EMBER_CACHE_DIR"] = str(cache_dir)
    environment.update(env or {})
    command = [sys.executable, "-c", SCRIPT, *map(str, args)]
    if background:
        return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def entries(folder, suffix=".graph"):
    return sorted(p for p in os.listdir(folder) if p.endswith(suffix))


def total_bytes(folder):
    return sum((folder / n).stat().st_size
               for n in entries(folder, ".graph") + entries(folder, ".kernel"))


def test_a_second_process_compiles_nothing(tmp_path):
    first, _ = run(tmp_path)
    assert first["compiles"] == 2 and first["disk_hits"] == 0
    assert len(entries(tmp_path)) == 2
    assert len(entries(tmp_path, ".kernel")) == first["kernels_compiled"] > 0
    second, _ = run(tmp_path)
    assert second["compiles"] == 0 and second["disk_hits"] == 2
    assert second["kernels_compiled"] == 0
    assert second["loss"] == first["loss"]


def test_a_corrupt_kernel_is_compiled_again(tmp_path):
    first, _ = run(tmp_path)
    kernels = entries(tmp_path, ".kernel")
    good = (tmp_path / kernels[0]).read_bytes()
    (tmp_path / kernels[0]).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    second, _ = run(tmp_path)
    # The graph that needs it compiles again; only that kernel is new work.
    assert second["compiles"] >= 1 and second["kernels_compiled"] == 1
    assert second["loss"] == first["loss"]
    assert (tmp_path / kernels[0]).read_bytes() == good


def test_a_corrupt_or_truncated_entry_is_recompiled_and_rewritten(tmp_path):
    first, _ = run(tmp_path)
    names = entries(tmp_path)
    good = {n: (tmp_path / n).read_bytes() for n in names}
    # One entry with a flipped byte in its code, one cut short.
    flipped = bytearray(good[names[0]])
    flipped[-20] ^= 0xFF
    (tmp_path / names[0]).write_bytes(bytes(flipped))
    (tmp_path / names[1]).write_bytes(good[names[1]][:100])
    second, log = run(tmp_path, env={"EMBER_LOG_COMPILES": "1"})
    assert second["compiles"] == 2 and second["disk_hits"] == 0, log
    assert second["loss"] == first["loss"]
    # Rewritten whole: the next process loads both.
    assert {n: (tmp_path / n).read_bytes() for n in names} == good
    third, _ = run(tmp_path)
    assert third["compiles"] == 0 and third["disk_hits"] == 2


def test_garbage_with_a_valid_header_is_never_run(tmp_path):
    run(tmp_path)
    for name in entries(tmp_path):
        (tmp_path / name).write_bytes(b"EMBRGRPH" + os.urandom(300))
    again, _ = run(tmp_path)
    assert again["compiles"] == 2 and again["disk_hits"] == 0


def test_processes_fill_one_folder_at_once(tmp_path):
    procs = [run(tmp_path, 6, background=True) for _ in range(3)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert len({r["loss"] for r in results}) == 1
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]  # no temp files left
    after, _ = run(tmp_path, 6)
    assert after["compiles"] == 0 and after["disk_hits"] == 8


def test_the_folder_stays_under_its_size_limit(tmp_path):
    # ~5-7 KB per entry: a 20 KB limit keeps only the most recent few.
    limit_mb = 20 / 1024
    run(tmp_path, 10, env={"EMBER_CACHE_SIZE_MB": str(limit_mb)})
    assert 0 < total_bytes(tmp_path) <= 20 * 1024
    assert len(entries(tmp_path)) < 12


def test_an_empty_cache_dir_turns_the_disk_cache_off(tmp_path):
    stats, _ = run("", env={"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)})
    assert stats["compiles"] == 2 and stats["disk_hits"] == 0
    assert not list(tmp_path.rglob("*.graph")) and not list(tmp_path.rglob("*.kernel"))


def test_the_default_folder_is_under_the_users_cache(tmp_path):
    environment = {k: v for k, v in os.environ.items() if k != "EMBER_CACHE_DIR"}
    environment.update(HOME=str(tmp_path), XDG_CACHE_HOME="")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / ".cache" / "ember").glob("*.graph"))) == 2


MEMORY_SCRIPT = r"""
import json
import ember
x = ember.ones(4, 4)
def chain(k):
    z = x
    for _ in range(k):
        z = z.tanh()
    return z.sum().item()
for k in (1, 2, 3, 1):     # the first program again, after two others
    chain(k)
print(json.dumps(ember.compile_stats()))
"""


def test_the_memory_cache_is_bounded():
    def compiles(limit):
        environment = dict(os.environ, EMBER_CACHE_DIR="", EMBER_LOG_COMPILES="1")
        if limit:
            environment["EMBER_MEMORY_CACHE_GRAPHS"] = str(limit)
        done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], env=environment,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])["compiles"], done.stderr

    count, _ = compiles(None)
    assert count == 3
    count, log = compiles(2)
    assert count == 4
    assert "dropped from the memory cache" in log
