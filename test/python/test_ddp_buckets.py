"""DistributedDataParallel's bucketing and bookkeeping in one process, over
a fake two-rank process group whose peer holds the same values: the
bucket assignment is torch's, the gradients come back averaged and laid
out as torch's reducer lays them out, no_sync and find_unused_parameters
do what torch's do. test_distributed_ddp.py trains over real processes."""

import sys
import types

import numpy as np
import pytest
import torch
import torch.distributed as tdist

import ember
import ember.nn as nn
from ember.nn.parallel import _buckets


class FakeWork:
    def wait(self):
        return True


class FakeGroup(types.ModuleType):
    """ember.distributed for a world of 2 whose other rank holds this
    rank's values: all_reduce doubles, broadcast writes `root_value`."""

    def __init__(self, root_value=None, eager=False):
        super().__init__("ember.distributed")
        self.calls = []
        self.root_value = root_value
        self.eager = eager   # computes a collective's input at issue, as Gloo's does

    def is_available(self):
        return True

    def is_initialized(self):
        return True

    def get_world_size(self, group=None):
        return 2

    def get_rank(self, group=None):
        return 0

    def all_reduce(self, tensor, op=None, group=None, async_op=False):
        self.calls.append(("all_reduce", tuple(tensor.shape), str(tensor.dtype)))
        if self.eager:
            tensor.numpy()
        tensor.mul_(2)
        return FakeWork() if async_op else None

    def broadcast(self, tensor, src, group=None, async_op=False):
        self.calls.append(("broadcast", tuple(tensor.shape), src))
        if self.root_value is not None:
            tensor.fill_(self.root_value)
        return FakeWork() if async_op else None

    def all_gather(self, tensors, tensor, group=None, async_op=False):
        self.calls.append(("all_gather", tuple(tensor.shape)))
        for t in tensors:
            t.copy_(tensor)


@pytest.fixture
def fake(monkeypatch):
    group = FakeGroup()
    monkeypatch.setitem(sys.modules, "ember.distributed", group)
    monkeypatch.setattr(ember, "distributed", group, raising=False)
    return group


def _torch_buckets(shapes, dtypes, limits):
    tensors = [torch.zeros(s, dtype=d) for s, d in zip(shapes, dtypes)]
    buckets, _ = tdist._compute_bucket_assignment_by_size(tensors, limits)
    return list(reversed(buckets))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bucket_assignment_matches_torch(seed):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(1, 30))
    shapes = [tuple(int(d) for d in rng.integers(1, 40, size=rng.integers(1, 3)))
              for _ in range(count)]
    dtypes = [[torch.float32, torch.float64][int(rng.integers(0, 2))] for _ in range(count)]
    limits = [int(rng.integers(64, 2000)), int(rng.integers(64, 8000))]
    ember_dtypes = {torch.float32: ember.float32, torch.float64: ember.float64}
    ours = [ember.zeros(s, dtype=ember_dtypes[d]) for s, d in zip(shapes, dtypes)]
    buckets, _ = _buckets.compute_bucket_assignment_by_size(ours, limits)
    assert list(reversed(buckets)) == _torch_buckets(shapes, dtypes, limits)


def _mlp():
    ember.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 40), nn.ReLU(), nn.Linear(40, 30), nn.ReLU(),
                         nn.Linear(30, 3))


def test_gradients_are_averaged_per_bucket(fake, monkeypatch):
    # Small buckets (torch too lets one set its first bucket's size).
    monkeypatch.setattr(_buckets, "DEFAULT_FIRST_BUCKET_BYTES", 1024)
    model = _mlp()
    reference = _mlp()
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=4096 / 2**20)
    params = list(model.parameters())
    expected = _buckets.ddp_buckets(params, 4096 / 2**20)
    assert len(expected) >= 3
    assert [c[0] for c in fake.calls] == ["all_gather", "broadcast"]
    fake.calls.clear()
    x = ember.randn(8, 6)
    ddp(x).square().sum().backward()
    reference(x).square().sum().backward()
    sizes = [sum(params[i].numel() for i in b) for b in expected]
    assert fake.calls == [("all_reduce", (n,), "ember.float32") for n in sizes]
    for p, q in zip(params, reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_an_eager_engine_computes_backward_and_buckets_in_one_program(monkeypatch):
    group = FakeGroup(eager=True)
    monkeypatch.setitem(sys.modules, "ember.distributed", group)
    monkeypatch.setattr(ember, "distributed", group, raising=False)
    monkeypatch.setattr(_buckets, "DEFAULT_FIRST_BUCKET_BYTES", 1024)
    model = _mlp()
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=4096 / 2**20)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    x = ember.randn(8, 6)
    runs = []
    for _ in range(3):
        group.calls.clear()
        before = ember.compile_stats()["graphs_run"]
        opt.zero_grad()
        loss = ddp(x).square().mean()
        loss.backward()
        opt.step()
        loss.item()
        runs.append(ember.compile_stats()["graphs_run"] - before)
    assert len(group.calls) >= 3
    # Forward, backward and every bucket; then the optimizer step.
    assert runs[1:] == [2, 2]


def test_wrap_broadcasts_rank0_states(monkeypatch):
    group = FakeGroup(root_value=0.5)
    monkeypatch.setitem(sys.modules, "ember.distributed", group)
    monkeypatch.setattr(ember, "distributed", group, raising=False)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ddp = nn.parallel.DistributedDataParallel(model)
    for t in list(model.parameters()) + [model[1].running_mean, model[1].running_var]:
        assert (t.numpy() == 0.5).all()
    assert list(ddp.state_dict())[0].startswith("module.")
    assert ddp.module is model


def test_no_sync_accumulates_locally(fake):
    model = _mlp()
    ddp = nn.parallel.DistributedDataParallel(model)
    fake.calls.clear()
    x = ember.randn(4, 6)
    with ddp.no_sync():
        ddp(x).sum().backward()
    assert fake.calls == []
    ddp(x).sum().backward()
    assert [c[0] for c in fake.calls] == ["all_reduce"]   # one bucket: < 1 MiB
    reference = _mlp()
    reference(x).sum().backward()
    reference(x).sum().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("hook_first", [True, False])
def test_module_backward_hooks_are_reduced_once_after_their_replay(fake, hook_first):
    model = _mlp()
    seen = []

    def hook(module, grad_input, grad_output):
        seen.append(1)
        return (grad_input[0] * 2,)

    if hook_first:
        model[2].register_full_backward_hook(hook)
    ddp = nn.parallel.DistributedDataParallel(model)
    x = ember.randn(4, 6)
    ddp(x).sum().backward()
    if not hook_first:
        model[2].register_full_backward_hook(hook)
    fake.calls.clear()
    ddp(x).sum().backward()
    assert [c[0] for c in fake.calls] == ["all_reduce"] and seen
    reference = _mlp()
    reference[2].register_full_backward_hook(hook)
    reference(x).sum().backward()
    if not hook_first:
        reference.zero_grad()
        reference(x).sum().backward()
        for p in model.parameters():
            p.grad = None
        ddp(x).sum().backward()
    else:
        reference(x).sum().backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-5)


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(4, 2)

    def forward(self, x, use_b=False):
        return self.b(x) if use_b else self.a(x)


def test_find_unused_parameters(fake):
    model = TwoHeads()
    ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True)
    fake.calls.clear()
    ddp(ember.randn(3, 4)).sum().backward()
    # The usage counts, then the used parameters' bucket only.
    assert fake.calls == [("all_reduce", (4,), "ember.int32"),
                          ("all_reduce", (10,), "ember.float32")]
    assert model.b.weight.grad is None and model.a.weight.grad is not None


def test_unused_parameters_without_detection_raise_next_forward(fake):
    ddp = nn.parallel.DistributedDataParallel(TwoHeads())
    ddp(ember.randn(3, 4)).sum().backward()
    with pytest.raises(RuntimeError, match="find_unused_parameters=True.*b.weight"):
        ddp(ember.randn(3, 4))


def test_data_parallel_forwards():
    model = nn.Linear(3, 2)
    wrapped = nn.DataParallel(model)
    x = ember.randn(2, 3)
    np.testing.assert_array_equal(wrapped(x).numpy(), model(x).numpy())
    assert set(wrapped.state_dict()) == {"module.weight", "module.bias"}
