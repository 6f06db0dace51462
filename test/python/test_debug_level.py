"""EMBER_DEBUG=0..4: one ladder over Ember's diagnostic output (docs/knobs.md).

Each level runs a tiny program in a fresh interpreter (the environment is
read once per process) and checks which stderr lines appear."""

import os
import subprocess
import sys

import pytest

import ember

# Two syncs of the same graph (a compile, then a memory-cache hit), with the
# disk cache off so that every run compiles.
SCRIPT = """
import ember

def run():
    x = ember.ones(5, 3)
    return ((x * 3.0).relu().sum(1) + 1.0).tolist()

run()
run()
"""

KNOBS = ("EMBER_DEBUG", "EMBER_LOG_COMPILES", "EMBER_COMPILE_TIMING",
         "EMBER_DUMP_GRAPHS", "EMBER_DUMP_GPU")


def run_script(script=SCRIPT, **knobs):
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(ember.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env["EMBER_CACHE_DIR"] = ""
    env.update(knobs)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


COMPILE = "[ember] compiled graph #1 for cpu"
HIT = "[ember] graph cache hit for cpu"
PHASE = "[ember] MLIR lowering: "
KERNEL = "[ember]   glue: "
PASS_REPORT = "Execution time report"
IR = "func.func @graph"


def present(stderr):
    return {name for name, text in (("compile", COMPILE), ("hit", HIT), ("phase", PHASE),
                                    ("kernel", KERNEL), ("passes", PASS_REPORT),
                                    ("ir", IR))
            if text in stderr}


@pytest.mark.parametrize("level, expected", [
    ("0", set()),
    ("1", {"compile"}),
    ("2", {"compile", "hit", "phase"}),
    ("3", {"compile", "hit", "phase", "kernel", "passes"}),
    ("4", {"compile", "hit", "phase", "kernel", "passes", "ir"}),
    # Past the top of the ladder: everything.
    ("7", {"compile", "hit", "phase", "kernel", "passes", "ir"}),
])
def test_each_level_adds_its_lines(level, expected):
    stderr = run_script(EMBER_DEBUG=level)
    assert present(stderr) == expected, stderr


def test_silent_by_default():
    assert run_script() == ""


def test_level_one_prints_one_line_per_compile():
    stderr = run_script(EMBER_DEBUG="1")
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(COMPILE), stderr
    assert "(new program)" in lines[0], stderr


def test_level_two_prints_one_line_per_hit():
    stderr = run_script(EMBER_DEBUG="2")
    hits = [line for line in stderr.splitlines() if line.startswith(HIT)]
    assert hits == [HIT + ": 6 ops at <string>:6"], stderr


def test_level_three_says_which_kernels_were_compiled_before():
    # exp's kernel in a second graph: compiled once, reused after.
    script = """
import sys
import ember
x = ember.ones(5, 3)
x.exp().tolist()
sys.stderr.write("MARK\\n")
ember.stack([x.exp(), x.exp() * 2.0]).tolist()
"""
    first, second = run_script(script, EMBER_DEBUG="3").split("MARK\n")
    reused = [line for line in second.splitlines() if line.endswith(": compiled before")]
    assert len(reused) == 1 and reused[0].startswith("[ember]   ember_kernel_"), second
    assert reused[0].split()[1] in first, first
    assert "compiled before" not in run_script(script, EMBER_DEBUG="2")


def test_a_malformed_level_warns_and_prints_nothing_else():
    stderr = run_script(EMBER_DEBUG="verbose")
    assert stderr.splitlines() == [
        "ember: ignoring EMBER_DEBUG=verbose (expected a level from 0 to 4)"], stderr


@pytest.mark.parametrize("knob, expected", [
    ("EMBER_LOG_COMPILES", {"compile"}),
    ("EMBER_COMPILE_TIMING", {"phase", "kernel", "passes"}),
    ("EMBER_DUMP_GRAPHS", {"ir"}),
])
def test_the_finer_knobs_still_turn_on_their_topic_alone(knob, expected):
    assert present(run_script(**{knob: "1"})) == expected


def test_level_four_dumps_gpu_modules():
    script = """
import ember
if not ember.vulkan.is_available():
    print("unavailable: " + ember.vulkan.unavailable_reason())
else:
    x = ember.ones(4, device="vulkan")
    (x * 3.0 + 1.0).tolist()
"""
    vulkan = {"VK_ICD_FILENAMES": "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
              "MESA_SHADER_CACHE_DISABLE": "true", "LP_NUM_THREADS": "2"}
    env = {k: v for k, v in os.environ.items() if k not in KNOBS}
    env.update(vulkan)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(ember.__file__))] +
        [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    done = subprocess.run([sys.executable, "-c", script], env=dict(env, EMBER_DEBUG="4"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if done.stdout.startswith("unavailable"):
        pytest.skip("no Vulkan device: " + done.stdout)
    assert "[ember] compiled graph #1 for vulkan" in done.stderr, done.stderr
    assert "gpu.module" in done.stderr or "spirv.module" in done.stderr, done.stderr
    quiet = subprocess.run([sys.executable, "-c", script], env=dict(env, EMBER_DEBUG="3"),
                           capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    for text in ("gpu.module", "spirv.module", IR):
        assert text not in quiet.stderr, quiet.stderr
