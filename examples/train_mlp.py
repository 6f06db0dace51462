#!/usr/bin/python3
"""Trains an MLP classifier on the 8x8 handwritten digits with ember.nn and
ember.optim, then saves the weights with ember.save and reloads them.

The data is scikit-learn's digits set (1797 images of 8x8 pixels, classes
0-9), which Debian's python3-sklearn ships: nothing is downloaded. A fixed
permutation splits it into 1438 training and 359 test images (a fifth for
testing); pixels are standardized with the training set's mean and deviation.

Every training step (forward, loss, backward, SGD update) is traced lazily and
compiled into one program, which the following steps reuse: the first step
compiles one (it creates the momentum buffers), the second another (it
updates them), evaluation a third, and then the compile count printed per
epoch stops growing. The
batch size is constant (the last partial batch of an epoch is dropped), which
keeps the step's shapes fixed; Ember's dims are dynamic, so a smaller last
batch would not recompile either.

The run ends with an assertion that the test accuracy is at least 95% (exit
status 1 otherwise) and that the reloaded model predicts exactly what the
trained one does.

With --export-dir DIR it also exports the model (ember.export, batch dim
symbolic) to DIR/mlp.ember, with a few test images as .npy files: scripts/demo
then compiles it with ember-compile and runs it with ember-run and the C++ app
examples/cpp/predict_digits.cpp.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/train_mlp.py [--out FILE] [--export-dir DIR]
Set EMBER_DEBUG=1 (or EMBER_LOG_COMPILES=1) to see one line per compile on stderr.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

import ember
from ember import nn, optim

TARGET_ACCURACY = 0.95


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="where to save the weights "
                        "(default: model.safetensors in a temporary folder, removed at exit)")
    parser.add_argument("--export-dir", help="also export the trained model to DIR/mlp.ember "
                        "(ember.export, the batch dim symbolic) and write the first 8 test "
                        "images and labels to DIR/digits_x.npy and DIR/digits_y.npy, for "
                        "ember-compile, ember-run and examples/cpp/predict_digits")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


def load_data(seed):
    """(x_train, y_train, x_test, y_test): float32 standardized pixels and
    int64 labels, split 80/20 by a permutation drawn from ``seed``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0) + 1e-3  # a few border pixels are always 0
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


def make_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


@ember.no_grad()
def predict(model, x):
    """Class predictions (a NumPy array) for the rows of ``x``."""
    return model(ember.from_numpy(x)).argmax(dim=1).numpy()


def accuracy(model, x, y):
    return float((predict(model, x) == y).mean())


def export_model(model, x_test, y_test, folder):
    """Exports ``model`` with a symbolic batch dim, checks the exported program
    against the eager model on the whole test set, and writes a few test
    images for the C++ side of the demo."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "mlp.ember")
    program = ember.export(model, ember.from_numpy(x_test[:2]), dynamic_dims=[{0: "batch"}],
                           input_names=["images"], output_names=["logits"])
    program.save(path)
    with ember.no_grad():
        expected = model(ember.from_numpy(x_test)).numpy()
    exported = program(ember.from_numpy(x_test)).numpy()
    difference = float(np.max(np.abs(exported - expected)))
    np.save(os.path.join(folder, "digits_x.npy"), x_test[:8])
    np.save(os.path.join(folder, "digits_y.npy"), y_test[:8])
    print(f"exported {path} ({os.path.getsize(path)} bytes): {program}")
    print(f"  on the {len(x_test)} test images it matches the eager model to "
          f"{difference:.2g}")
    if difference > 1e-4:
        sys.exit("train_mlp: FAIL: the exported program computes different logits")


def main():
    args = parse_args()
    x_train, y_train, x_test, y_test = load_data(args.seed)
    ember.manual_seed(args.seed)
    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    rng = np.random.default_rng(args.seed)
    steps_per_epoch = len(x_train) // args.batch_size

    print(f"digits: {len(x_train)} training and {len(x_test)} test images of 8x8 pixels, "
          f"10 classes")
    print(f"model: {model}")
    print(f"SGD lr={args.lr} momentum=0.9, batch {args.batch_size}, "
          f"{steps_per_epoch} steps per epoch (last partial batch dropped)")
    print()

    run_start = time.perf_counter()
    train_seconds = 0.0
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = rng.permutation(len(x_train))
        epoch_start = time.perf_counter()
        loss_sum = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * args.batch_size:(step + 1) * args.batch_size]
            inputs = ember.from_numpy(x_train[batch])
            targets = ember.from_numpy(y_train[batch])
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            # Reading the loss runs the step's program (forward, backward and
            # the update), so the parameters are current for the next one.
            loss_sum += loss.item()
        epoch_seconds = time.perf_counter() - epoch_start
        train_seconds += epoch_seconds
        model.eval()
        train_acc = accuracy(model, x_train, y_train)
        test_acc = accuracy(model, x_test, y_test)
        print(f"epoch {epoch:2d}  loss {loss_sum / steps_per_epoch:.4f}  "
              f"train acc {train_acc:6.2%}  test acc {test_acc:6.2%}  "
              f"{steps_per_epoch / epoch_seconds:7.1f} steps/s  "
              f"compiles so far {ember.compile_stats()['compiles']}", flush=True)

    total_steps = args.epochs * steps_per_epoch
    stats = ember.compile_stats()
    print()
    print(f"trained {total_steps} steps in {train_seconds:.2f} s "
          f"({total_steps / train_seconds:.1f} steps/s incl. the first step's compile); "
          f"{stats['compiles']} compiles, {stats['compile_ms']:.0f} ms compiling, "
          f"{stats['cache_hits']} cache hits")

    # Save, then reload into a freshly initialized model.
    with tempfile.TemporaryDirectory() as scratch:
        path = args.out or os.path.join(scratch, "model.safetensors")
        ember.save(model.state_dict(), path)
        print(f"saved {len(model.state_dict())} tensors to {path} "
              f"({os.path.getsize(path)} bytes)")
        ember.manual_seed(args.seed + 1)
        reloaded = make_model()
        reloaded.load_state_dict(ember.load(path))
    reloaded.eval()
    with ember.no_grad():
        logits = model(ember.from_numpy(x_test)).numpy()
        reloaded_logits = reloaded(ember.from_numpy(x_test)).numpy()
    same = np.array_equal(logits, reloaded_logits)
    print(f"reloaded model: test predictions {'identical' if same else 'DIFFERENT'} "
          f"(max |logit difference| {np.max(np.abs(logits - reloaded_logits)):.3g})")

    if args.export_dir:
        export_model(model, x_test, y_test, args.export_dir)

    print(f"final test accuracy {test_acc:.2%} (target >= {TARGET_ACCURACY:.0%}); "
          f"total time {time.perf_counter() - run_start:.1f} s")
    if not same:
        sys.exit("train_mlp: FAIL: the reloaded model predicts differently")
    if test_acc < TARGET_ACCURACY:
        sys.exit(f"train_mlp: FAIL: test accuracy {test_acc:.2%} is below "
                 f"{TARGET_ACCURACY:.0%}")


if __name__ == "__main__":
    main()
