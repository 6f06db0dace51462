"""ember.profiler against torch.profiler's API: the trace's JSON and spans,
key_averages' table, record_function, schedules and their handler."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.profiler import (ProfilerAction, ProfilerActivity, profile, record_function,
                            schedule, tensorboard_trace_handler)


def step(x, w):
    # A GEMM, and an element-wise chain fused into one kernel after it.
    return ((x @ w) * 0.5 + 1.25).relu().sum(1)


def spans(prof, category=None, name=None):
    return [e for e in prof.events()
            if (category is None or e.category == category) and
            (name is None or e.name == name)]


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    rng = np.random.default_rng(5)
    x = ember.from_numpy(rng.standard_normal((64, 32)).astype(np.float32))
    w = ember.from_numpy(rng.standard_normal((32, 16)).astype(np.float32))
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True,
                 profile_memory=True, with_stack=True) as prof:
        with record_function("first step"):
            first = step(x, w).numpy()
        second = step(x, w).numpy()
    trace = tmp_path_factory.mktemp("trace") / "trace.json"
    prof.export_chrome_trace(str(trace))
    expected = np.maximum((x.numpy() @ w.numpy()) * 0.5 + 1.25, 0).sum(1)
    return prof, json.loads(trace.read_text()), first, second, expected


def test_profiled_results_are_right(profiled):
    _, _, first, second, expected = profiled
    np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(second, expected, rtol=1e-5, atol=1e-4)


def test_trace_json_is_chrome_trace_events(profiled):
    _, trace, *_ = profiled
    events = trace["traceEvents"]
    assert trace["displayTimeUnit"] == "ms"
    complete = [e for e in events if e["ph"] == "X"]
    assert complete
    for e in complete:
        assert {"name", "cat", "ts", "dur", "pid", "tid"} <= e.keys()
        assert e["dur"] >= 0 and e["ts"] >= 0
    assert any(e["ph"] == "M" and e["name"] == "thread_name" for e in events)
    # Memory: instants and a counter track.
    assert any(e["ph"] == "i" and e["cat"] == "memory" for e in events)
    assert any(e["ph"] == "C" for e in events)


def test_trace_has_each_kind_of_span(profiled):
    prof, trace, *_ = profiled
    categories = {e["cat"] for e in trace["traceEvents"] if e["ph"] == "X"}
    assert {"trace", "cache", "compile", "pass", "run", "kernel", "user"} <= categories
    # One compile (the first step), with MLIR passes inside it; two runs.
    compiles = spans(prof, "compile", "compile graph for cpu")
    assert len(compiles) == 1
    passes = spans(prof, "pass")
    assert any(p.name == "ember-fuse-elementwise" for p in passes)
    c = compiles[0]
    assert all(c.start_us <= p.start_us and p.end_us <= c.end_us for p in passes)
    runs = spans(prof, "run", "run graph on cpu")
    assert len(runs) == 2
    # The second lookup finds the first compile in memory.
    lookups = [e.detail for e in spans(prof, "cache", "cache lookup")]
    assert lookups == ["memory miss", "memory hit"]


def test_kernels_run_inside_each_graph_run(profiled):
    prof, *_ = profiled
    runs = spans(prof, "run")
    kernels = spans(prof, "kernel")
    assert kernels and all(k.name.startswith("ember_kernel_") for k in kernels)
    for run in runs:
        inside = [k for k in kernels if run.start_us <= k.start_us and k.end_us <= run.end_us]
        assert inside, (run, kernels)
        assert all(k.parent is not None for k in inside)
    # The same kernels each run.
    first, second = ([k.name for k in kernels if r.start_us <= k.start_us <= r.end_us]
                     for r in runs)
    assert first == second


def test_traced_ops_carry_shapes_and_lines(profiled):
    prof, *_ = profiled
    matmuls = [e for e in spans(prof, "trace") if e.name == "matmul"]
    assert len(matmuls) == 2
    assert matmuls[0].input_shapes == "[[64, 32], [32, 16]]"
    assert "test_profiler.py:" in matmuls[0].detail


def test_record_function_encloses_its_work(profiled):
    prof, *_ = profiled
    (user,) = spans(prof, "user", "first step")
    assert [c.category for c in user.children][:1] == ["trace"]
    assert any(c.category == "compile" for c in user.children)
    # Self time excludes the children.
    assert user.self_cpu_time_total <= user.cpu_time_total - sum(
        c.cpu_time_total for c in user.children) + 1e-6


def test_memory_is_attributed_to_spans(profiled):
    prof, *_ = profiled
    runs = spans(prof, "run")
    # Each run allocates its (64,) float32 output at least.
    assert all(r.cpu_memory_usage >= 64 * 4 for r in runs), runs


def test_compiled_temporaries_are_memory_events(profiled):
    prof, trace, *_ = profiled
    temporaries = [e for e in trace["traceEvents"]
                   if e["ph"] == "i" and e["name"] == "[temporary]"]
    # The GEMM's (64, 16) float32 result is a buffer of the compiled program
    # between its two kernels: allocated and freed inside each run.
    for run in spans(prof, "run"):
        inside = [e["args"]["Bytes"] for e in temporaries
                  if run.start_us - 1e-3 <= e["ts"] <= run.end_us + 1e-3]
        assert max(inside) >= 64 * 16 * 4, inside
        assert sum(inside) == 0, inside
    # The memory counter moves with them.
    counter = [e["args"]["allocated"] for e in trace["traceEvents"] if e["ph"] == "C"]
    assert len(counter) == sum(e["ph"] == "i" and e["cat"] == "memory"
                               for e in trace["traceEvents"])


def test_key_averages_table_has_torchs_columns(profiled):
    prof, *_ = profiled
    averages = prof.key_averages()
    by_name = {a.key: a for a in averages}
    assert by_name["run graph on cpu"].count == 2
    assert by_name["matmul"].count == 2
    table = averages.table(sort_by="cpu_time_total", row_limit=5)
    lines = table.splitlines()
    header = lines[1]
    for column in ("Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total",
                   "CPU time avg", "CPU Mem", "Self CPU Mem", "# of Calls"):
        assert column in header
    rows = lines[3:-2]
    assert len(rows) == 5
    assert lines[-1].startswith("Self CPU time total: ")
    # Sorted by total time: the first-step span holds most of the work.
    totals = [a.cpu_time_total for a in sorted(averages, key=lambda a: -a.cpu_time_total)]
    assert rows[0].split("  ")[0].strip() == sorted(
        averages, key=lambda a: -a.cpu_time_total)[0].key
    assert totals == sorted(totals, reverse=True)
    with pytest.raises(ValueError):
        averages.table(sort_by="no_such_key")


def test_group_by_input_shape(profiled):
    prof, *_ = profiled
    grouped = prof.key_averages(group_by_input_shape=True)
    matmul = [a for a in grouped if a.key == "matmul"]
    assert len(matmul) == 1 and matmul[0].input_shapes == "[[64, 32], [32, 16]]"
    assert "Input Shapes" in grouped.table(row_limit=3).splitlines()[1]


def test_off_records_nothing():
    with profile() as prof:
        pass
    ember.ones(3).add(1).numpy()
    assert len(prof.events()) == 0
    assert not ember._ember._profiler_enabled()
    # record_function outside a profile is a no-op.
    with record_function("nothing"):
        ember.ones(2).sum().item()


def test_schedule_actions_match_torch():
    s = schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1)
    assert [s(i) for i in range(7)] == [
        ProfilerAction.NONE, ProfilerAction.NONE, ProfilerAction.WARMUP,
        ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE, ProfilerAction.NONE,
        ProfilerAction.NONE]


def test_schedule_steps_and_handler(tmp_path):
    traces = []
    x = ember.ones(8, 8)
    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=2),
                 on_trace_ready=lambda p: traces.append(p.events())) as prof:
        for i in range(10):
            with record_function(f"iteration {i}"):
                (x * float(i + 2)).sum().item()
            prof.step()
    assert len(traces) == 2
    for cycle, events in enumerate(traces):
        steps = sorted(e.name for e in events if e.name.startswith("ProfilerStep#"))
        first = 4 * cycle + 2
        assert steps == [f"ProfilerStep#{first}", f"ProfilerStep#{first + 1}"]
        iterations = sorted(e.name for e in events if e.name.startswith("iteration"))
        assert iterations == [f"iteration {first}", f"iteration {first + 1}"]

    handler = tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="w0")
    with profile(schedule=schedule(wait=0, warmup=0, active=1, repeat=1),
                 on_trace_ready=handler) as prof:
        x.sum().item()
        prof.step()
    (written,) = os.listdir(tmp_path / "tb")
    assert written.startswith("w0.") and written.endswith(".pt.trace.json")
    data = json.loads((tmp_path / "tb" / written).read_text())
    assert any(e.get("name") == "ProfilerStep#0" for e in data["traceEvents"])


def test_record_function_as_decorator():
    @record_function("decorated")
    def work():
        return ember.ones(4).mul(3).sum().item()

    with profile() as prof:
        assert work() == 12.0
    assert len(spans(prof, "user", "decorated")) == 1


def test_disk_cache_hit_is_a_span(tmp_path):
    script = """
import json, ember
from ember.profiler import profile
x = ember.ones(16, 16)
def work():
    # Two kernels at least: the row sums, then what reads them.
    y = x.exp() * 2.5 + 0.75
    return (y / y.sum(1, keepdim=True)).sum().item()
# Graphs compiled while profiling time their kernels: a cache entry of
# their own, written by the first profile and read by the second.
with profile():
    work()
ember.clear_compile_cache()
with profile() as prof:
    work()
print(json.dumps([(e.name, e.detail) for e in prof.events() if e.category == "cache"]))
"""
    # Progress lines at once (EMBER_PROGRESS_AFTER=0), also on a pipe.
    env = dict(os.environ, EMBER_CACHE_DIR=str(tmp_path / "cache"), EMBER_PROGRESS="1",
               EMBER_PROGRESS_AFTER="0",
               PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    cache = json.loads(done.stdout)
    assert ["cache lookup", "memory miss"] in cache
    assert ["disk cache lookup", "disk hit"] in cache
    # Each line is rewritten in place (\r) and ends at its last item.
    lines = [part for line in done.stderr.split("\n") for part in line.split("\r")]
    finals = {}
    for line in lines:
        match = re.fullmatch(r"\[ember\] ([a-z ]+): (\d+)/(\d+) kernels.*, \d+\.\d s", line)
        if match and match[2] == match[3]:
            finals[match[1]] = int(match[3])
    assert set(finals) == {"compiling a graph", "writing kernels to the disk cache",
                           "loading a graph from the disk cache"}, done.stderr
    # The first run compiled the glue and each kernel and wrote each kernel;
    # the second loaded them all.
    kernels = finals["writing kernels to the disk cache"]
    assert kernels >= 2
    assert finals["compiling a graph"] == kernels + 1
    assert finals["loading a graph from the disk cache"] == kernels


def test_loading_a_model_shows_its_kernels_written_to_the_cache(tmp_path):
    script = """
import numpy as np, sys, ember
from ember import nn
model = nn.Sequential(nn.Linear(8, 8), nn.Hardtanh(), nn.Linear(8, 8), nn.Softsign()).eval()
x = ember.randn(4, 8)
ember.export(model, x).save(sys.argv[1])
got = ember.load_model(sys.argv[1])(x.numpy()).numpy()
with ember.no_grad():
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-5, atol=1e-6)
"""
    env = dict(os.environ, EMBER_CACHE_DIR=str(tmp_path / "cache"), EMBER_PROGRESS="1",
               EMBER_PROGRESS_AFTER="0",
               PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.ember")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # The model's new kernels (Hardtanh's and Softsign's at least) are kept
    # after the compile, under their own line.
    finals = re.findall(r"\[ember\] writing model kernels to the kernel cache: (\d+)/(\d+) "
                        r"kernels", done.stderr)
    assert finals and int(finals[-1][0]) == int(finals[-1][1]) >= 2, done.stderr


def test_vulkan_dispatches_are_timed_on_the_device():
    script = """
import json, ember
from ember.profiler import profile
if not ember.vulkan.is_available():
    print(json.dumps("unavailable: " + ember.vulkan.unavailable_reason()))
    raise SystemExit
x = ember.ones(32, 32, device="vulkan")
with profile() as prof:
    y = (x * 3.0 + 1.0).exp().sum(1).cpu().numpy()
events = prof.events()
table = prof.key_averages().table()
print(json.dumps({"device": [(e.name, e.end_us - e.start_us) for e in events
                             if e.category == "device"],
                  "copies": [e.name for e in events if e.category == "copy"],
                  "runs": [e.name for e in events if e.category == "run"],
                  "header": table.splitlines()[1], "value": float(y[0])}))
"""
    # Progress lines at once (EMBER_PROGRESS_AFTER=0), also on a pipe.
    env = dict(os.environ, VK_ICD_FILENAMES="/usr/share/vulkan/icd.d/lvp_icd.x86_64.json",
               MESA_SHADER_CACHE_DISABLE="true", LP_NUM_THREADS="2", EMBER_PROGRESS="1",
               EMBER_PROGRESS_AFTER="0",
               PYTHONPATH=os.path.dirname(os.path.dirname(ember.__file__)))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if isinstance(result, str):
        pytest.skip(result)
    # The GPU compile counts its stages (outlined, lowered, serialized,
    # assembled) on one line rewritten in place, ending at the last.
    stages = re.findall(r"\[ember\] compiling a graph for vulkan: (\d)/4 stages", done.stderr)
    assert stages and stages[-1] == "4", done.stderr
    assert result["runs"] == ["run graph on vulkan"]
    assert "copy vulkan to cpu" in result["copies"]
    assert len(result["device"]) >= 2 and all(d >= 0 for _, d in result["device"])
    # Dispatches carry their kernels' names, a hash of each kernel's code:
    # the chain and the row sum are different kernels.
    names = {name for name, _ in result["device"]}
    assert len(names) >= 2 and all(re.fullmatch(r"ember_gpu_kernel_[0-9a-f]{32}", name)
                                   for name in names), names
    assert "Self Device %" in result["header"] and "Device total" in result["header"]
    np.testing.assert_allclose(result["value"], 32 * np.exp(4.0), rtol=1e-5)
