"""One rank of test_distributed_ddp.py's runs, written as a torch user
writes a DDP script (`import ember as torch`), launched by the test with
RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT in the environment (by hand, by
`python -m ember.distributed.run`, or by mpirun).

    ddp_worker.py OUT_DIR BACKEND SCENARIO...

Each scenario trains over the ranks and, on every rank, the same model
single-process on the concatenated batches; every rank saves both
parameter sets to OUT_DIR/<scenario>.rank<r>.npz for the test to compare.
"""

import datetime
import os
import sys
import time

import numpy as np

import ember as torch
import ember.distributed as dist
import ember.nn as nn
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DistributedSampler, TensorDataset

STEPS = 3


def mlp():
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))


def cnn():
    torch.manual_seed(8)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 2 * 2, 4))


def data(shape, classes, count=16):
    rng = np.random.default_rng(11)
    x = torch.tensor(rng.standard_normal((count, *shape)).astype(np.float32))
    y = torch.tensor(rng.integers(0, classes, count))
    return TensorDataset(x, y)


def params(model):
    return {n: p.detach().numpy() for n, p in model.named_parameters()}


def train(make_model, dataset, out, name, checkpoint=False):
    """STEPS steps of SGD over DistributedSampler shards (4 samples a rank a
    step) against one process on the ranks' concatenated shards."""
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(make_model())
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    reference = make_model()
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    samplers = [DistributedSampler(dataset, world, r, shuffle=True, seed=3)
                for r in range(world)]
    mine = DistributedSampler(dataset, shuffle=True, seed=3)   # from the group
    programs = []   # programs each DDP step ran
    for step in range(STEPS):
        epoch, at = divmod(step * 4, len(mine))
        for s in samplers + [mine]:
            s.set_epoch(epoch)
        local = list(mine)[at:at + 4]
        assert local == list(samplers[rank])[at:at + 4]
        everyone = [i for s in samplers for i in list(s)[at:at + 4]]
        x, y = dataset[local]
        before = torch.compile_stats()["graphs_run"]
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
        programs.append(torch.compile_stats()["graphs_run"] - before)
        x, y = dataset[everyone]
        ref_opt.zero_grad()
        loss_fn(reference(x), y).backward()
        ref_opt.step()
    result = {"ddp." + k: v for k, v in params(model.module).items()}
    result.update({"ref." + k: v for k, v in params(reference).items()})
    result["programs"] = np.array(programs)
    if checkpoint:
        # Rank 0 saves, every rank loads after the barrier.
        path = os.path.join(out, name + ".checkpoint")
        if rank == 0:
            torch.save(model.state_dict(), path)
        dist.barrier()
        restored = DDP(make_model())
        restored.load_state_dict(torch.load(path, map_location="cpu"))
        result.update({"loaded." + k: v for k, v in params(restored.module).items()})
    np.savez(os.path.join(out, f"{name}.rank{rank}.npz"), **result)


def no_sync(out):
    """Two micro-batches under no_sync, one synchronized: the averaged sum
    of the three batches' gradients on every rank."""
    rank, world = dist.get_rank(), dist.get_world_size()
    dataset = data((5,), 3, count=6 * world)
    model = DDP(mlp())
    reference = mlp()
    loss_fn = nn.CrossEntropyLoss()
    for micro in range(3):
        x, y = dataset[[(micro * world + rank) * 2, (micro * world + rank) * 2 + 1]]
        if micro < 2:
            with model.no_sync():
                loss_fn(model(x), y).backward()
        else:
            loss_fn(model(x), y).backward()
        x, y = dataset[list(range(micro * world * 2, (micro + 1) * world * 2))]
        loss_fn(reference(x), y).backward()
    result = {"ddp." + n: p.grad.numpy() for n, p in model.module.named_parameters()}
    result.update({"ref." + n: p.grad.numpy() for n, p in reference.named_parameters()})
    np.savez(os.path.join(out, f"no_sync.rank{rank}.npz"), **result)


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(9)
        self.a = nn.Linear(4, 2)
        self.b = nn.Linear(4, 2)
        self.never = nn.Linear(4, 2)

    def forward(self, x, head):
        return self.a(x) if head == 0 else self.b(x)


def find_unused(out):
    """Rank 0 uses head a, the others head b, nobody `never`: a's and b's
    gradients are the world-averaged ones, `never` keeps None."""
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(Heads(), find_unused_parameters=True)
    x = torch.tensor(np.random.default_rng(5).standard_normal((world, 3, 4)).astype(np.float32))
    model(x[rank], min(rank, 1)).square().sum().backward()
    reference = Heads()
    total = sum(reference(x[r], min(r, 1)).square().sum() for r in range(world)) / world
    total.backward()
    assert model.module.never.weight.grad is None
    result = {}
    for head in ("a", "b"):
        for kind, m in (("ddp", model.module), ("ref", reference)):
            result[f"{kind}.{head}.weight"] = getattr(m, head).weight.grad.numpy()
    np.savez(os.path.join(out, f"find_unused.rank{rank}.npz"), **result)


def killed(out):
    """The last rank dies after the wrap; the others' next backward must
    raise (within the group's timeout), not hang."""
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(mlp())
    if rank == world - 1:
        os._exit(3)
    start = time.monotonic()
    try:
        model(torch.randn(2, 5)).sum().backward()
        list(model.parameters())[0].grad.numpy()
        message = "no error"
    except Exception as error:   # noqa: BLE001 - the test checks the text
        message = f"{type(error).__name__}: {error}"
    with open(os.path.join(out, f"killed.rank{rank}.txt"), "w") as f:
        f.write(f"{time.monotonic() - start:.1f}\n{message}")
    os._exit(0)   # skip destroy_process_group's goodbye to a dead peer


def main():
    out, backend, scenarios = sys.argv[1], sys.argv[2], sys.argv[3:]
    timeout = float(os.environ.get("DDP_TEST_TIMEOUT", "20"))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    for scenario in scenarios:
        if scenario == "mlp":
            train(mlp, data((5,), 3), out, "mlp", checkpoint=True)
        elif scenario == "cnn":
            train(cnn, data((1, 6, 6), 4), out, "cnn")
        elif scenario == "no_sync":
            no_sync(out)
        elif scenario == "find_unused":
            find_unused(out)
        elif scenario == "killed":
            killed(out)
        else:
            raise SystemExit(f"unknown scenario {scenario}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
