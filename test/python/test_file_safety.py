"""Leftovers of killed writers and hostile files: ember.save and
ExportedProgram.save name their temporaries `.<name>.ember-tmp-<pid>-<random>`
and the next save to a target removes those whose writer process is gone
(never a live writer's); the compile cache's folder scan does the same for
its entries; a safetensors header nested too deep is a ValueError naming the
file, not a RecursionError."""

import json
import os
import re
import signal
import struct
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import nn
from ember_testing import to_numpy


def dead_pid():
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


# A save that stops in fsync, after its bytes went to the temporary.
HANGING_SAVE = r"""
import os, sys, time
import numpy as np
import ember
def hang(fd):
    print("writing", flush=True)
    time.sleep(600)
os.fsync = hang
ember.save({"big": ember.from_numpy(np.full(1 << 21, 3.0, np.float32))}, sys.argv[1])
"""


def temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if ".ember-tmp-" in p.name)


def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path, rng):
    path = tmp_path / "model.safetensors"
    writer = subprocess.Popen([sys.executable, "-c", HANGING_SAVE, str(path)],
                              env=environment(), stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
        (temp,) = temporaries(tmp_path)
        assert re.fullmatch(rf"\.model\.safetensors\.ember-tmp-{writer.pid}-[0-9a-f]+", temp)
        assert (tmp_path / temp).stat().st_size > 8 << 20, "the whole tensor was written"

        # The writer is alive: a save of ours leaves its temporary alone.
        values = rng.standard_normal((5, 3)).astype(np.float32)
        ember.save({"w": ember.from_numpy(values)}, path)
        assert temporaries(tmp_path) == [temp]
        np.testing.assert_array_equal(to_numpy(ember.load(path)["w"]), values)

        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=60)
    finally:
        writer.kill()
        writer.wait()
    assert temporaries(tmp_path) == [temp], "SIGKILL leaves the temporary behind"

    # Another target's leftover stays for that target's next save.
    other = f".other.safetensors.ember-tmp-{writer.pid}-abc123"
    (tmp_path / other).write_bytes(b"x")
    values = rng.standard_normal(7).astype(np.float32)
    ember.save({"v": ember.from_numpy(values)}, path)
    assert temporaries(tmp_path) == [other]
    np.testing.assert_array_equal(to_numpy(ember.load(path)["v"]), values)
    ember.save({"v": ember.ones(1)}, tmp_path / "other.safetensors")
    assert temporaries(tmp_path) == []


def test_save_temporary_names_and_cleanup_on_interrupt(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    ember.save({"a": ember.ones(2)}, path)
    before = path.read_bytes()
    seen = []
    real_replace = os.replace

    def spying_replace(source, target):
        seen.append(source)
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spying_replace)
    ember.save({"a": ember.zeros(2)}, path)
    (source,) = seen
    assert os.path.dirname(source) == str(tmp_path)
    assert re.fullmatch(rf"\.m\.safetensors\.ember-tmp-{os.getpid()}-[0-9a-f]{{12}}",
                        os.path.basename(source))
    monkeypatch.undo()
    before = path.read_bytes()

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        ember.save({"a": ember.full((1000,), 5.0)}, path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert path.read_bytes() == before


def test_exported_program_save_removes_dead_writers_temporaries(tmp_path, rng):
    model = nn.Linear(4, 3)
    program = ember.export(model, ember.randn(2, 4))
    path = tmp_path / "m.ember"
    dead, live = dead_pid(), os.getpid()
    stale = f".m.ember.ember-tmp-{dead}-Ab12Cd"
    kept = [f".m.ember.ember-tmp-{live}-Ef34Gh",   # a live writer's (this process)
            f".n.ember.ember-tmp-{dead}-Ij56Kl",   # another target's
            ".m.ember.tmp.Mn78Op"]                 # not a temporary of ours
    for name in [stale] + kept:
        (tmp_path / name).write_bytes(b"\0" * 4096)
    program.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + ["m.ember"])
    x = rng.standard_normal((2, 4)).astype(np.float32)
    expected = to_numpy(model(ember.from_numpy(x)))
    got = to_numpy(ember.load_model(path)(ember.from_numpy(x)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


# The compile cache: the scan at a process's first write removes any entry's
# stale temporary.
CACHE_SCRIPT = r"""
import ember
x = ember.arange(6.0)
print((x * 2 + 1).sum().item())
"""


def test_the_compile_cache_removes_dead_writers_temporaries(tmp_path):
    dead, live = dead_pid(), os.getpid()
    stale = [f".0123456789abcdef.graph.ember-tmp-{dead}-Qr90St",
             f".fedcba9876543210.kernel.ember-tmp-{dead}-Uv12Wx"]
    kept = [f".0123456789abcdef.graph.ember-tmp-{live}-Yz34Ab"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"\0" * 4096)
    env = environment()
    env["EMBER_CACHE_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", CACHE_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.split()[-1]) == 36.0
    names = {p.name for p in tmp_path.iterdir()}
    assert any(n.endswith(".graph") for n in names), "the run wrote cache entries"
    assert temporaries(tmp_path) == kept


# Hostile safetensors headers --------------------------------------------------

def write_raw(path, text, data=b""):
    raw = text.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


GOOD_ENTRY = '"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}'


@pytest.mark.parametrize("depth", [4, 50, 5000, 200000])
@pytest.mark.parametrize("where", ["metadata", "entry", "top"])
def test_deeply_nested_headers_raise_value_error(tmp_path, depth, where):
    nested = "[" * depth + "]" * depth
    text = {"metadata": '{%s, "__metadata__": {"k": %s}}' % (GOOD_ENTRY, nested),
            "entry": '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], '
                     '"extra": %s}}' % nested,
            "top": nested}[where]
    path = write_raw(tmp_path / "deep.safetensors", text, b"\0" * 8)
    with pytest.raises(ValueError, match=r"deep\.safetensors.*nests deeper than 3 levels"):
        ember.load(path)


def test_deeply_nested_structure_raises_value_error(tmp_path):
    for depth in (3000, 200000):
        structure = "[" * depth + "]" * depth
        header = ('{%s, "__metadata__": {"ember.structure": %s}}'
                  % (GOOD_ENTRY, json.dumps(structure)))
        path = write_raw(tmp_path / "deep.safetensors", header, b"\0" * 8)
        with pytest.raises(ValueError, match=r"deep\.safetensors.*ember\.structure nests "
                                             r"too deeply"):
            ember.load(path)


def test_nested_state_still_round_trips(tmp_path, rng):
    """What ember.save writes (a nested structure in a string) still loads."""
    values = rng.standard_normal(3).astype(np.float32)
    state = {"a": ember.from_numpy(values)}
    for level in range(40):
        state = {"inner": [state, level]}
    ember.save(state, tmp_path / "s.safetensors")
    loaded = ember.load(tmp_path / "s.safetensors")
    for level in reversed(range(40)):
        assert loaded["inner"][1] == level
        loaded = loaded["inner"][0]
    np.testing.assert_array_equal(to_numpy(loaded["a"]), values)
