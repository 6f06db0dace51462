"""ember.save / ember.load: the safetensors layout checked byte by byte,
round trips of every dtype and of nested state (an optimizer's), interop
with the `safetensors` package when it is installed, clear ValueErrors for
malformed or truncated files, and atomic writes."""

import io
import json
import os
import struct

import numpy as np
import pytest
import torch

import ember
from ember import nn, optim
from ember_testing import ALL_DTYPES, assert_close, from_array, pair, to_numpy


def read_layout(path):
    """(header dict, data bytes, header length) parsed by hand."""
    raw = open(path, "rb").read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length].decode("utf-8"))
    return header, raw[8 + length:], length


def test_byte_layout_by_hand(tmp_path):
    path = tmp_path / "model.safetensors"
    ember.save({"w": ember.tensor([[1.5, -2.0, 3.25]]), "step": ember.tensor([7, -1]),
                "flag": ember.tensor([True, False, True])}, path)
    header, data, length = read_layout(path)
    assert (8 + length) % 8 == 0, "the data starts 8-byte aligned"
    assert header.pop("__metadata__") == {"format": "pt"}
    assert header == {
        "w": {"dtype": "F32", "shape": [1, 3], "data_offsets": [0, 12]},
        "step": {"dtype": "I64", "shape": [2], "data_offsets": [12, 28]},
        "flag": {"dtype": "BOOL", "shape": [3], "data_offsets": [28, 31]},
    }
    assert data == (struct.pack("<3f", 1.5, -2.0, 3.25) + struct.pack("<2q", 7, -1)
                    + b"\x01\x00\x01")


def test_reads_a_file_written_by_hand(tmp_path):
    header = json.dumps({
        "b": {"dtype": "F64", "shape": [2], "data_offsets": [8, 24]},
        "a": {"dtype": "I32", "shape": [2, 1], "data_offsets": [0, 8]},
        "h": {"dtype": "F16", "shape": [], "data_offsets": [24, 26]},
        "z": {"dtype": "BF16", "shape": [1], "data_offsets": [26, 28]},
    }).encode()
    data = (struct.pack("<2i", 5, -6) + struct.pack("<2d", 0.25, 1e300)
            + np.float16(-3.5).tobytes() + struct.pack("<H", 0x3FC0))  # bf16 1.5
    path = tmp_path / "hand.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    loaded = ember.load(path)
    assert list(loaded) == ["b", "a", "h", "z"]
    assert_close(loaded["a"], np.array([[5], [-6]], np.int32))
    assert_close(loaded["b"], np.array([0.25, 1e300]))
    assert_close(loaded["h"], np.array(-3.5, np.float16))
    assert loaded["z"].dtype == ember.bfloat16 and loaded["z"].item() == 1.5


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_round_trip_every_dtype(rng, tmp_path, dtype):
    x, _ = pair(rng, (3, 4), dtype)
    state = {"x": x, "scalar": x[1, 2], "empty": x[:0], "strided": x.t()[::2]}
    ember.save(state, tmp_path / "t.safetensors")
    loaded = ember.load(tmp_path / "t.safetensors")
    assert list(loaded) == list(state)
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype, key
        assert tuple(loaded[key].shape) == tuple(value.shape), key
        np.testing.assert_array_equal(to_numpy(loaded[key]), to_numpy(value), err_msg=key)


def test_loaded_tensors_are_independent_of_the_saved_ones(tmp_path):
    x = ember.zeros(3)
    ember.save({"x": x}, tmp_path / "t.safetensors")
    loaded = ember.load(tmp_path / "t.safetensors")["x"]
    x.add_(1)
    loaded.add_(2)
    assert to_numpy(x).tolist() == [1, 1, 1] and to_numpy(loaded).tolist() == [2, 2, 2]


def test_module_state_dict_round_trip(rng, tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 2))
    ember.save(model.state_dict(), tmp_path / "model.safetensors")
    fresh = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 2))
    fresh.load_state_dict(ember.load(tmp_path / "model.safetensors"))
    x, _ = pair(rng, (5, 4))
    np.testing.assert_array_equal(to_numpy(fresh(x)), to_numpy(model(x)))


def test_nested_state_round_trip(tmp_path):
    """An optimizer's state dict (int keys, tuples, None) and the other
    values the structure encoding has to carry."""
    params = [nn.Parameter(ember.ones(2, 2)), nn.Parameter(ember.zeros(3))]
    optimizer = optim.Adam(params, lr=0.01, betas=(0.8, 0.9))
    for p in params:
        p.grad = ember.ones_like(p)
    optimizer.step()
    obj = {"optimizer": optimizer.state_dict(), "epoch": 3, "best": float("inf"),
           "nan": float("nan"), "name": "run-1", "none": None, "flags": [True, False],
           (1, "a"): "tuple key", "__odd": {"__tensor__": 1}, "empty": {}, "list": [],
           "loose": ember.arange(3)}
    ember.save(obj, tmp_path / "state.safetensors")
    loaded = ember.load(tmp_path / "state.safetensors")
    assert set(loaded) == set(obj)
    assert loaded["optimizer"]["param_groups"] == optimizer.state_dict()["param_groups"]
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert list(loaded["optimizer"]["state"]) == [0, 1]
    for index in (0, 1):
        for name, value in optimizer.state_dict()["state"][index].items():
            np.testing.assert_array_equal(to_numpy(loaded["optimizer"]["state"][index][name]),
                                          to_numpy(value))
    assert loaded["epoch"] == 3 and loaded["best"] == float("inf")
    assert np.isnan(loaded["nan"])
    assert loaded["name"] == "run-1" and loaded["none"] is None
    assert loaded["flags"] == [True, False] and loaded[(1, "a")] == "tuple key"
    assert loaded["__odd"] == {"__tensor__": 1}
    assert loaded["empty"] == {} and loaded["list"] == []
    assert to_numpy(loaded["loose"]).tolist() == [0, 1, 2]
    header, _, _ = read_layout(tmp_path / "state.safetensors")
    assert "optimizer.state.0.exp_avg" in header
    assert "ember.structure" in header["__metadata__"]


def test_file_objects(tmp_path):
    buffer = io.BytesIO()
    ember.save({"a": ember.ones(2)}, buffer)
    buffer.seek(0)
    assert to_numpy(ember.load(buffer)["a"]).tolist() == [1, 1]


def test_unsaveable_values_raise_type_error(tmp_path):
    with pytest.raises(TypeError, match="cannot save a value of type set .at a.b"):
        ember.save({"a": {"b": {1, 2}}}, tmp_path / "x")
    with pytest.raises(TypeError, match="torch"):
        ember.save({"a": torch.ones(1)}, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


# Interop ----------------------------------------------------------------------

def safetensors_torch():
    return pytest.importorskip(
        "safetensors.torch",
        reason="the safetensors package is not installed; interop is checked where it is")


def test_files_load_with_the_safetensors_package(rng, tmp_path):
    st = safetensors_torch()
    state = {}
    for dtype in ALL_DTYPES:
        state[dtype], _ = pair(rng, (2, 3), dtype)
    ember.save(state, tmp_path / "e.safetensors")
    loaded = st.load_file(str(tmp_path / "e.safetensors"))
    for dtype in ALL_DTYPES:
        assert loaded[dtype].dtype == getattr(torch, dtype)
        np.testing.assert_array_equal(to_numpy(loaded[dtype]), to_numpy(state[dtype]))


def test_loads_files_of_the_safetensors_package(tmp_path):
    st = safetensors_torch()
    tensors = {"w": torch.randn(3, 2).bfloat16(), "i": torch.arange(4, dtype=torch.int32),
               "b": torch.tensor([True, False]), "d": torch.randn(2, dtype=torch.float64)}
    st.save_file(tensors, str(tmp_path / "t.safetensors"), metadata={"k": "v"})
    loaded = ember.load(tmp_path / "t.safetensors")
    for key, value in tensors.items():
        assert str(loaded[key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1]
        np.testing.assert_array_equal(to_numpy(loaded[key]), to_numpy(value))


# Malformed files ------------------------------------------------------------

def write_file(path, header, data=b""):
    text = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize("header,data,message", [
    (b"{", b"", "not UTF-8 JSON"),
    (b"\xff\xfe", b"", "not UTF-8 JSON"),
    (b"[1, 2]", b"", "not a JSON object"),
    ({"a": 3}, b"", "entry of tensor 'a' is not an object"),
    ({"a": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "dtype 'F8'"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
    ({"a": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}, b"\0" * 8, "shape"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, b"\0" * 8, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}, b"\0" * 8, "data_offsets"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8,
     "needs 12 bytes"),
    (GOOD, b"\0" * 7, "truncated"),
    ({**GOOD, "__metadata__": {"k": 1}}, b"\0" * 8, "__metadata__"),
    ({**GOOD, "__metadata__": {"ember.structure": "{"}}, b"\0" * 8, "not JSON"),
    ({**GOOD, "__metadata__": {"ember.structure": '{"__tensor__": "b"}'}}, b"\0" * 8,
     "tensor 'b'"),
    ({**GOOD, "__metadata__": {"ember.structure": '{"__weird__": 1}'}}, b"\0" * 8,
     "unknown tag"),
])
def test_malformed_files_raise_value_error(tmp_path, header, data, message):
    path = write_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(ValueError, match=message):
        ember.load(path)


def test_short_and_oversized_headers(tmp_path):
    path = tmp_path / "bad.safetensors"
    for raw, message in [(b"", "fewer than the 8"), (b"\x10\0\0", "fewer than the 8"),
                         (struct.pack("<Q", 1 << 60), "implausibly large"),
                         (struct.pack("<Q", 100) + b"{}", "truncated")]:
        path.write_bytes(raw)
        with pytest.raises(ValueError, match=message):
            ember.load(path)


def test_every_truncation_of_a_valid_file_raises_value_error(tmp_path):
    path = tmp_path / "t.safetensors"
    ember.save({"a": ember.randn(3, 2), "b": ember.arange(4), "s": ember.tensor(1.0)}, path)
    raw = path.read_bytes()
    for size in range(len(raw)):
        with pytest.raises(ValueError, match="not a valid safetensors file"):
            ember.load(io.BytesIO(raw[:size]))
    assert set(ember.load(io.BytesIO(raw))) == {"a", "b", "s"}


def test_random_corruption_never_crashes(tmp_path):
    """Flipped bytes give a ValueError or a loadable file, nothing else."""
    path = tmp_path / "t.safetensors"
    ember.save({"a": ember.randn(3, 2), "b": {"c": ember.arange(4), "d": (1, 2.5)}}, path)
    raw = bytearray(path.read_bytes())
    generator = np.random.default_rng(0)
    for _ in range(300):
        corrupted = bytearray(raw)
        for position in generator.integers(0, len(raw), size=3):
            corrupted[position] = int(generator.integers(0, 256))
        try:
            ember.load(io.BytesIO(bytes(corrupted)))
        except ValueError:
            pass


# Atomic writes --------------------------------------------------------------

def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    ember.save({"a": ember.ones(2)}, path)
    before = path.read_bytes()

    # A value that cannot be encoded: nothing is written.
    with pytest.raises(TypeError):
        ember.save({"a": ember.zeros(2), "b": object()}, path)
    assert path.read_bytes() == before

    # A failure after the bytes went to the temporary file.
    def failing_fsync(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="simulated"):
        ember.save({"a": ember.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before

    # A failure of the rename itself.
    def failing_replace(src, dst):
        raise OSError("rename failed (simulated)")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="simulated"):
        ember.save({"a": ember.zeros(2)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"], \
        "no temporary files are left behind"
    assert to_numpy(ember.load(path)["a"]).tolist() == [1, 1]


def test_save_replaces_and_respects_the_umask(tmp_path):
    path = tmp_path / "m.safetensors"
    ember.save({"a": ember.ones(1)}, path)
    ember.save({"a": ember.zeros(1)}, path)
    assert to_numpy(ember.load(path)["a"]).tolist() == [0]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(FileNotFoundError):
        ember.save({"a": ember.ones(1)}, tmp_path / "missing" / "m.safetensors")


def test_load_rejects_other_devices(tmp_path):
    ember.save({"a": ember.ones(1)}, tmp_path / "m")
    assert to_numpy(ember.load(tmp_path / "m", map_location="cpu")["a"]).tolist() == [1]
    with pytest.raises(RuntimeError, match="not available"):
        ember.load(tmp_path / "m", map_location="cuda")


def test_from_array_helper_round_trip(tmp_path):
    # float16 values survive exactly (no float32 detour).
    values = np.array([0.1, 65504, -2e-7], np.float16)
    ember.save({"h": from_array(values)}, tmp_path / "h")
    np.testing.assert_array_equal(to_numpy(ember.load(tmp_path / "h")["h"]), values)
