"""Interop without copies: Tensor.__dlpack__/__dlpack_device__,
ember.from_dlpack, the buffer protocol, from_numpy/.numpy(), with NumPy 1.24
and PyTorch 1.13, and CUDA/ROCm memory through test/gpu's fake driver.
Shared memory is checked by writing on one side and reading on the other,
both ways, for contiguous tensors and strided views;
a pending (lazy) ember value is computed before it is exported, and a write
by the other library is seen by ember graphs that run afterwards."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.utils.dlpack

import ember

# (ember, numpy, torch) dtypes that DLPack carries; bfloat16 has no NumPy
# dtype and NumPy 1.24 and torch 1.13 do not exchange bool through DLPack.
NUMERIC = [
    ("int32", np.int32, torch.int32),
    ("int64", np.int64, torch.int64),
    ("float16", np.float16, torch.float16),
    ("float32", np.float32, torch.float32),
    ("float64", np.float64, torch.float64),
]


def test_dlpack_device():
    assert ember.ones(2).__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("name,np_dtype,_", NUMERIC)
def test_numpy_from_ember_shares_memory(name, np_dtype, _):
    t = ember.from_numpy(np.arange(6).astype(np_dtype)) * 2  # pending
    a = np.from_dlpack(t)  # read-only: NumPy 1.24 marks DLPack imports so
    assert a.dtype == np_dtype
    np.testing.assert_array_equal(a, np.arange(6).astype(np_dtype) * 2)
    assert np.shares_memory(a, t.numpy())
    t.numpy()[0] = 7
    assert a[0] == 7
    t.add_(1)  # ember writes into the exported memory
    assert a[0] == 8 and a[5] == 11


@pytest.mark.parametrize("name,np_dtype,_", NUMERIC)
def test_ember_from_numpy_dlpack_shares_memory(name, np_dtype, _):
    a = np.arange(6).astype(np_dtype)
    t = ember.from_dlpack(a)
    assert str(t.dtype) == f"ember.{name}"
    assert tuple(t.shape) == (6,)
    a[1] = 9
    assert t.numpy()[1] == 9
    t.mul_(2)
    np.testing.assert_array_equal(a, np.array([0, 18, 4, 6, 8, 10], dtype=np_dtype))


def test_a_write_by_numpy_is_seen_by_later_graphs():
    a = np.ones(4, np.float32)
    t = ember.from_dlpack(a)
    assert float((t + 1).sum().item()) == 8
    a[:] = 5
    # The same graph again (compiled once): it reads the memory as it is now.
    assert float((t + 1).sum().item()) == 24
    pending = t * 2  # not computed yet
    a[0] = 100
    assert pending.numpy()[0] == 200


@pytest.mark.parametrize("name,_,torch_dtype", NUMERIC + [("bfloat16", None, torch.bfloat16)])
def test_torch_round_trips_share_memory(name, _, torch_dtype):
    # torch -> ember through __dlpack__, and through a capsule (to_dlpack).
    x = torch.arange(6).to(torch_dtype)
    t = ember.from_dlpack(x)
    u = ember.from_dlpack(torch.utils.dlpack.to_dlpack(x))
    assert str(t.dtype) == f"ember.{name}"
    x[2] = 4
    assert float(t[2].item()) == 4 and float(u[2].item()) == 4
    t.add_(1)
    assert float(x[0]) == 1
    # ember -> torch through __dlpack__ (from_dlpack) and the capsule.
    e = ember.arange(6).to(getattr(ember, name)) + 1
    y = torch.utils.dlpack.from_dlpack(e)
    z = torch.utils.dlpack.from_dlpack(e.__dlpack__())
    assert y.dtype == torch_dtype
    torch.testing.assert_close(y, torch.arange(1, 7).to(torch_dtype))
    y[0] = 5
    assert float(e[0].item()) == 5 and float(z[0]) == 5
    e.mul_(2)
    assert float(y[5]) == 12


def test_strided_views_export_without_copies():
    base = ember.from_numpy(np.arange(12, dtype=np.float32).reshape(3, 4)) + 0
    ref = np.arange(12, dtype=np.float32).reshape(3, 4)
    for view, ref_view, index in [(base.t(), ref.T, (1, 2)), (base[:, 1:3], ref[:, 1:3], (2, 1)),
                                  (base[::2], ref[::2], (1, 3))]:
        a = np.from_dlpack(view)
        np.testing.assert_array_equal(a, view.numpy())
        y = torch.utils.dlpack.from_dlpack(view)
        assert tuple(y.stride()) == tuple(view.stride())
        y[index] = -2
        assert a[index] == -2 and float(view[index].item()) == -2
        view.add_(1)
        assert a[index] == -1 and float(y[index]) == -1
        ref_view[index] = -2
        ref_view += 1
    np.testing.assert_array_equal(base.numpy(), ref)


def test_transposed_torch_view_imports_without_copies():
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t = ember.from_dlpack(x.t())
    assert tuple(t.shape) == (4, 3)
    np.testing.assert_array_equal(t.numpy(), x.t().numpy())
    x[2, 1] = 50
    assert float(t[1, 2].item()) == 50
    t[0, 0] = -3
    assert float(x[0, 0]) == -3


def test_other_strided_torch_views_are_copied():
    """A view whose strides are no permutation of a dense array (a slice
    with a step) has no dense memory to borrow: its values are copied."""
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    t = ember.from_dlpack(x[:, ::2])
    np.testing.assert_array_equal(t.numpy(), x[:, ::2].numpy())


def test_bool_round_trips_through_a_capsule_and_numpy_without_copies():
    mask = ember.from_numpy(np.array([True, False, True]))
    back = ember.from_dlpack(mask.__dlpack__())
    assert str(back.dtype) == "ember.bool"
    mask[1] = True
    assert back.numpy().tolist() == [True, True, True]
    a = np.array([False, True])
    t = ember.from_numpy(a)
    a[0] = True
    assert t.numpy().tolist() == [True, True]


def test_from_numpy_and_numpy_stay_zero_copy():
    a = np.zeros(5, np.float32)
    t = ember.from_numpy(a)
    a[2] = 3
    assert t.numpy()[2] == 3
    b = t.numpy()
    assert np.shares_memory(a, b)
    t.add_(1)
    assert a[0] == 1 and b[2] == 4


def test_buffer_protocol_and_array_share_memory():
    t = ember.from_numpy(np.arange(4, dtype=np.float64)) + 0
    view = memoryview(t)
    assert view.format == "d" and view.shape == (4,)
    a = np.asarray(view)
    a[3] = 42
    assert float(t[3].item()) == 42
    b = np.asarray(t)  # __array__
    assert np.shares_memory(a, b)
    with pytest.raises(BufferError, match="bfloat16"):
        memoryview(t.to(ember.bfloat16))


def test_errors_are_clear():
    with pytest.raises(TypeError, match="unsupported dtype uint8"):
        ember.from_dlpack(torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(TypeError, match="unsupported dtype complex64"):
        ember.from_dlpack(torch.zeros(2, dtype=torch.complex64))
    with pytest.raises(TypeError, match="__dlpack__"):
        ember.from_dlpack([1, 2])
    capsule = torch.utils.dlpack.to_dlpack(torch.zeros(2))
    ember.from_dlpack(capsule)
    with pytest.raises(ValueError, match="already consumed"):
        ember.from_dlpack(capsule)
    with pytest.raises(RuntimeError, match="require gradient"):
        ember.ones(2, requires_grad=True).__dlpack__()
    with pytest.raises(BufferError, match="stream must be None"):
        ember.ones(2).__dlpack__(stream=1)


def test_gpu_tensors_without_pointers_are_refused():
    try:
        x = ember.ones(3, device="vulkan")
    except Exception:
        pytest.skip("no Vulkan device")
    assert x.__dlpack_device__() == (7, 0)
    with pytest.raises(BufferError, match="vulkan tensor cannot be exported"):
        x.__dlpack__()


# CUDA and ROCm memory, through the fake driver library of test/gpu (device
# memory is host memory there; kernels run nothing, so only copies move
# values): export gives the device pointer, import borrows it, and a write
# through that pointer is seen by both tensors.
FAKE_DRIVER_SCRIPT = """
import ctypes, json, numpy as np, ember
get = ctypes.pythonapi.PyCapsule_GetPointer
get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
def pointer(t):
    capsule = t.__dlpack__(stream=1)
    return ctypes.c_void_p.from_address(get(capsule, b"dltensor")).value
out = {}
for device in ("cuda", "rocm"):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = ember.from_numpy(a).to(device)
    y = ember.from_dlpack(x)
    z = ember.from_dlpack(x.t())  # a permutation of a dense layout: borrowed too
    b = -np.arange(1.0, 7.0, dtype=np.float32)
    ctypes.memmove(pointer(x), b.ctypes.data, b.nbytes)
    out[device] = {"dlpack_device": list(x.__dlpack_device__()), "device": str(y.device),
                   "same": pointer(y) == pointer(x) == pointer(z),
                   "z_shape": list(z.shape), "y": y.cpu().numpy().ravel().tolist()}
print(json.dumps(out))
"""


def fake_driver():
    for root in (os.path.join(os.environ.get("TEST_SRCDIR", ""), "ember"),
                 os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
                     os.path.abspath(__file__)))), "bazel-bin")):
        candidate = os.path.join(root, "test", "gpu", "libember_fake_gpu_driver.so")
        if os.path.exists(candidate):
            return candidate
    pytest.fail("//test/gpu:libember_fake_gpu_driver.so is not built")


def test_cuda_and_rocm_memory_is_shared_through_the_fake_driver():
    driver = fake_driver()
    env = dict(os.environ, EMBER_CUDA_LIBRARY=driver, EMBER_HIP_LIBRARY=driver,
               PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    done = subprocess.run([sys.executable, "-c", FAKE_DRIVER_SCRIPT], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for device, code in (("cuda", 2), ("rocm", 10)):
        r = result[device]
        assert r["dlpack_device"] == [code, 0] and r["device"] == device, r
        assert r["same"] and r["z_shape"] == [3, 2], r
        assert r["y"] == [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0], r
