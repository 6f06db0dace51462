#!/usr/bin/env python3
"""Names the compiled kernels of a .cpu.ember in a `perf record` profile.

A model file's native code is an ELF image the runtime maps itself, so
perf shows its samples as `[unknown]`. This reads the image's symbols
(`nm`, `objdump` from binutils), finds where perf's addresses sit in the
image (the offset at which the JIT frames of the samples' call chains are
return addresses, each right after a call), and prints per thread the share
of samples in each kernel (`ember_entry_<entry>_loopN`, named as in the
lowered program: `ember-opt --ember-lower-to-llvm`), in the runtime's
functions, and in the pool worker's idle spin.

  perf record -g -o perf.data ./build/bin/image_model_bench m.cpu.ember 224 32 3 40
  scripts/perf_jit_kernels.py perf.data m.cpu.ember [--skip 0.4]

--skip drops the first fraction of the recording (load and warm-up runs).
"""

import argparse
import bisect
import collections
import os
import re
import subprocess
import sys
import tempfile


def read_samples(perf_data):
    text = subprocess.run(
        ["perf", "script", "-i", perf_data, "-F", "comm,tid,time,ip,sym"],
        check=True, capture_output=True, text=True).stdout
    samples, current = [], None
    for line in text.splitlines():
        if not line.strip():
            if current:
                samples.append(current)
            current = None
        elif not line[0].isspace():
            parts = line.split()
            current = {"comm": parts[0], "time": float(parts[2].rstrip(":")),
                       "ips": [], "syms": []}
        elif current is not None:
            fields = line.split(None, 1)
            current["ips"].append(int(fields[0], 16))
            current["syms"].append(fields[1] if len(fields) > 1 else "?")
    if current:
        samples.append(current)
    return samples


def image_symbols(model):
    data = open(model, "rb").read()
    start = data.rfind(b"\x7fELF")
    if start < 0:
        sys.exit(f"{model}: no native code (an ELF image) in the file")
    with tempfile.NamedTemporaryFile(suffix=".elf", delete=False) as image:
        image.write(data[start:])
    try:
        nm = subprocess.run(["nm", "-n", "--defined-only", image.name],
                            check=True, capture_output=True, text=True).stdout
        dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", image.name],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(image.name)
    symbols = [(int(a, 16), name) for a, kind, name in
               (line.split() for line in nm.splitlines() if len(line.split()) == 3)
               if kind in "tT"]
    after_call, previous = set(), ""
    for line in dis.splitlines():
        match = re.match(r"\s+([0-9a-f]+):\s+(\S+)", line)
        if match:
            if previous.startswith("call"):
                after_call.add(int(match.group(1), 16))
            previous = match.group(2)
    return symbols, after_call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("perf_data")
    parser.add_argument("model")
    parser.add_argument("--skip", type=float, default=0.4)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    samples = read_samples(args.perf_data)
    if not samples:
        sys.exit("no samples")
    first, last = samples[0]["time"], samples[-1]["time"]
    samples = [s for s in samples
               if s["time"] >= first + (last - first) * args.skip]
    symbols, after_call = image_symbols(args.model)
    starts = [address for address, _ in symbols]
    end = max(after_call, default=0) + 0x10000

    # The image's offset in perf's addresses: most JIT return addresses
    # right after a call.
    returns = collections.Counter(
        ip for s in samples for ip, sym in list(zip(s["ips"], s["syms"]))[1:]
        if sym == "[unknown]" and ip < end)
    best = max(range(-0x40000, 0x40000, 0x10),
               key=lambda d: sum(n for ip, n in returns.items()
                                 if ip + d in after_call))
    matched = sum(n for ip, n in returns.items() if ip + best in after_call)
    print(f"image offset {best:#x}: {matched} of {sum(returns.values())} "
          "JIT return addresses follow a call")

    def where(sample):
        ip, sym = sample["ips"][0], sample["syms"][0]
        if sym == "[unknown]" and ip < end:
            i = bisect.bisect_right(starts, ip + best) - 1
            return "jit " + (symbols[i][1] if i >= 0 else "?")
        if "ThreadPool::resize" in sym or "clock_gettime" in sym:
            return "pool worker idle (spin)"
        sym = sym.replace("(anonymous namespace)::", "")
        return re.sub(r"\(.*", "", sym)[:90]

    by_thread = collections.defaultdict(collections.Counter)
    for s in samples:
        by_thread[s["comm"]][where(s)] += 1
    for comm, counts in by_thread.items():
        total = sum(counts.values())
        jit = sum(n for k, n in counts.items() if k.startswith("jit "))
        print(f"\n{comm}: {total} samples, {100 * jit / total:.1f}% in compiled kernels")
        for name, n in counts.most_common(args.top):
            print(f"  {100 * n / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
