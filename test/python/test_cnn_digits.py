"""examples/cnn_digits.py for a few steps: the CNN (Conv2d, BatchNorm2d,
ReLU, MaxPool2d, Linear) trained by ember and by PyTorch 1.13 from the same
initial weights on the same batches gives the same loss at every step, the
same running statistics and weights, and one program for all steps after
the first few."""

import os
import runpy

import numpy as np


def example_path():
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", "examples", "cnn_digits.py"),
                          os.path.join(base, "__main__", "examples", "cnn_digits.py"),
                          os.path.join(base, "..", "..", "examples", "cnn_digits.py")):
            if os.path.exists(candidate):
                return candidate
    raise FileNotFoundError("examples/cnn_digits.py")


def test_cnn_digits_matches_torch_step_for_step():
    example = runpy.run_path(example_path(), run_name="cnn_digits")
    result = example["train"](epochs=1, max_steps=8, log=lambda *_: None)
    losses, reference = np.array(result["losses"]), np.array(result["reference_losses"])
    assert len(losses) == 8
    np.testing.assert_allclose(losses, reference, rtol=0, atol=1e-5)
    assert losses[-1] < losses[0]
    # Weights, BatchNorm's running statistics and num_batches_tracked.
    assert max(result["state_differences"].values()) < 1e-4
    assert result["eval_logit_difference"] < 1e-3
    assert result["round_trip_logit_difference"] < 1e-4
    # Steps 4..8 run the program the earlier steps built.
    assert result["compiles"][3:] == [result["compiles"][3]] * 5, result["compiles"]
