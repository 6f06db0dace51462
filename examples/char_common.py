"""What the char-level examples (char_lstm.py, char_transformer.py) share:
their data and run arguments, the text as character indices, random
training windows, the training loop that runs Ember and PyTorch 1.13 side
by side from the same initial weights, and the report that fails the run
when the losses drift apart or do not fall."""
import argparse
import os
import sys
import warnings

import numpy as np

import ember
from ember import nn as enn

DEFAULT_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "sonnets.txt")


def parser(description, length_help):
    """An argument parser with the data arguments (--text, --steps,
    --batch-size, --length); the model's follow, then add_run_args."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--text", default=DEFAULT_TEXT)
    result.add_argument("--steps", type=int, default=200)
    result.add_argument("--batch-size", type=int, default=16)
    result.add_argument("--length", type=int, default=64, help=length_help)
    return result


def add_run_args(parser):
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest relative difference of a step's loss from torch's")
    parser.add_argument("--no-torch", action="store_true",
                        help="train with Ember only (no comparison)")
    parser.add_argument("--sample", type=int, default=200,
                        help="characters to sample after training")


def load_text(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return chars, np.array([index[c] for c in text], dtype=np.int64)


def batches(data, args):
    """Random windows of the text: inputs and the next characters."""
    rng = np.random.default_rng(args.seed)
    while True:
        starts = rng.integers(0, len(data) - args.length - 1, size=args.batch_size)
        x = np.stack([data[s:s + args.length] for s in starts])
        y = np.stack([data[s + 1:s + args.length + 1] for s in starts])
        yield x, y


def _logits(output):
    """The logits of a model that returns them alone or first (LSTM: state)."""
    return output[0] if isinstance(output, tuple) else output


def train(args, char_model, optimizer, log=print):
    """Trains ``char_model(nn, vocab, args)`` (built for both libraries;
    Ember's loads torch's initial state_dict) with ``optimizer`` (a class
    name in both ``optim`` packages) for args.steps steps; returns (ember
    losses, torch losses or None, the ember model, the characters)."""
    chars, data = load_text(args.text)
    vocab = len(chars)
    torch = None
    if not args.no_torch:
        import torch
        torch.manual_seed(args.seed)
        with warnings.catch_warnings():  # 1.13's nested-tensor note on norm_first
            warnings.simplefilter("ignore")
            t_model = char_model(torch.nn, vocab, args)
        t_opt = getattr(torch.optim, optimizer)(t_model.parameters(), lr=args.lr)
        state = {k: ember.from_numpy(v.detach().numpy().copy())
                 for k, v in t_model.state_dict().items()}
    e_model = char_model(enn, vocab, args)
    if torch is not None:
        e_model.load_state_dict(state)
    e_opt = getattr(ember.optim, optimizer)(e_model.parameters(), lr=args.lr)
    e_loss_fn = enn.CrossEntropyLoss()
    e_losses, t_losses = [], ([] if torch is not None else None)
    stream = batches(data, args)
    for step in range(args.steps):
        x, y = next(stream)
        logits = _logits(e_model(ember.from_numpy(x)))
        loss = e_loss_fn(logits.reshape(-1, vocab), ember.from_numpy(y.reshape(-1)))
        e_opt.zero_grad()
        loss.backward()
        e_opt.step()
        e_losses.append(loss.item())
        line = f"step {step:4d}  ember {e_losses[-1]:.6f}"
        if torch is not None:
            t_logits = _logits(t_model(torch.from_numpy(x)))
            t_loss = torch.nn.functional.cross_entropy(t_logits.reshape(-1, vocab),
                                                       torch.from_numpy(y.reshape(-1)))
            t_opt.zero_grad()
            t_loss.backward()
            t_opt.step()
            t_losses.append(t_loss.item())
            line += f"  torch {t_losses[-1]:.6f}"
        if log and (step % 10 == 0 or step == args.steps - 1):
            log(line)
    return e_losses, t_losses, e_model, chars


def main(args, train, sample):
    """Trains, reports the largest difference from torch, the loss's fall
    and the compile count, prints ``sample(model, chars)`` and exits with 1
    when the losses drifted apart or did not fall."""
    e_losses, t_losses, model, chars = train(args)
    ok = True
    if t_losses is not None:
        diffs = [abs(e - t) / abs(t) for e, t in zip(e_losses, t_losses)]
        print(f"largest relative difference from torch over {len(diffs)} steps: "
              f"{max(diffs):.2e} (tolerance {args.tolerance:.0e})")
        ok = max(diffs) <= args.tolerance
    first = np.mean(e_losses[:5])
    last = np.mean(e_losses[-5:])
    print(f"loss {first:.3f} -> {last:.3f}")
    ok = ok and last < first
    stats = ember.compile_stats()
    print(f"programs compiled: {stats['compiles']} (disk cache hits: {stats['disk_hits']})")
    if args.sample:
        print(sample(model, chars))
    sys.exit(0 if ok else 1)
