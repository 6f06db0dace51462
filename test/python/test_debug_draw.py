"""ember.debug.draw and EMBER_DUMP_GRAPHS=dir: the lazy graph through
Graphviz (dot text checked; an SVG rendered where `dot` is installed), and
the graph cuts EMBER_DEBUG=2 reports; on Vulkan (lavapipe) the GPU kernels
as clusters named as the profiler names their dispatches."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember import debug

needs_dot = pytest.mark.skipif(not debug.dot_available(),
                               reason="Graphviz's dot is not installed")


def edges(dot):
    return re.findall(r"(n\d+|out\d+) -> (n\d+|out\d+) \[label=\"([^\"]*)\"\]", dot)


def labels(dot):
    return dict(re.findall(r"^\s*(n\d+) \[label=\"([^\"]*)\"", dot, re.M))


def test_dot_text_of_a_pending_tensor():
    a = ember.from_numpy(np.ones((4, 3), np.float32))
    b = ember.from_numpy(np.ones((3, 5), np.float32))
    y = ((a @ b) * 2.0 + 1.0).relu().sum(0)
    dot = debug.to_dot(y)
    names = labels(dot)
    ops = sorted(label.split("\\n")[0] for label in names.values())
    assert ops.count("computed value") == 2 and "matmul" in ops and "relu" in ops and "sum" in ops
    # The user's line on each op; shapes and dtypes on edges.
    matmul = next(n for n, label in names.items() if label.startswith("matmul"))
    assert re.search(r"test_debug_draw\.py:\d+", names[matmul])
    matmul_out = [label for src, dst, label in edges(dot) if src == matmul]
    assert matmul_out == ["float32[4, 5]"]
    assert ("float32[5]" in [label for src, dst, label in edges(dot) if dst == "out0"])
    # Clusters are the kernels the compiler made, named by their symbols:
    # the element-wise chain mul, add, relu runs in one of them.
    clusters = kernel_clusters(dot)
    assert clusters and all(name.startswith("ember_kernel_") for name in clusters)
    chain = [ops for ops in clusters.values() if "relu" in ops]
    assert len(chain) == 1 and {"mul", "add"} <= set(chain[0]), clusters
    # Each label counts its ops (constants are drawn, not counted; an op
    # also computed in another kernel is named after ", also").
    for symbol, count, also in re.findall(r'label="kernel (\w+) \((\d+) ops([^)]*)\)', dot):
        drawn = [op for op in clusters[symbol] if not op.startswith("constant")]
        assert int(count) == len(drawn) + also.count(", also "), (symbol, count, also)
    # Still pending, and drawing computed nothing.
    np.testing.assert_allclose(y.numpy(), np.full(5, 28.0))


def kernel_clusters(dot):
    """Per cluster: its kernel symbol -> the ops drawn in it."""
    return {name: sorted(label.split("\\n")[0] for label in labels(body).values())
            for name, body in re.findall(r'subgraph "cluster_(\w+)" \{(.*?)\n  \}', dot, re.S)}


def test_clusters_are_the_kernels_the_profiler_sees():
    from ember.profiler import ProfilerActivity, profile
    x = ember.from_numpy(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6))
    y = ((x * 2.0).exp() + x).sum(1).tanh()
    drawn = set(kernel_clusters(debug.to_dot(y)))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        result = y.numpy()
    ran = {e.name for e in prof.events() if e.category == "kernel"}
    assert drawn and drawn == ran, (drawn, ran)
    z = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_allclose(result, np.tanh((np.exp(2 * z) + z).sum(1)), rtol=1e-5)


def test_a_cut_shows_as_a_computed_input():
    x = ember.ones(3, 3)
    h = (x * 3.0).exp()
    before = {label.split("\\n")[0] for label in labels(debug.to_dot(h + 1.0)).values()}
    assert {"mul", "exp", "add"} <= before
    h.sum().item()  # computes h: the trace is cut there, the next graph reads h
    dot = debug.to_dot(h + 1.0)
    after = sorted(label.split("\\n")[0] for label in labels(dot).values())
    assert after == ["add", "computed value", "constant 1"], after
    # The cut is drawn with its reason and line, beside the value it made.
    computed = next(n for n, label in labels(dot).items() if label.startswith("computed"))
    cut = re.search(r'cut(\d+) \[label="cut: a value was read [^"]*\\nat '
                    r'test_debug_draw\.py:(\d+)"', dot)
    assert cut and f"n{cut.group(1)}" == computed, dot
    assert f'cut{cut.group(1)} -> {computed}' in dot
    # The user's data is no cut.
    assert "cut:" not in debug.to_dot(ember.from_numpy(np.ones(3, np.float32)) + 1.0)


@needs_dot
def test_draw_writes_an_svg(tmp_path):
    y = (ember.ones(2, 2) * 3.0).tanh()
    path = debug.draw(y, str(tmp_path / "g.svg"))
    text = open(path).read()
    assert text.lstrip().startswith("<?xml") and "<svg" in text and "tanh" in text
    debug.draw(y, str(tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text() == debug.to_dot(y)


def test_draw_an_exported_program(tmp_path):
    class Net(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = ember.nn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x).sigmoid()

    program = ember.export(Net(), (ember.ones(4, 3),))
    dot = debug.to_dot(program)
    ops = {label.split("\\n")[0] for label in labels(dot).values()}
    assert "sigmoid" in ops and "input" in ops
    assert "float32[?, ?]" in [label for _, _, label in edges(dot)]


def run_script(script, stdout=False, **env_knobs):
    env = {k: v for k, v in os.environ.items()
           if k not in ("EMBER_DEBUG", "EMBER_DUMP_GRAPHS", "EMBER_LOG_COMPILES")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(ember.__file__))
    env["EMBER_CACHE_DIR"] = ""
    env.update(env_knobs)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout if stdout else done.stderr


SCRIPT = """
import ember
x = ember.ones(5, 3)
((x * 3.0).relu().sum(1) + 1.0).tolist()
(x.exp() - 2.0).tolist()
"""


CUT_SCRIPT = """
import ember
x = ember.ones(5, 3)
h = (x * 3.0).relu()
h.sum().item()
(h.exp() - 2.0).tolist()
"""


def test_dump_graphs_to_a_folder(tmp_path):
    folder = tmp_path / "graphs"
    stderr = run_script(CUT_SCRIPT, EMBER_DUMP_GRAPHS=str(folder))
    # A folder writes pictures, not IR to stderr.
    assert "func.func" not in stderr
    dots = sorted(p for p in os.listdir(folder) if p.endswith(".dot"))
    assert len(dots) == 2, dots
    first, second = ((folder / d).read_text() for d in dots)
    assert first.startswith("digraph ember {") and "relu" in first and "float32[5, 3]" in first
    # The compiler's kernels as clusters, named by their symbols.
    assert re.search(r'subgraph "cluster_ember_kernel_\w+"', first), first
    assert "cut:" not in first
    # The second graph reads h, computed where .item() cut the trace.
    assert re.search(r'cut\d+ \[label="cut: a value was read [^"]*\\nat <string>:5"', second), second
    if debug.dot_available():
        assert len([p for p in os.listdir(folder) if p.endswith(".svg")]) == 2


VULKAN_SCRIPT = """
import json, numpy as np, ember
from ember import debug
from ember.profiler import profile
if not ember.vulkan.is_available():
    print(json.dumps("unavailable: " + ember.vulkan.unavailable_reason()))
    raise SystemExit
z = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
x = ember.from_numpy(z).to("vulkan")
y = ((x * 2.0).exp() + x).sum(1).tanh()
dot = debug.to_dot(y)
with profile() as prof:
    result = y.cpu().numpy()
print(json.dumps({"dot": dot, "result": result.tolist(),
                  "spans": [e.name for e in prof.events() if e.category == "device"]}))
"""


def test_vulkan_clusters_are_the_dispatches_the_profiler_times(tmp_path):
    # Lavapipe where no Vulkan GPU is installed (the profiler's Vulkan test's way).
    folder = tmp_path / "graphs"
    out = run_script(VULKAN_SCRIPT, stdout=True, EMBER_DUMP_GRAPHS=str(folder),
                     VK_ICD_FILENAMES=os.environ.get(
                         "VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"),
                     MESA_SHADER_CACHE_DISABLE="true", LP_NUM_THREADS="2")
    result = json.loads(out)
    if isinstance(result, str):
        pytest.skip(result)
    z = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_allclose(result["result"], np.tanh((np.exp(2 * z) + z).sum(1)),
                               rtol=1e-5)
    # The picture of a Vulkan tensor shows the GPU's kernels, named as their
    # dispatches' spans: drawn before the run, the same set the device ran.
    clusters = kernel_clusters(result["dot"])
    assert clusters and all(re.fullmatch(r"ember_gpu_kernel_[0-9a-f]{32}", name)
                            for name in clusters), clusters
    assert set(clusters) == set(result["spans"]), (clusters, result["spans"])
    drawn = sorted(op for ops in clusters.values() for op in ops
                   if not op.startswith("constant"))
    assert {"mul", "exp", "add", "sum", "tanh"} <= set(drawn), clusters
    # Some ops fused: fewer kernels than ops.
    assert len(clusters) < len(drawn), clusters
    # EMBER_DUMP_GRAPHS draws the graph the run compiled with the same kernels.
    dots = [p for p in os.listdir(folder) if p.endswith(".dot")]
    assert len(dots) == 1, dots
    def ops_only(found):  # the C++ side labels constants without their values
        return {name: [op.split()[0] for op in ops] for name, ops in found.items()}
    assert ops_only(kernel_clusters((folder / dots[0]).read_text())) == ops_only(clusters)


def test_level_two_reports_graph_cuts():
    stderr = run_script(SCRIPT, EMBER_DEBUG="2")
    cuts = [line for line in stderr.splitlines() if line.startswith("[ember] graph cut")]
    assert len(cuts) == 2, stderr
    assert cuts[0].startswith("[ember] graph cut: a value was read")
    assert cuts[0].endswith("at <string>:4"), cuts
    assert "graph cut" not in run_script(SCRIPT, EMBER_DEBUG="1")
