"""GPU devices in the eager API: device=, .to(device), ember.devices(), the
per-kind modules, and ops on Vulkan tensors (Mesa's lavapipe here) checked
against NumPy on fresh random inputs. Kinds without a driver here (CUDA,
ROCm, Level Zero) must report unavailable and raise a clear error."""
import numpy as np
import pytest

import ember

VULKAN = ember.vulkan.is_available()
needs_vulkan = pytest.mark.skipif(
    not VULKAN, reason="no Vulkan device: " + ember.vulkan.unavailable_reason())

F32 = dict(rtol=2e-5, atol=2e-5)


def on_vulkan(array):
    return ember.from_numpy(np.ascontiguousarray(array)).to("vulkan")


def test_devices_and_kinds():
    found = ember.devices()
    assert found[0] == "cpu"
    assert ("vulkan:0" in found) == VULKAN
    for kind in (ember.cuda, ember.rocm, ember.xpu):
        if not kind.is_available():
            assert kind.device_count() == 0
            assert "not available" in kind.unavailable_reason()
            with pytest.raises(RuntimeError, match="not available"):
                kind.get_device_name()


@pytest.mark.parametrize("kind", ["cuda", "rocm", "xpu"])
def test_unavailable_kind_raises_clearly(kind):
    if getattr(ember, kind).is_available():
        pytest.skip(f"{kind} is available here")
    with pytest.raises(RuntimeError, match="is not available"):
        ember.zeros(3, device=kind)
    with pytest.raises(RuntimeError, match="is not available"):
        ember.ones(2).to(kind)


def test_bad_device_names():
    with pytest.raises((ValueError, RuntimeError), match="device type"):
        ember.zeros(2, device="tpu")
    with pytest.raises(RuntimeError, match="only device 0"):
        ember.device("vulkan:1")
    assert ember.device("vulkan") == "vulkan:0"


@needs_vulkan
def test_to_and_back_is_exact(rng):
    a = rng.standard_normal((7, 9)).astype(np.float32)
    v = on_vulkan(a)
    assert str(v.device) == "vulkan" and v.device == ember.device("vulkan")
    np.testing.assert_array_equal(v.cpu().numpy(), a)
    np.testing.assert_array_equal(v.to("cpu").numpy(), a)
    assert v.to("vulkan") is v
    w = ember.zeros(3, 4, device="vulkan")
    assert str(w.device) == "vulkan"
    np.testing.assert_array_equal(w.cpu().numpy(), np.zeros((3, 4), np.float32))
    like = ember.ones_like(w)
    assert str(like.device) == "vulkan"


@needs_vulkan
def test_host_reads_of_gpu_tensors(rng):
    v = on_vulkan(rng.standard_normal((2, 3)).astype(np.float32))
    with pytest.raises(TypeError, match=r"Tensor.cpu\(\)"):
        v.numpy()
    s = v.sum()
    assert isinstance(s.item(), float)
    assert abs(s.item() - float(v.cpu().numpy().sum())) < 1e-4
    assert "device='vulkan:0'" in repr(v)
    assert len(v.tolist()) == 2


@needs_vulkan
def test_save_and_load_gpu_tensors(rng, tmp_path):
    """ember.save copies a GPU tensor's values to the file (torch.save does);
    ember.load gives them back on the CPU, or on map_location's device."""
    a = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.integers(-9, 9, size=(4,))
    state = {"w": on_vulkan(a), "nested": [on_vulkan(b), ember.from_numpy(a)]}
    path = tmp_path / "state.ember"
    ember.save(state, path)
    loaded = ember.load(path)
    assert str(loaded["w"].device) == "cpu"
    np.testing.assert_array_equal(loaded["w"].numpy(), a)
    np.testing.assert_array_equal(loaded["nested"][0].numpy(), b)
    on_device = ember.load(path, map_location="vulkan")
    assert str(on_device["w"].device) == "vulkan"
    np.testing.assert_array_equal(on_device["w"].cpu().numpy(), a)
    np.testing.assert_array_equal(on_device["nested"][1].cpu().numpy(), a)


@needs_vulkan
def test_mixing_devices_raises_at_the_op(rng):
    v = on_vulkan(rng.standard_normal(4).astype(np.float32))
    c = ember.ones(4)
    with pytest.raises(RuntimeError, match="same device.*vulkan and cpu|same device.*cpu and vulkan"):
        v + c
    with pytest.raises(RuntimeError, match="same device"):
        ember.matmul(c.reshape(1, 4), v.reshape(4, 1))
    # Python numbers go anywhere.
    np.testing.assert_allclose((v * 2 + 1).cpu().numpy(), v.cpu().numpy() * 2 + 1, **F32)


UNARY = {
    "exp": (np.exp, lambda t: t.exp()),
    "log": (lambda a: np.log(np.abs(a) + 1), lambda t: (t.abs() + 1).log()),
    "tanh": (np.tanh, lambda t: t.tanh()),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda t: t.sigmoid()),
    "relu": (lambda a: np.maximum(a, 0), lambda t: t.relu()),
    "sqrt": (lambda a: np.sqrt(np.abs(a)), lambda t: t.abs().sqrt()),
    "neg_abs": (lambda a: -np.abs(a), lambda t: -t.abs()),
}


@needs_vulkan
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops(rng, name):
    ref, op = UNARY[name]
    a = rng.uniform(-3, 3, (13, 17)).astype(np.float32)
    out = op(on_vulkan(a))
    assert str(out.device) == "vulkan"
    np.testing.assert_allclose(out.cpu().numpy(), ref(a), rtol=1e-5, atol=1e-5)


@needs_vulkan
@pytest.mark.parametrize("shapes", [((5, 7), (5, 7)), ((5, 7), (7,)), ((5, 1), (1, 7)),
                                    ((3, 1, 4), (2, 4))])
def test_binary_ops_with_broadcasting(rng, shapes):
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.uniform(0.5, 2, shapes[1]).astype(np.float32)
    x, y = on_vulkan(a), on_vulkan(b)
    np.testing.assert_allclose((x + y).cpu().numpy(), a + b, **F32)
    np.testing.assert_allclose((x * y - x).cpu().numpy(), a * b - a, **F32)
    np.testing.assert_allclose((x / y).cpu().numpy(), a / b, **F32)
    np.testing.assert_allclose(ember.maximum(x, y).cpu().numpy(), np.maximum(a, b), **F32)
    np.testing.assert_array_equal((x > y).cpu().numpy(), a > b)
    np.testing.assert_allclose(ember.where(x > 0, x, y).cpu().numpy(),
                               np.where(a > 0, a, b), **F32)


@needs_vulkan
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_reductions(rng, dim):
    a = rng.standard_normal((37, 300)).astype(np.float32)
    x = on_vulkan(a)
    if dim is None:
        np.testing.assert_allclose(x.sum().cpu().numpy(), a.sum(), rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(x.max().cpu().numpy(), a.max())
        return
    np.testing.assert_allclose(x.sum(dim=dim).cpu().numpy(), a.sum(axis=dim), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.mean(dim=dim).cpu().numpy(), a.mean(axis=dim), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.amax(dim=dim).cpu().numpy() if hasattr(x, "amax")
                               else x.max(dim=dim).values.cpu().numpy(), a.max(axis=dim))
    np.testing.assert_allclose(x.min(dim=dim).values.cpu().numpy(), a.min(axis=dim))


@needs_vulkan
@pytest.mark.parametrize("shapes", [((8, 16), (16, 4)), ((1, 33), (33, 70)), ((3, 5, 6), (3, 6, 2))])
def test_matmul(rng, shapes):
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    np.testing.assert_allclose((on_vulkan(a) @ on_vulkan(b)).cpu().numpy(), a @ b,
                               rtol=1e-4, atol=1e-4)


@needs_vulkan
def test_softmax_views_and_mlp(rng):
    a = rng.standard_normal((6, 10)).astype(np.float32)
    x = on_vulkan(a)
    e = np.exp(a - a.max(1, keepdims=True))
    np.testing.assert_allclose(x.softmax(-1).cpu().numpy(), e / e.sum(1, keepdims=True), **F32)
    np.testing.assert_allclose(x.log_softmax(-1).cpu().numpy(),
                               np.log(e / e.sum(1, keepdims=True)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x.T.reshape(5, 12).cpu().numpy(), a.T.reshape(5, 12), **F32)
    np.testing.assert_allclose(x[1:5:2, ::3].cpu().numpy(), a[1:5:2, ::3], **F32)
    w = rng.standard_normal((10, 4)).astype(np.float32)
    hidden = (x @ on_vulkan(w)).relu()
    np.testing.assert_allclose(hidden.cpu().numpy(), np.maximum(a @ w, 0), rtol=1e-4, atol=1e-4)


@needs_vulkan
def test_float64_and_integers(rng):
    a = rng.standard_normal((4, 5))
    x = on_vulkan(a)
    np.testing.assert_allclose((x * x + 1).cpu().numpy(), a * a + 1, rtol=1e-12)
    i = rng.integers(-50, 50, (4, 5)).astype(np.int64)
    np.testing.assert_array_equal((on_vulkan(i) * 3 - 2).cpu().numpy(), i * 3 - 2)
    np.testing.assert_allclose(x.float().cpu().numpy(), a.astype(np.float32))


@needs_vulkan
def test_a_new_size_reuses_the_compiled_program(rng):
    def program(t):
        return ((t * 3).tanh() + 1).sum(dim=1)

    program(on_vulkan(rng.standard_normal((4, 8)).astype(np.float32))).cpu()
    before = ember.compile_stats()["compiles"]
    for rows in (5, 300):
        a = rng.standard_normal((rows, 8)).astype(np.float32)
        np.testing.assert_allclose(program(on_vulkan(a)).cpu().numpy(),
                                   (np.tanh(a * 3) + 1).sum(1), rtol=1e-4, atol=1e-4)
    assert ember.compile_stats()["compiles"] == before


@needs_vulkan
@pytest.mark.parametrize("shapes", [((17, 33), (33, 18)), ((40, 1), (1, 31)),
                                    ((2, 31, 40), (40, 17)), ((0, 5), (5, 3))])
def test_tiled_matmul_edges(rng, shapes):
    # The matmul kernel works on 16x16 tiles staged in workgroup memory:
    # sizes that are not multiples of 16, K smaller than a tile, a batch
    # with B broadcast over it, an empty result.
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    np.testing.assert_allclose((on_vulkan(a) @ on_vulkan(b)).cpu().numpy(), a @ b,
                               rtol=1e-4, atol=1e-4)


@needs_vulkan
def test_tiled_matmul_transposed_and_integer(rng):
    a = rng.standard_normal((45, 20)).astype(np.float32)
    b = rng.standard_normal((45, 19)).astype(np.float32)
    np.testing.assert_allclose((on_vulkan(a).T @ on_vulkan(b)).cpu().numpy(), a.T @ b,
                               rtol=1e-4, atol=1e-4)
    i = rng.integers(-9, 9, (18, 23)).astype(np.int64)
    j = rng.integers(-9, 9, (23, 5)).astype(np.int64)
    np.testing.assert_array_equal((on_vulkan(i) @ on_vulkan(j)).cpu().numpy(), i @ j)


@needs_vulkan
@pytest.mark.parametrize("length", [1, 3, 255, 256, 257, 1000])
def test_row_reductions_in_workgroup_memory(rng, length):
    # One block of 256 threads per row: rows shorter and longer than the
    # block, and all-negative rows (threads without elements must
    # contribute the identity, not 0).
    a = rng.standard_normal((7, length)).astype(np.float32)
    a[2] = -np.abs(a[2]) - 1
    x = on_vulkan(a)
    np.testing.assert_allclose(x.amax(dim=1).cpu().numpy(), a.max(axis=1))
    np.testing.assert_allclose(x.sum(dim=1).cpu().numpy(), a.sum(axis=1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(x.softmax(-1).cpu().numpy(),
                               np.exp(a - a.max(1, keepdims=True)) /
                               np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True),
                               rtol=1e-4, atol=1e-6)
    i = rng.integers(-100, 100, (3, length)).astype(np.int64)
    np.testing.assert_array_equal(on_vulkan(i).sum(dim=1).cpu().numpy(), i.sum(axis=1))


@needs_vulkan
def test_more_rows_than_a_grid_holds(rng):
    # 70000 rows > the 65535 blocks a grid dim may have: blocks stride.
    a = rng.standard_normal((70000, 3)).astype(np.float32)
    np.testing.assert_allclose(on_vulkan(a).sum(dim=1).cpu().numpy(), a.sum(axis=1),
                               rtol=1e-5, atol=1e-5)


@needs_vulkan
def test_grids_beyond_65535_blocks(rng):
    # Vulkan promises 65535 workgroups per dim: a 1-D op over more than
    # 65535 * 256 elements and a 3-D op with 70000 outer rows (grid z)
    # run with clamped grids whose blocks stride.
    n = 65535 * 256 + 1000
    a = np.arange(n, dtype=np.float32)
    np.testing.assert_array_equal((on_vulkan(a) * 2 + 1).cpu().numpy(), a * 2 + 1)
    b = rng.random((70000, 2, 3)).astype(np.float32)
    np.testing.assert_allclose((on_vulkan(b).exp() + 1).cpu().numpy(), np.exp(b) + 1, **F32)


@needs_vulkan
def test_long_rows_split_across_blocks(rng):
    # Rows longer than 16384 elements are split over several blocks whose
    # partial values a second kernel combines: a full reduction of 1M
    # elements (64 parts), long rows of negative values (max must not see
    # a stray 0), and a reduction over two trailing dims at once.
    a = rng.standard_normal(1 << 20).astype(np.float32)
    x = on_vulkan(a)
    np.testing.assert_allclose(x.sum().cpu().numpy(), a.astype(np.float64).sum(),
                               rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(x.max().cpu().numpy(), a.max())
    b = -np.abs(rng.standard_normal((3, 100000))).astype(np.float32) - 1
    np.testing.assert_allclose(on_vulkan(b).amax(dim=1).cpu().numpy(), b.max(axis=1))
    np.testing.assert_allclose(on_vulkan(b).mean(dim=1).cpu().numpy(), b.mean(axis=1),
                               rtol=1e-5)
    c = rng.standard_normal((4, 300, 70)).astype(np.float32)
    np.testing.assert_allclose(on_vulkan(c).sum(dim=(1, 2)).cpu().numpy(), c.sum(axis=(1, 2)),
                               rtol=1e-4, atol=1e-3)


@needs_vulkan
def test_indexing_and_assignment_with_host_values(rng):
    # As in torch: list indices and CPU masks index a device tensor, values
    # given as Python numbers, lists or CPU tensors are written into it.
    a = rng.standard_normal((5, 7)).astype(np.float32)
    x = on_vulkan(a)
    np.testing.assert_array_equal(x[[0, 2, 4]].cpu().numpy(), a[[0, 2, 4]])
    np.testing.assert_array_equal(x[ember.from_numpy(a > 0)].cpu().numpy(), a[a > 0])
    y = x.clone()
    y[1] = 0.0
    y[0, :3] = [1.0, 2.0, 3.0]
    y[y > 1.5] = -1.0
    expected = a.copy()
    expected[1] = 0
    expected[0, :3] = [1, 2, 3]
    expected[expected > 1.5] = -1
    np.testing.assert_array_equal(y.cpu().numpy(), expected)
    z = ember.zeros(5, 7, device="vulkan")
    z.copy_(ember.from_numpy(a))
    np.testing.assert_array_equal(z.cpu().numpy(), a)


@needs_vulkan
def test_cpu_scalars_stand_for_numbers(rng):
    # A 0-dim CPU tensor (a learning rate, a count) may meet device tensors;
    # any other CPU tensor may not.
    a = rng.standard_normal((4, 3)).astype(np.float32)
    x = on_vulkan(a)
    scale = ember.tensor(2.5)
    np.testing.assert_allclose((x * scale).cpu().numpy(), a * 2.5, **F32)
    np.testing.assert_allclose((scale - x).cpu().numpy(), 2.5 - a, **F32)
    with pytest.raises(RuntimeError, match="same device"):
        x + ember.from_numpy(a)


@needs_vulkan
def test_training_on_vulkan_matches_the_cpu(rng):
    # The same MLP, data and SGD steps on both devices: forward, backward
    # (autograd pass) and the optimizer all run on Vulkan.
    import ember.nn as nn
    features = rng.standard_normal((16, 7)).astype(np.float32)
    labels = rng.integers(0, 3, 16)

    def train(device, init):
        model = nn.Sequential(nn.Linear(7, 12), nn.ReLU(), nn.Linear(12, 3))
        model.load_state_dict(init)
        model = model.to(device)
        opt = ember.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
        x = ember.from_numpy(features).to(device)
        t = ember.from_numpy(labels).to(device)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), t)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().cpu().numpy() for p in model.parameters()]

    init = nn.Sequential(nn.Linear(7, 12), nn.ReLU(), nn.Linear(12, 3)).state_dict()
    cpu_losses, cpu_params = train("cpu", init)
    vk_losses, vk_params = train("vulkan", init)
    assert cpu_losses[-1] < cpu_losses[0]
    np.testing.assert_allclose(vk_losses, cpu_losses, rtol=1e-4, atol=1e-5)
    for vk, cpu in zip(vk_params, cpu_params):
        np.testing.assert_allclose(vk, cpu, rtol=1e-4, atol=1e-5)


@needs_vulkan
def test_a_long_chain_of_run_time_scalars(rng):
    # 60 in-place updates with run-time float scalars fuse into one kernel
    # with 60 scalar arguments: more than push constants hold, and each
    # must not become a buffer binding of its own.
    a = rng.standard_normal(8).astype(np.float32)
    g = rng.standard_normal(8).astype(np.float32)
    x, y = on_vulkan(a), on_vulkan(g)
    expected = a.copy()
    for step in range(60):
        x.sub_(y * (0.01 * step + 0.001))
        expected -= g * np.float32(0.01 * step + 0.001)
    np.testing.assert_allclose(x.cpu().numpy(), expected, rtol=1e-4, atol=1e-4)
