"""A PyTorch-tutorial style program: only the import is Ember's.

Fits sin(x) with a cubic (the "Learning PyTorch with Examples" tutorial),
then runs a tiny causal self-attention sampler the way nanoGPT-style
tutorials write it: tril masks, masked_fill, split, topk, multinomial.
Run: PYTHONPATH=build/python /usr/bin/python3 examples/tensor_breadth.py
"""

import math

import ember as torch

# --- Polynomial regression of sin, autograd, no_grad updates ---------------
dtype = torch.float
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
a = torch.randn((), dtype=dtype, requires_grad=True)
b = torch.randn((), dtype=dtype, requires_grad=True)
c = torch.randn((), dtype=dtype, requires_grad=True)
d = torch.randn((), dtype=dtype, requires_grad=True)
learning_rate = 1e-6
for t in range(2000):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 500 == 499:
        print(t, '{:.2f}'.format(loss.item()))
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= learning_rate * p.grad
            p.grad = None
print(f'Result: y = {a.item():+.3f} {b.item():+.3f} x {c.item():+.3f} x^2 {d.item():+.3f} x^3')
final_loss = loss.item()

# --- A causal attention step and sampling ----------------------------------
torch.manual_seed(1337)
B, T, C, vocab = 2, 8, 16, 27
tokens = torch.randint(0, vocab, (B, T))
embedding = torch.randn(vocab, C)
h = embedding[tokens]                                    # (B, T, C)
qkv = h @ torch.randn(C, 3 * C) / math.sqrt(C)
q, k, v = qkv.split(C, dim=2)
att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
mask = torch.tril(torch.ones(T, T))
att = att.masked_fill(mask == 0, float('-inf'))
att = torch.softmax(att, dim=-1)
out = att @ v
logits = out[:, -1, :] @ embedding.t()                   # (B, vocab)
top_values, top_index = torch.topk(logits, 5)
logits[logits < top_values[:, [-1]]] = -float('inf')
probs = torch.softmax(logits, dim=-1)
next_token = torch.multinomial(probs, num_samples=1)
assert bool((torch.gather(top_index, 1, torch.argmax((top_index == next_token).long(), 1,
                                                      keepdim=True)) == next_token).all())
print('next tokens:', next_token.view(-1).tolist())

# --- The rest of the everyday surface --------------------------------------
perm = torch.randperm(10)
assert sorted(perm.tolist()) == list(range(10))
eye = torch.eye(3)
assert torch.equal(eye.narrow(0, 1, 2), eye[1:3])
labels = torch.LongTensor([0, 2, 1])
assert labels.type() == 'torch.LongTensor'
w = torch.autograd.Variable(torch.zeros(3), requires_grad=True)
with torch.inference_mode():
    assert not (w * 2).requires_grad
total = torch.empty(3)
torch.mul(input=eye.sum(0), other=2.0, out=total)
assert total.tolist() == [2.0, 2.0, 2.0]
print('ok', '{:.4f}'.format(final_loss))
