#!/usr/bin/python3
"""Trains a small CNN (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Linear) on the
8x8 handwritten digits with ember and with PyTorch 1.13 side by side, from
the same initial weights on the same batches, and checks that the two
losses agree at every step.

The model is defined once (``make_model(nn)``) and built from ``ember.nn``
and from ``torch.nn``: PyTorch's randomly initialized state_dict is copied
into ember's model (the keys are the same, BatchNorm's running_mean,
running_var and num_batches_tracked included). Both train with SGD
(momentum 0.9) and cross-entropy, in float32; after training the
running statistics and weights are compared, both models are evaluated
(BatchNorm then normalizes with its running statistics), and ember's final
state_dict is loaded back into a fresh PyTorch model, which must predict
what ember's does.

The data is scikit-learn's digits set (1797 images of 8x8 pixels, classes
0-9), which Debian's python3-sklearn ships: nothing is downloaded. A fixed
permutation splits it into 1438 training and 359 test images.

Every training step (forward, loss, backward, SGD update and BatchNorm's
running-statistic updates) is one lazily traced program: after the first
steps the compile count stops growing, which the run checks.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/cnn_digits.py [--epochs N]
Exits with status 1 if a loss differs by more than --tolerance, if the
compile count grows after the first epoch, or if the test accuracy is
below 90%.
"""
import argparse
import sys
import time

import numpy as np
import torch

import ember

TARGET_ACCURACY = 0.90


def make_model(nn):
    """The CNN, from either framework's ``nn`` (the same code for both)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),                                            # 16 x 4 x 4
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),                                            # 32 x 2 x 2
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


def load_data(seed):
    """(x_train, y_train, x_test, y_test): (N, 1, 8, 8) float32 pixels
    standardized with the training set's mean and deviation, int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


def programs_built():
    """Compiles, plus programs loaded from the disk cache (compiled by an
    earlier run)."""
    stats = ember.compile_stats()
    return stats["compiles"] + stats["disk_hits"]


def ember_state(torch_state):
    return {name: ember.from_numpy(value.detach().numpy().copy())
            for name, value in torch_state.items()}


def torch_state(ember_state_dict):
    return {name: torch.from_numpy(np.array(value.numpy(), copy=True))
            for name, value in ember_state_dict.items()}


def train(epochs=3, batch_size=64, lr=0.05, seed=0, max_steps=None, log=print):
    """Trains both models; returns a dict of what was compared: the two
    loss sequences, the compile count after each step, the largest
    differences of weights and running statistics, and eval results."""
    x_train, y_train, x_test, y_test = load_data(seed)
    torch.manual_seed(seed)
    reference = make_model(torch.nn)
    model = make_model(ember.nn)
    model.load_state_dict(ember_state(reference.state_dict()))
    loss_fn, reference_loss_fn = ember.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    optimizer = ember.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=lr, momentum=0.9)
    rng = np.random.default_rng(seed)
    steps_per_epoch = len(x_train) // batch_size
    losses, reference_losses, compiles = [], [], []
    ember_times, torch_times = [], []
    log(f"model: {model}")
    log(f"{len(x_train)} training and {len(x_test)} test images; SGD lr={lr} momentum=0.9, "
        f"batch {batch_size}, {steps_per_epoch} steps per epoch")
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        for step in range(steps_per_epoch):
            if max_steps is not None and len(losses) >= max_steps:
                break
            batch = order[step * batch_size:(step + 1) * batch_size]
            start = time.perf_counter()
            optimizer.zero_grad()
            loss = loss_fn(model(ember.from_numpy(x_train[batch])),
                           ember.from_numpy(y_train[batch]))
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            ember_times.append(time.perf_counter() - start)
            compiles.append(programs_built())

            start = time.perf_counter()
            reference_optimizer.zero_grad()
            reference_loss = reference_loss_fn(reference(torch.from_numpy(x_train[batch])),
                                               torch.from_numpy(y_train[batch]))
            reference_loss.backward()
            reference_optimizer.step()
            reference_losses.append(reference_loss.item())
            torch_times.append(time.perf_counter() - start)
        done = len(losses) - (epoch - 1) * steps_per_epoch
        if done <= 0:
            break
        recent = slice(len(losses) - done, len(losses))
        difference = np.max(np.abs(np.subtract(losses[recent], reference_losses[recent])))
        log(f"epoch {epoch}: loss ember {np.mean(losses[recent]):.6f}  torch "
            f"{np.mean(reference_losses[recent]):.6f}  max |step loss difference| "
            f"{difference:.2e}  programs so far {compiles[-1]}")

    weights = {name: float(np.max(np.abs(value.numpy() - reference.state_dict()[name].numpy())))
               for name, value in model.state_dict().items()}
    model.eval()
    reference.eval()
    with ember.no_grad():
        logits = model(ember.from_numpy(x_test)).numpy()
    with torch.no_grad():
        reference_logits = reference(torch.from_numpy(x_test)).numpy()
    # ember's trained state_dict, loaded into a fresh PyTorch model.
    round_trip = make_model(torch.nn)
    round_trip.load_state_dict(torch_state(model.state_dict()))
    round_trip.eval()
    with torch.no_grad():
        round_trip_logits = round_trip(torch.from_numpy(x_test)).numpy()
    return {
        "losses": losses, "reference_losses": reference_losses, "compiles": compiles,
        "state_differences": weights,
        "eval_logit_difference": float(np.max(np.abs(logits - reference_logits))),
        "round_trip_logit_difference": float(np.max(np.abs(logits - round_trip_logits))),
        "test_accuracy": float((logits.argmax(1) == y_test).mean()),
        "reference_test_accuracy": float((reference_logits.argmax(1) == y_test).mean()),
        "steps_per_epoch": steps_per_epoch, "ember_step_seconds": ember_times,
        "torch_step_seconds": torch_times,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest |loss difference| allowed at any step")
    args = parser.parse_args()
    result = train(args.epochs, args.batch_size, args.lr, args.seed)
    differences = np.abs(np.subtract(result["losses"], result["reference_losses"]))
    print()
    print(f"{len(differences)} steps: max |loss difference| {differences.max():.2e} "
          f"(step {int(differences.argmax()) + 1}), final loss ember "
          f"{result['losses'][-1]:.6f} torch {result['reference_losses'][-1]:.6f}")
    worst = max(result["state_differences"], key=result["state_differences"].get)
    print(f"state_dict after training: max |difference| "
          f"{result['state_differences'][worst]:.2e} ({worst})")
    print(f"eval: test accuracy ember {result['test_accuracy']:.2%} torch "
          f"{result['reference_test_accuracy']:.2%}; max |logit difference| "
          f"{result['eval_logit_difference']:.2e}; ember's state_dict in torch: "
          f"{result['round_trip_logit_difference']:.2e}")
    ember_times, torch_times = result["ember_step_seconds"], result["torch_step_seconds"]
    warm = slice(min(result["steps_per_epoch"], len(ember_times) - 1), None)
    print(f"time per training step after the first epoch (median): ember "
          f"{np.median(ember_times[warm]) * 1e3:.2f} ms, torch "
          f"{np.median(torch_times[warm]) * 1e3:.2f} ms; ember's first epoch "
          f"{sum(ember_times[:result['steps_per_epoch']]):.1f} s with its "
          f"{result['compiles'][-1]} programs compiled or loaded from the disk cache")
    failures = []
    if differences.max() > args.tolerance:
        failures.append(f"a loss differs by {differences.max():.2e} > {args.tolerance}")
    per_epoch = result["steps_per_epoch"]
    if len(result["compiles"]) > per_epoch and \
            result["compiles"][-1] != result["compiles"][per_epoch - 1]:
        failures.append(f"compiles grew after the first epoch: "
                        f"{result['compiles'][per_epoch - 1]} -> {result['compiles'][-1]}")
    if result["test_accuracy"] < TARGET_ACCURACY:
        failures.append(f"test accuracy {result['test_accuracy']:.2%} < "
                        f"{TARGET_ACCURACY:.0%}")
    if result["round_trip_logit_difference"] > 1e-4:
        failures.append("ember's state_dict predicts differently in torch")
    if failures:
        sys.exit("cnn_digits: FAIL: " + "; ".join(failures))


if __name__ == "__main__":
    main()
