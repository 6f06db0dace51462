"""Single-convolution latency of Ember against PyTorch eager, per shape.

The shapes are the convolutions of torchvision's resnet18 and
mobilenet_v3_small at 224x224 (stem, 3x3 stride 1 and 2, 1x1, depthwise
3x3/5x5 stride 1 and 2), at batch 1 and 32. Both frameworks run in this one
process, interleaved round by round, and the report is the ratio of
medians (torch time / ember time: > 1 means Ember is faster), which a busy
machine distorts less than absolute times. Not part of the test suite:

    PYTHONPATH=build/python /work/peers/bin/python bench/conv_shapes_bench.py \
        [--batch 1,32] [--rounds 7] [--only dw] [--threads 1]
"""

import argparse
import statistics
import time

import numpy as np

# name, C, O, H(=W), kernel, stride, groups (padding is kernel // 2).
SHAPES = [
    ("r18.stem7x7s2", 3, 64, 224, 7, 2, 1),
    ("r18.3x3.64", 64, 64, 56, 3, 1, 1),
    ("r18.3x3s2.128", 64, 128, 56, 3, 2, 1),
    ("r18.1x1s2.128", 64, 128, 56, 1, 2, 1),
    ("r18.3x3.256", 256, 256, 14, 3, 1, 1),
    ("r18.3x3.512", 512, 512, 7, 3, 1, 1),
    ("mb.dw3x3s2.16", 16, 16, 112, 3, 2, 16),
    ("mb.dw3x3s2.72", 72, 72, 56, 3, 2, 72),
    ("mb.dw3x3.88", 88, 88, 28, 3, 1, 88),
    ("mb.dw5x5s2.96", 96, 96, 28, 5, 2, 96),
    ("mb.dw5x5.240", 240, 240, 14, 5, 1, 240),
    ("mb.dw5x5.576", 576, 576, 7, 5, 1, 576),
    ("mb.1x1.24to88", 24, 88, 28, 1, 1, 1),
    ("mb.1x1.96to576", 96, 576, 7, 1, 1, 1),
]


def to_ember(ember, array):
    try:
        return ember.from_numpy(array)
    except TypeError:  # an ember built against another NumPy ABI (peers venv)
        return ember.tensor(array.tolist())


def to_numpy(tensor):
    try:
        return tensor.numpy()
    except (TypeError, RuntimeError):
        return np.asarray(tensor.tolist(), np.float32)


def timed(fn, reps):
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", default="1,32")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for both (0: each framework's default)")
    args = parser.parse_args()
    if args.threads:
        import os
        os.environ["EMBER_NUM_THREADS"] = str(args.threads)
    import ember
    import ember.nn.functional as EF
    import torch
    import torch.nn.functional as TF
    torch.set_grad_enabled(False)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__} threads {torch.get_num_threads()}")
    print(f"{'shape':18} {'batch':>5} {'torch ms':>9} {'ember ms':>9} {'torch/ember':>11}")
    for batch in [int(b) for b in args.batch.split(",")]:
        for name, c, o, size, k, s, groups in SHAPES:
            if args.only and args.only not in name:
                continue
            x = rng.standard_normal((batch, c, size, size), dtype=np.float32)
            w = rng.standard_normal((o, c // groups, k, k), dtype=np.float32)
            b = rng.standard_normal(o, dtype=np.float32)
            tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
            ex, ew, eb = (to_ember(ember, a) for a in (x, w, b))
            kw = dict(stride=s, padding=k // 2, groups=groups)

            def run_torch():
                return TF.conv2d(tx, tw, tb, **kw)

            def run_ember():
                out = EF.conv2d(ex, ew, eb, **kw)
                ember.sync()
                return out

            got = to_numpy(run_ember())
            want = run_torch().numpy()
            err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
            assert err < 1e-4, (name, batch, err)
            run_torch()
            flops = 2 * batch * o * (c // groups) * k * k * want.shape[2] * want.shape[3]
            reps = max(1, min(200, int(2e8 / flops)))
            tt, et = [], []
            for _ in range(args.rounds):
                tt.append(timed(run_torch, reps))
                et.append(timed(run_ember, reps))
            t, e = statistics.median(tt), statistics.median(et)
            print(f"{name:18} {batch:5d} {t * 1e3:9.3f} {e * 1e3:9.3f} {t / e:11.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
