"""examples/char_transformer.py: a few training steps of the char-level
transformer match PyTorch 1.13's losses step for step from the same initial
weights, and later steps (another window length included) compile nothing
new."""

import importlib.util
import os

import ember


def load_example():
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for folder in ("_main", "__main__", os.path.join("..", "..")):
            candidate = os.path.join(base, folder, "examples", "char_transformer.py")
            if os.path.exists(candidate):
                spec = importlib.util.spec_from_file_location("char_transformer", candidate)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
    raise FileNotFoundError("examples/char_transformer.py")


def test_char_transformer_matches_torch_step_for_step():
    example = load_example()
    args = example.parse_args(["--steps", "6", "--batch-size", "4", "--length", "24",
                               "--d-model", "32", "--heads", "4", "--sample", "0"])
    assert os.path.exists(args.text)
    e_losses, t_losses, _, _ = example.train(args, log=None)
    assert len(e_losses) == len(t_losses) == 6
    for step, (e, t) in enumerate(zip(e_losses, t_losses)):
        assert abs(e - t) <= 1e-4 * abs(t), (step, e, t)
    assert e_losses[-1] < e_losses[0]
    # A fresh model's steps 3-5 run the programs of step 2 (dims are dynamic).
    before = ember.compile_stats()
    example.train(example.parse_args(["--steps", "5", "--batch-size", "4", "--length",
                                      "24", "--d-model", "32", "--heads", "4",
                                      "--sample", "0", "--no-torch"]), log=None)
    assert ember.compile_stats()["compiles"] - before["compiles"] <= 3
