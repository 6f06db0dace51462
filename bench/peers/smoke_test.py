"""bench/peers runs: the Ember-only path of run.py, quick, with the limits probe.

Needs no peers (no venv): it checks that the driver starts a worker, times a
memory-bound workload and the per-op workload, compiles and runs the probe,
and writes JSON with the numbers the table is made of.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "peers.json")
        proc = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), "--quick",
                               "--only", "chain,add1", "--frameworks", "ember", "--json", out],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120)
        print(proc.stdout)
        assert proc.returncode == 0, proc.returncode
        report = json.load(open(out))
    limits = report["limits"]
    assert "error" not in limits, limits
    for numbers in limits["threads"].values():
        assert numbers["fma_gflops"] > 1 and numbers["triad_gbs"] > 0.1, numbers
    chain = report["workloads"]["chain"]
    assert chain["frameworks"]["ember"]["median_s"] > 0, chain
    assert chain["ember_gbs"] > 0 and chain["fraction_of_limit"] > 0, chain
    add1 = report["workloads"]["add1"]["frameworks"]["ember"]
    assert 0 < add1["median_s"] < 1e-3, add1  # seconds per op
    assert "5-op chain" in proc.stdout and "limits (" in proc.stdout
    print("smoke test passed")


if __name__ == "__main__":
    main()
