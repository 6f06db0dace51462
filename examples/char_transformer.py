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
import os
import sys

import numpy as np

import ember

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import char_common  # noqa: E402


def parse_args(argv=None):
    parser = char_common.parser(__doc__.split("\n\n")[0],
                                "characters per training window (the context)")
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    char_common.add_run_args(parser)
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


def train(args, log=print):
    """Trains for args.steps steps with AdamW; returns (ember losses, torch
    losses or None, the ember model, the characters)."""
    return char_common.train(args, char_model, "AdamW", log)


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
    char_common.main(args, train,
                     lambda model, chars: sample(model, chars, args.sample, args.length))


if __name__ == "__main__":
    main()
