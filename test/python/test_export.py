"""ember.export and ember.load_model against eager Ember and PyTorch 1.13.

Exported programs run through the runtime's ember::Model (JIT-compiled from
the portable program); files round trip through .save/.load_model; symbolic
dims work at sizes other than the example's; bad input and bad files raise
with messages, never crash.
"""
import os
import stat

import numpy as np
import pytest
import torch

import ember
from ember import nn

TOL = dict(rtol=1e-5, atol=1e-5)


def make_mlp(seed=0):
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 5), nn.LogSoftmax(dim=1))
    model.eval()
    return model


def eager(function, *arrays):
    with ember.no_grad():
        result = function(*[ember.from_numpy(a) for a in arrays])
    if isinstance(result, tuple):
        return tuple(r.numpy() for r in result)
    return result.numpy()


@pytest.fixture(scope="module")
def mlp_program():
    model = make_mlp()
    return model, ember.export(model, ember.randn(4, 16), dynamic_dims=[{0: "batch"}])


@pytest.fixture(scope="module")
def mlp_loaded(mlp_program, tmp_path_factory):
    path = tmp_path_factory.mktemp("mlp") / "mlp.ember"
    mlp_program[1].save(path)
    return ember.load_model(path)


@pytest.mark.parametrize("batch", [1, 2, 5, 33])
def test_mlp_matches_eager_and_torch(mlp_program, mlp_loaded, rng, batch):
    model, program = mlp_program
    x = rng.standard_normal((batch, 16), dtype=np.float32)
    out = program(ember.from_numpy(x))
    assert out.shape == (batch, 5) and out.dtype == ember.float32
    np.testing.assert_allclose(out.numpy(), eager(model, x), **TOL)
    loaded = mlp_loaded(ember.from_numpy(x))
    assert loaded.shape == (batch, 5)
    np.testing.assert_allclose(loaded.numpy(), out.numpy(), **TOL)

    reference = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(),
                                    torch.nn.Linear(32, 5), torch.nn.LogSoftmax(dim=1))
    reference.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                               for k, v in model.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(out.numpy(), reference(torch.from_numpy(x)).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_specs_names_and_repr(mlp_program):
    _, program = mlp_program
    assert program.input_specs == [("input", "float32", ("batch", 16))]
    assert program.output_specs == [("output0", "float32", ("batch", 5))]
    assert program.weights == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert "forward(input: [batch, 16] float32) -> (output0: [batch, 5] float32)" in repr(program)
    text = program.program_text()
    assert "func.func @forward" in text and "ember.matmul" in text
    # Weights are arguments, not constants in the IR.
    assert "tensor<32x16xf32>" in text and "dense<" not in text


@pytest.mark.parametrize("batch", [2, 7])
def test_save_and_load_round_trip(mlp_program, tmp_path, rng, batch):
    model, program = mlp_program
    path = tmp_path / "mlp.ember"
    program.save(path)
    loaded = ember.load_model(path)
    assert loaded.executable_kind == "jit"  # no native code in an exported file
    assert loaded.input_specs == program.input_specs
    assert loaded.weights == program.weights
    x = rng.standard_normal((batch, 16), dtype=np.float32)
    np.testing.assert_allclose(loaded(ember.from_numpy(x)).numpy(), eager(model, x), **TOL)
    np.testing.assert_allclose(loaded.forward(x).numpy(), eager(model, x), **TOL)
    assert "LoadedModel(" in repr(loaded) and "runs jit" in repr(loaded)


def test_weights_are_copied_at_export(rng):
    model = make_mlp(1)
    x = rng.standard_normal((3, 16), dtype=np.float32)
    program = ember.export(model, ember.from_numpy(x), dynamic_dims=[{0: "n"}])
    before = eager(model, x)
    with ember.no_grad():
        model[0].weight.mul_(2.0)
    np.testing.assert_allclose(program(ember.from_numpy(x)).numpy(), before, **TOL)


def test_several_inputs_outputs_and_a_shared_symbol(rng):
    def function(a, b, scale):
        both = a * scale + b
        return both.sum(dim=1), both.exp(), (a - b).abs().max(dim=0).values

    arrays = [rng.standard_normal((6, 3), dtype=np.float32),
              rng.standard_normal((6, 3), dtype=np.float32),
              rng.standard_normal((3,), dtype=np.float32)]
    program = ember.export(function, tuple(ember.from_numpy(a) for a in arrays),
                           dynamic_dims={"a": {0: "n"}, "b": {0: "n"}},
                           output_names=["total", "exp", "spread"])
    assert [s.shape for s in program.output_specs] == [("n",), ("n", 3), (3,)]
    assert [s.name for s in program.input_specs] == ["a", "b", "scale"]
    for n in (2, 9):
        inputs = [rng.standard_normal((n, 3), dtype=np.float32),
                  rng.standard_normal((n, 3), dtype=np.float32), arrays[2]]
        outputs = program(*[ember.from_numpy(a) for a in inputs])
        for ours, expected in zip(outputs, eager(function, *inputs)):
            np.testing.assert_allclose(ours.numpy(), expected, **TOL)
    with pytest.raises(ValueError, match=r"input 'b': expected \[n, 3\] float32, got "
                                         r"\[5, 3\] float32 \(n is 4"):
        program(ember.zeros(4, 3), ember.zeros(5, 3), ember.zeros(3))


def test_affine_output_dims(rng):
    def function(x):
        return x.reshape(x.shape[0] * 4, -1), x.transpose(0, 1).flatten()

    program = ember.export(function, ember.randn(5, 8), dynamic_dims=[{0: "b"}])
    assert program.output_specs[0].shape == ("4*b", 2)
    assert program.output_specs[1].shape == ("8*b",)
    for b in (2, 3, 11):
        x = rng.standard_normal((b, 8), dtype=np.float32)
        flat, transposed = program(ember.from_numpy(x))
        np.testing.assert_array_equal(flat.numpy(), x.reshape(b * 4, 2))
        np.testing.assert_array_equal(transposed.numpy(), x.T.reshape(-1))


def test_cat_along_a_symbolic_dim(rng):
    # The parts' extents along the cat dim are run-time sizes, so the
    # program is the same at every size.
    program = ember.export(lambda x: ember.cat([x, x[:1] * 2, x.exp()]), ember.randn(4, 2),
                           dynamic_dims=[{0: "n"}])
    for n in (3, 9):
        x = rng.standard_normal((n, 2), dtype=np.float32)
        np.testing.assert_allclose(program(ember.from_numpy(x)).numpy(),
                                   np.concatenate([x, x[:1] * 2, np.exp(x)]), **TOL)


def test_tensor_created_in_forward_becomes_a_weight(rng):
    offsets = ember.arange(0, 4, dtype=ember.float32)

    def function(x):
        return x + offsets + ember.ones(4)

    program = ember.export(function, ember.randn(3, 4), dynamic_dims=[{0: "n"}])
    assert program.weights == ["constant.0", "constant.1"]
    x = rng.standard_normal((6, 4), dtype=np.float32)
    np.testing.assert_allclose(program(ember.from_numpy(x)).numpy(),
                               x + np.arange(4, dtype=np.float32) + 1, **TOL)


@pytest.mark.parametrize("dtype", ["float64", "int64", "int32"])
def test_other_dtypes(rng, dtype):
    def function(x, y):
        return (x * 3 + y).sum(dim=-1), x > y

    shape = (4, 5)
    x = (rng.standard_normal(shape) * 5).astype(dtype)
    y = (rng.standard_normal(shape) * 5).astype(dtype)
    program = ember.export(function, (ember.from_numpy(x), ember.from_numpy(y)),
                           dynamic_dims=[{0: "n", 1: "m"}, {0: "n", 1: "m"}])
    assert program.output_specs[1] == ("output1", "bool", ("n", "m"))
    x2 = (rng.standard_normal((3, 7)) * 5).astype(dtype)
    y2 = (rng.standard_normal((3, 7)) * 5).astype(dtype)
    total, greater = program(ember.from_numpy(x2), ember.from_numpy(y2))
    expected_total, expected_greater = eager(function, x2, y2)
    assert total.numpy().dtype == expected_total.dtype  # int32 sums to int64, as in torch
    np.testing.assert_allclose(total.numpy(), expected_total, rtol=1e-12)
    np.testing.assert_array_equal(greater.numpy(), expected_greater)


def test_bfloat16_inputs(rng):
    # NumPy has no bfloat16: the extra traces at other sizes must not need it.
    program = ember.export(lambda x: (x * 2).float(), ember.randn(4, 3).to(ember.bfloat16),
                           dynamic_dims=[{0: "n"}])
    assert program.input_specs[0] == ("x", "bfloat16", ("n", 3))
    x = ember.from_numpy(rng.standard_normal((6, 3), dtype=np.float32)).to(ember.bfloat16)
    np.testing.assert_array_equal(program(x).numpy(), (x.float() * 2).numpy())


def test_static_program_rejects_other_sizes(rng):
    program = ember.export(lambda x: x.relu(), ember.randn(3, 4))
    assert program.input_specs[0].shape == (3, 4)
    with pytest.raises(ValueError, match=r"expected \[3, 4\] float32, got \[5, 4\] float32"):
        program(ember.zeros(5, 4))


def test_wrong_input_count_and_dtype(mlp_program):
    _, program = mlp_program
    with pytest.raises(ValueError, match="takes 1 input"):
        program()
    with pytest.raises(ValueError, match="got \\[2, 16\\] float64"):
        program(ember.zeros(2, 16, dtype=ember.float64))
    with pytest.raises(TypeError, match="must be an ember Tensor or a NumPy array"):
        program([1.0, 2.0])


def test_data_dependent_forward_raises_at_the_users_line():
    def function(x):
        if x.sum().item() > 0:  # reads a value: cannot be exported
            return x
        return -x

    with pytest.raises(RuntimeError) as info:
        ember.export(function, ember.randn(3))
    message = str(info.value)
    assert "reads a tensor's value" in message
    assert f"{os.path.basename(__file__)}:{function.__code__.co_firstlineno + 1}" in message


def branch_on_bool(x):
    return x if x.sum() > 0 else -x


def branch_on_an_input_element(x):
    # x is computed already: reading it needs no sync, and must still raise.
    return x if x[0].item() > 0 else -x


def print_an_input(x):
    print(x)
    return x * 2


def to_numpy(x):
    return x * float(x.numpy().sum())


@pytest.mark.parametrize("function", [branch_on_bool, branch_on_an_input_element,
                                      print_an_input, to_numpy])
def test_every_value_read_raises(function, capsys):
    with pytest.raises(RuntimeError, match="reads a tensor's value") as info:
        ember.export(function, ember.randn(3), dynamic_dims=[{0: "n"}])
    line = function.__code__.co_firstlineno + (2 if function is branch_on_an_input_element
                                               else 1)
    assert f"{os.path.basename(__file__)}:{line} " in str(info.value)
    assert capsys.readouterr().out == ""  # nothing was printed
    # Tracing is over: values can be read again.
    assert ember.ones(2).sum().item() == 2


def test_bad_dynamic_dims():
    x = ember.randn(1, 4)
    with pytest.raises(ValueError, match="size-1 dim is static"):
        ember.export(lambda x: x * 2, x, dynamic_dims=[{0: "batch"}])
    with pytest.raises(ValueError, match="has 2 dims; dim 5 cannot be dynamic"):
        ember.export(lambda x: x * 2, ember.randn(3, 4), dynamic_dims=[{5: "batch"}])
    with pytest.raises(ValueError, match="names input 'y'"):
        ember.export(lambda x: x * 2, ember.randn(3, 4), dynamic_dims={"y": {0: "n"}})
    with pytest.raises(ValueError, match="symbol 'n' is 3 and 4"):
        ember.export(lambda a, b: a.sum() + b.sum(), (ember.randn(3), ember.randn(4)),
                     dynamic_dims=[{0: "n"}, {0: "n"}])
    with pytest.raises(TypeError, match="example_inputs must be a tensor"):
        ember.export(lambda x: x, [1, 2])
    with pytest.raises(TypeError, match="result must be a tensor"):
        ember.export(lambda x: 3, ember.randn(2))


def test_structure_that_depends_on_a_size_is_rejected():
    def function(x):
        return x * 2 if x.shape[0] < 5 else x + 1

    with pytest.raises(RuntimeError, match="structure depends on the size of n: the constant "
                                           "2 at .*test_export.py:.* becomes a constant 1"):
        ember.export(function, ember.randn(3, 2), dynamic_dims=[{0: "n"}])


def test_numbers_computed_from_sizes_are_rejected():
    # A number other than 0, +-1, +-2, +-0.5 is a run-time scalar, which must
    # not vary with the symbolic dims, integral ...
    with pytest.raises(RuntimeError, match="the value of the constant 4 at .* depends "):
        ember.export(lambda x: x / x.shape[0], ember.randn(4, 2), dynamic_dims=[{0: "n"}])
    # ... or fractional.
    with pytest.raises(RuntimeError, match="the value of the constant 0.375 at .* depends "
                                           "on the size"):
        ember.export(lambda x: x * (1.5 / x.shape[0]), ember.randn(4, 2),
                     dynamic_dims=[{0: "n"}])


def test_non_affine_size_names_the_op():
    def function(x):
        return x.reshape(-1)  # n*n elements

    with pytest.raises(RuntimeError) as info:
        ember.export(function, ember.randn(4, 4), dynamic_dims=[{0: "n", 1: "n"}])
    message = str(info.value)
    assert "a size of the reshape at" in message and "not an affine function" in message
    assert f"test_export.py:{function.__code__.co_firstlineno + 1}" in message
    assert "16 at n=4; 49 at n=7; 121 at n=11" in message


def test_fractional_constants_are_baked_in(rng):
    # In eager code they come from the run-time size vector; an exported
    # program has none, so they become constants of the program.
    program = ember.export(lambda x: x * 0.37 + 1.25, ember.randn(4, 3),
                           dynamic_dims=[{0: "n"}])
    text = program.program_text()
    assert "arith.constant 3.700000e-01 : f64" in text and "tensor<1xi64>" not in text
    x = rng.standard_normal((7, 3), dtype=np.float32)
    np.testing.assert_allclose(program(ember.from_numpy(x)).numpy(), x * 0.37 + 1.25, **TOL)


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)
        self.register_buffer("scale", ember.tensor([2.0, -1.0]))

    def forward(self, x):
        return self.linear(x) * self.scale


def test_buffers_are_weights(rng):
    model = Scaled()
    program = ember.export(model, ember.randn(2, 3), dynamic_dims=[{0: "b"}])
    assert program.weights == ["linear.weight", "linear.bias", "scale"]
    x = rng.standard_normal((5, 3), dtype=np.float32)
    np.testing.assert_allclose(program(ember.from_numpy(x)).numpy(), eager(model, x), **TOL)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "magic", "version", "flip"])
def test_malformed_files_raise(mlp_program, tmp_path, damage):
    _, program = mlp_program
    path = tmp_path / "m.ember"
    program.save(path)
    data = bytearray(path.read_bytes())
    expected = {"garbage": "not an ember model file", "truncated": "truncated",
                "magic": "not an ember model file", "version": "format version 9 is not "
                "supported", "flip": "fails its checksum"}[damage]
    if damage == "garbage":
        data = bytearray(os.urandom(3000))
    elif damage == "truncated":
        data = data[:len(data) // 2]
    elif damage == "magic":
        data[:8] = b"NOTEMBER"
    elif damage == "version":
        data[8] = 9
    else:
        data[4096 + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=expected):
        ember.load_model(path)
    with pytest.raises(RuntimeError, match="cannot open"):
        ember.load_model(tmp_path / "missing.ember")


def test_save_is_atomic(mlp_program, tmp_path):
    _, program = mlp_program
    path = tmp_path / "kept.ember"
    program.save(path)
    before = path.read_bytes()
    # A folder in the way: the final rename fails and nothing else changes.
    with pytest.raises(OSError, match="cannot write"):
        program.save(tmp_path)
    folder = tmp_path / "readonly"
    folder.mkdir()
    (folder / "m.ember").write_bytes(before)
    os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)
    try:
        if not os.access(folder, os.W_OK):  # root may write anyway
            with pytest.raises(OSError, match="cannot write"):
                program.save(folder / "m.ember")
    finally:
        os.chmod(folder, stat.S_IRWXU)
    assert path.read_bytes() == before
    assert (folder / "m.ember").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["m.ember"]
