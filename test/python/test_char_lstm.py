"""examples/char_lstm.py: a few training steps of the char-level LSTM match
PyTorch 1.13's losses step for step from the same initial weights, and the
steps after the first two compile nothing."""

import importlib.util
import os

import ember


def load_example():
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", "examples", "char_lstm.py"),
                          os.path.join(base, "__main__", "examples", "char_lstm.py"),
                          os.path.join(base, "..", "..", "examples", "char_lstm.py")):
            if os.path.exists(candidate):
                spec = importlib.util.spec_from_file_location("char_lstm", candidate)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
    raise FileNotFoundError("examples/char_lstm.py")


def test_char_lstm_matches_torch_step_for_step():
    example = load_example()
    args = example.parse_args(["--steps", "6", "--batch-size", "4", "--length", "24",
                               "--hidden", "32", "--sample", "0"])
    assert os.path.exists(args.text)
    e_losses, t_losses, _, _ = example.train(args, log=None)
    assert len(e_losses) == len(t_losses) == 6
    for step, (e, t) in enumerate(zip(e_losses, t_losses)):
        assert abs(e - t) <= 1e-4 * abs(t), (step, e, t)
    # The model learns, and steps 3-6 run the programs of step 2.
    before = ember.compile_stats()
    example.train(example.parse_args(["--steps", "3", "--batch-size", "4", "--length",
                                      "40", "--hidden", "32", "--sample", "0",
                                      "--no-torch"]), log=None)
    after = ember.compile_stats()
    assert after["compiles"] - before["compiles"] <= 3
