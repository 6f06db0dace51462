"""A model file's program section is untrusted MLIR bytecode: malformed
programs must raise RuntimeError naming the file when loaded for the JIT
(allow_native=False), never crash, hang or exhaust memory.

The inputs in test/fuzz/program_regressions/ are program sections that made
MLIR's bytecode reader abort (LLVM ERROR), segfault, exhaust memory or hang
before the program was checked (issue 17); test/fuzz's program_loader_fuzz
replays them through the parser directly, this test through whole files.
"""
import os
import struct
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import _ember, nn

REGRESSIONS = Path(__file__).resolve().parents[1] / "fuzz" / "program_regressions"
KINDS = {"manifest": 1, "program": 2, "weights": 3}


def sections(image):
    """[(name, bytes)] of a .ember image (docs/model-format.md)."""
    count = struct.unpack_from("<I", image, 12)[0]
    table = struct.unpack_from("<Q", image, 16)[0]
    found = []
    for i in range(count):
        _, _, name, offset, size = struct.unpack_from("<II32sQQ", image, table + 64 * i)
        found.append((name.rstrip(b"\0").decode(), bytes(image[offset:offset + size])))
    return found


@pytest.fixture(scope="module")
def exported():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    program = ember.export(model, ember.randn(2, 6), dynamic_dims=[{0: "batch"}])
    return model, dict(sections(program._image))


def write_model(path, parts, program):
    image = _ember._build_model_image(
        [(KINDS[name], name, program if name == "program" else data)
         for name, data in parts.items()])
    path.write_bytes(image)
    return path


def test_valid_program_still_loads_and_runs(exported, tmp_path):
    model, parts = exported
    path = write_model(tmp_path / "valid.ember", parts, parts["program"])
    loaded = ember.load_model(path, allow_native=False)
    assert loaded.executable_kind == "jit"
    x = np.random.default_rng(0).standard_normal((5, 6), dtype=np.float32)
    with ember.no_grad():
        expected = model(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(loaded(x).numpy(), expected, rtol=1e-5, atol=1e-5)


# What each hand-made input (test/fuzz/make_crafted_programs.py) did to
# MLIR's reader before the check, and what the check says now.
CRAFTED = {
    "crafted-attribute-cycle": "attribute 1 refers to itself",  # hang
    "crafted-empty-string": "string 0 has a bad size 0",  # segfault
    "crafted-fused-location": "fused location of fewer than two locations",  # bad cast
    "crafted-integer-width": "bad integer type",  # unverified 2^30-bit type
    "crafted-offset-group-overrun": "group of 9 entries overruns the table",  # heap write
    "crafted-operation-name-count": "operation name count 1099511627776 exceeds",  # abort
    "crafted-top-level-arguments": "the top-level block has arguments",  # segfault
}


def test_regression_inputs_raise(exported, tmp_path):
    _, parts = exported
    inputs = sorted(REGRESSIONS.iterdir())
    assert len(inputs) >= 100
    assert set(CRAFTED) <= {source.name for source in inputs}
    for source in inputs:
        path = write_model(tmp_path / f"{source.name}.ember", parts, source.read_bytes())
        with pytest.raises(RuntimeError) as raised:
            ember.load_model(path, allow_native=False)
        message = str(raised.value)
        assert message.startswith(f"{path}: the program section is malformed"), \
            f"{source.name}: {message}"
        assert CRAFTED.get(source.name, "") in message, message
        path.unlink()


def flip(program, offset, value):
    mutated = bytearray(program)
    mutated[offset] = value
    return bytes(mutated)


@pytest.mark.parametrize("program, expected", [
    (b"", "not MLIR bytecode"),
    (b"module {}", "not MLIR bytecode"),
    (b"ML\xefR", "truncated version"),
    (b"ML\xefR\x0d", "truncated producer"),
    (b"ML\xefR\x09x\x00", "bytecode version 4 is not supported"),
    (b"ML\xefR\x0dx\x00\x01\x03\x01", "missing section"),
    (b"ML\xefR\x0dx\x00\x81\x03\x01", "aligned section"),
    (b"ML\xefR\x0dx\x00\x09\x01", "unknown section 9"),
    (b"ML\xefR\x0dx\x00\x00\x00", "truncated section header"),
    (b"ML\xefR\x0dx\x00\x00\xff", "section 0 of 127 bytes exceeds the 0 bytes left"),
])
def test_crafted_headers_raise(exported, tmp_path, program, expected):
    _, parts = exported
    path = write_model(tmp_path / "m.ember", parts, program)
    with pytest.raises(RuntimeError, match="the program section is malformed.*" + expected):
        ember.load_model(path, allow_native=False)


def test_single_byte_changes_are_clean(exported, tmp_path):
    # Bytes of a real program, at fresh random offsets, set to 0x00 or 0xff:
    # the file loads (the byte did not matter) or fails with a message that
    # names the file; most changes are caught.
    _, parts = exported
    program = parts["program"]
    offsets = np.random.default_rng().choice(len(program), size=60, replace=False)
    raised = 0
    for offset in offsets:
        for value in (0x00, 0xFF):
            path = write_model(tmp_path / "m.ember", parts, flip(program, offset, value))
            try:
                ember.load_model(path, allow_native=False)
            except RuntimeError as error:
                assert str(error).startswith(f"{path}: "), str(error)
                raised += 1
    assert raised >= 30
