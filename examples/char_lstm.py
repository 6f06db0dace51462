#!/usr/bin/python3
"""Trains a character-level LSTM language model on a text file with ember.nn
and checks, step by step, that PyTorch 1.13 computes the same losses from
the same initial weights.

The model is Embedding -> 2-layer LSTM -> Linear over the text's characters,
trained with Adam on random windows of the text (predict each next
character). PyTorch builds the model under a fixed seed, Ember loads its
state_dict (parameter names are torch's: weight_ih_l0, weight_hh_l1, ...),
and both train on the same batches. Each step prints both losses; the run
fails (exit status 1) when they drift apart by more than --tolerance
(relative), or when the loss has not fallen. Then Ember samples some text.

The LSTM's loop over the time steps is one op (ember.recurrent_sequence):
the training step compiles once, and a batch of a different length
(--length) would run the same program. The compile count is printed at the
end.

The text (examples/data/sonnets.txt: Shakespeare's sonnets 1, 18, 29, 30,
116 and 130, public domain) can be replaced with --text FILE.

Run:  PYTHONPATH=build/python /usr/bin/python3 examples/char_lstm.py [--steps N]
      [--no-torch]
"""
import os
import sys

import numpy as np

import ember

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import char_common  # noqa: E402


def parse_args(argv=None):
    parser = char_common.parser(__doc__.split("\n\n")[0], "characters per training window")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--embedding", type=int, default=32)
    char_common.add_run_args(parser)
    return parser.parse_args(argv)


def char_model(nn, vocab, args):
    """The same model class for either library (``nn`` is torch.nn or ember.nn)."""

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, args.embedding)
            self.lstm = nn.LSTM(args.embedding, args.hidden, num_layers=args.layers,
                                batch_first=True)
            self.head = nn.Linear(args.hidden, vocab)

        def forward(self, x, state=None):
            out, state = self.lstm(self.embed(x), state)
            return self.head(out), state

    return CharLSTM()


def train(args, log=print):
    """Trains for args.steps steps with Adam; returns (ember losses, torch
    losses or None, the ember model, the characters)."""
    return char_common.train(args, char_model, "Adam", log)


def sample(model, chars, count, seed=0):
    """Greedy-free sampling: draws each next character from the softmax."""
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(chars)}
    model.eval()
    text = "Shall "
    state = None
    x = np.array([[index[c] for c in text]], dtype=np.int64)
    with ember.no_grad():
        for _ in range(count):
            logits, state = model(ember.from_numpy(x), state)
            probs = ember.softmax(logits[0, -1], 0).numpy().astype(np.float64)
            nxt = rng.choice(len(chars), p=probs / probs.sum())
            text += chars[nxt]
            x = np.array([[nxt]], dtype=np.int64)
    return text


def main():
    args = parse_args()
    char_common.main(args, train, lambda model, chars: sample(model, chars, args.sample))


if __name__ == "__main__":
    main()
