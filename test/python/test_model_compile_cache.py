"""What compiling an exported or loaded model costs, counted in kernels.

An ExportedProgram compiles nothing until it is first called; ember.load_model
compiles a model kernel by kernel through the process's kernel cache (the one
eager graphs use), and a program whose code is alive is not compiled again, so
loading a model a second time, or calling the program it was saved from,
compiles no kernel. Outputs still match eager Ember.
"""
import gc

import numpy as np

import ember
from ember import nn


def kernel_counts():
    stats = ember.compile_stats()
    return stats["kernels_compiled"], stats["kernels_reused"]


def make_model(seed=3):
    ember.manual_seed(seed)
    # Hardtanh: an element-wise kernel of its own (conv + bias + ReLU and
    # linear + bias are runtime calls with fused epilogues, no kernels).
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 6 * 6, 7), nn.Hardtanh())
    model.eval()
    # Initialization runs (and compiles) eager graphs: done before counting.
    for parameter in model.parameters():
        parameter.numpy()
    return model


def example_input():
    example = ember.randn(2, 3, 6, 6)
    example.numpy()
    return example


def test_exported_program_compiles_at_first_call_only():
    model = make_model()
    example = example_input()
    before = kernel_counts()
    program = ember.export(model, example, dynamic_dims=[{0: "batch"}])
    assert not program.compiled
    assert kernel_counts() == before
    # Reading the signature and saving need no code either.
    assert len(program.input_specs) == 1 and program.input_specs[0].shape[0] == "batch"
    assert not program.compiled

    x = np.random.default_rng(0).standard_normal((3, 3, 6, 6)).astype(np.float32)
    got = program(x).numpy()
    assert program.compiled
    compiled, reused = kernel_counts()
    assert (compiled - before[0]) + (reused - before[1]) > 0
    with ember.no_grad():
        want = model(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_loading_a_model_again_compiles_no_kernel(tmp_path):
    model = make_model(seed=4)
    program = ember.export(model, example_input(), dynamic_dims=[{0: "batch"}])
    path = tmp_path / "model.ember"
    program.save(path)
    assert not program.compiled

    start = kernel_counts()
    first = ember.load_model(path)
    after_first = kernel_counts()
    # Each kernel was compiled now or found in a cache (memory or disk).
    assert sum(after_first) > sum(start)

    # Loaded again while the first is alive: its code is shared.
    second = ember.load_model(path)
    assert kernel_counts() == after_first, "the second load compiled kernels"

    # Loaded again once no copy is alive: every kernel comes from the cache.
    x = np.random.default_rng(1).standard_normal((5, 3, 6, 6)).astype(np.float32)
    outputs = [first(x).numpy(), second(x).numpy()]
    del first, second
    gc.collect()
    third = ember.load_model(path)
    after_third = kernel_counts()
    assert after_third[0] == after_first[0], "the third load compiled kernels"
    assert after_third[1] > after_first[1]
    outputs.append(third(x).numpy())
    # The program the file was saved from has the same code.
    outputs.append(program(x).numpy())
    assert kernel_counts()[0] == after_first[0]

    with ember.no_grad():
        want = model(ember.from_numpy(x)).numpy()
    for got in outputs:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
