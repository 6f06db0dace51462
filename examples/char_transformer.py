#!/usr/bin/python3
"""Trains a character-level transformer language model on a text file with
ember.nn and checks, step by step, that PyTorch 1.13 computes the same
losses from the same initial weights.

The model is GPT-style: token and position embeddings, a stack of
nn.TransformerEncoderLayer (batch_first, norm_first, GELU) under a causal
mask (nn.Transformer.generate_square_subsequent_mask), a final LayerNorm and
a Linear head over the text's characters, trained with AdamW on random
windows of the text (predict each next character). PyTorch builds the model
under a fixed seed, Ember loads its state_dict (torch's parameter names:
encoder.layers.0.self_attn.in_proj_weight, ...), and both train on the same
batches with dropout 0. Each step prints both losses; the run fails (exit
status 1) when they drift apart by more than --tolerance (relative), or when
the loss has not fallen. Then Ember samples some text.

Attention runs as one ember.attention op per layer (on the CPU the
runtime's blocked kernel, its backward recomputing the weights from the
saved logsumexp). The training step compiles once; the compile count is
printed at the end.

The text (examples/data/sonnets.txt: Shakespeare's sonnets 1, 18, 29, 30,
116 and 130, public domain; the same file the char-level LSTM example
trains on) can be replaced with --text FILE.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/char_transformer.py [--steps N]
      [--no-torch]
"""
import argparse
import os
import sys

import numpy as np

import ember
from ember import nn as enn

DEFAULT_TEXT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                            "sonnets.txt")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", default=DEFAULT_TEXT)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--length", type=int, default=64,
                        help="characters per training window (the context)")
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest relative difference of a step's loss from torch's")
    parser.add_argument("--no-torch", action="store_true",
                        help="train with Ember only (no comparison)")
    parser.add_argument("--sample", type=int, default=200,
                        help="characters to sample after training")
    return parser.parse_args(argv)


def char_model(nn, vocab, args):
    """The same model class for either library (``nn`` is torch.nn or ember.nn)."""

    class CharTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, args.d_model)
            self.position = nn.Embedding(args.length, args.d_model)
            layer = nn.TransformerEncoderLayer(
                args.d_model, args.heads, 4 * args.d_model, dropout=0.0,
                activation="gelu", batch_first=True, norm_first=True)
            self.blocks = nn.TransformerEncoder(layer, args.layers)
            self.norm = nn.LayerNorm(args.d_model)
            self.head = nn.Linear(args.d_model, vocab)

        def forward(self, x):
            length = x.shape[1]
            h = self.embed(x) + self.position.weight[:length]
            mask = nn.Transformer.generate_square_subsequent_mask(length)
            h = self.blocks(h, mask=mask)
            return self.head(self.norm(h))

    return CharTransformer()


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


def train(args, log=print):
    """Trains for args.steps steps; returns (ember losses, torch losses or
    None, the ember model, the characters)."""
    chars, data = load_text(args.text)
    vocab = len(chars)
    torch = None
    if not args.no_torch:
        import warnings

        import torch
        torch.manual_seed(args.seed)
        with warnings.catch_warnings():  # 1.13's nested-tensor note on norm_first
            warnings.simplefilter("ignore")
            t_model = char_model(torch.nn, vocab, args)
        t_opt = torch.optim.AdamW(t_model.parameters(), lr=args.lr)
        state = {k: ember.from_numpy(v.detach().numpy().copy())
                 for k, v in t_model.state_dict().items()}
    e_model = char_model(enn, vocab, args)
    if torch is not None:
        e_model.load_state_dict(state)
    e_opt = ember.optim.AdamW(e_model.parameters(), lr=args.lr)
    e_loss_fn = enn.CrossEntropyLoss()
    e_losses, t_losses = [], ([] if torch is not None else None)
    stream = batches(data, args)
    for step in range(args.steps):
        x, y = next(stream)
        logits = e_model(ember.from_numpy(x))
        loss = e_loss_fn(logits.reshape(-1, vocab), ember.from_numpy(y.reshape(-1)))
        e_opt.zero_grad()
        loss.backward()
        e_opt.step()
        e_losses.append(loss.item())
        line = f"step {step:4d}  ember {e_losses[-1]:.6f}"
        if torch is not None:
            t_logits = t_model(torch.from_numpy(x))
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


def sample(model, chars, count, context, seed=0):
    """Draws each next character from the softmax over the last `context`
    characters."""
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(chars)}
    model.eval()
    text = "Shall "
    with ember.no_grad():
        for _ in range(count):
            window = [index[c] for c in text[-context:]]
            logits = model(ember.from_numpy(np.array([window], dtype=np.int64)))
            probs = ember.softmax(logits[0, -1], 0).numpy().astype(np.float64)
            text += chars[rng.choice(len(chars), p=probs / probs.sum())]
    return text


def main():
    args = parse_args()
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
        print(sample(model, chars, args.sample, args.length))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
