#!/usr/bin/python3
"""Hogwild training: several processes train one model in shared memory.

As PyTorch's mnist_hogwild example: the model's parameters are moved into
shared memory (``model.share_memory()``), N processes each build their own
optimizer over those same parameters and train on their own part of the
data, updating the shared weights without locks. Every update one process
makes is written into the shared pages and read by the others at their
next step.

The data is scikit-learn's 8x8 digits (1797 images, classes 0-9; Debian's
python3-sklearn ships it), split as examples/cnn_digits.py splits it. The
run first trains the same model from the same initial weights in one
process over the whole training set, then with N processes over 1/N of it
each (the same number of samples seen in all), and compares the test
accuracies.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/hogwild_digits.py
          [--processes 4] [--epochs 8] [--start-method fork|spawn|forkserver]
Exits with status 1 if the Hogwild model's test accuracy is more than
--tolerance below the single process's, or below 90%.
"""
import argparse
import sys

import numpy as np

import ember
import ember.multiprocessing as mp
from ember import nn

TARGET_ACCURACY = 0.90


def make_model():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def load_data(seed):
    """(x_train, y_train, x_test, y_test): (N, 64) standardized float32
    pixels and int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.images.astype(np.float32).reshape(-1, 64)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(), x[train].std()
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


def train(rank, model, x, y, epochs, batch_size, lr, seed):
    """Trains `model` (shared or not) on (x, y) with an optimizer of its
    own: the body of every Hogwild process."""
    ember.set_num_threads(1)
    optimizer = ember.optim.SGD(model.parameters(), lr=lr, momentum=0.5)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed + rank)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(ember.from_numpy(x[batch])),
                           ember.from_numpy(y[batch]))
            loss.backward()
            optimizer.step()


def accuracy(model, x, y):
    with ember.no_grad():
        predicted = model(ember.from_numpy(x)).argmax(1).numpy()
    return float((predicted == y).mean())


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=0.03)
    parser.add_argument("--start-method", default="fork",
                        choices=["fork", "spawn", "forkserver"])
    return parser.parse_args(argv)


def run(args):
    """Trains in one process, then with Hogwild; returns both test
    accuracies and the Hogwild processes' exit codes."""
    x_train, y_train, x_test, y_test = load_data(args.seed)
    ember.manual_seed(args.seed)
    initial = make_model().state_dict()

    single = make_model()
    single.load_state_dict(initial)
    train(0, single, x_train, y_train, args.epochs, args.batch_size, args.lr, args.seed)
    single_accuracy = accuracy(single, x_test, y_test)

    model = make_model()
    model.load_state_dict(initial)
    model.share_memory()
    context = mp.get_context(args.start_method)
    processes = []
    for rank in range(args.processes):
        shard = slice(rank, None, args.processes)
        process = context.Process(
            target=train,
            args=(rank, model, x_train[shard], y_train[shard], args.epochs,
                  args.batch_size, args.lr, args.seed))
        process.start()
        processes.append(process)
    for process in processes:
        process.join()
    hogwild_accuracy = accuracy(model, x_test, y_test)
    return single_accuracy, hogwild_accuracy, [p.exitcode for p in processes]


def main(argv=None):
    args = parse_args(argv)
    single_accuracy, hogwild_accuracy, exit_codes = run(args)
    print(f"1 process:  test accuracy {single_accuracy:.3f}")
    if any(exit_codes):
        print(f"FAIL: training processes exited with {exit_codes}")
        return 1
    print(f"{args.processes} processes (Hogwild, {args.start_method}): "
          f"test accuracy {hogwild_accuracy:.3f}")
    if hogwild_accuracy < single_accuracy - args.tolerance:
        print("FAIL: the Hogwild model is less accurate than one process's")
        return 1
    if hogwild_accuracy < TARGET_ACCURACY:
        print(f"FAIL: test accuracy below {TARGET_ACCURACY:.0%}")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
