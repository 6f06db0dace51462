"""ember.debug.draw and EMBER_DUMP_GRAPHS=dir: the lazy graph through
Graphviz (dot text checked; an SVG rendered where `dot` is installed), and
the graph cuts EMBER_DEBUG=2 reports."""

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
    # mul, add and relu chain into one fused kernel; matmul and sum stay out.
    cluster = re.search(r"subgraph cluster_k0 \{(.*?)\n  \}", dot, re.S).group(1)
    assert "3 element-wise ops" in cluster
    clustered = sorted(label.split("\\n")[0] for label in labels(cluster).values())
    assert clustered == ["add", "mul", "relu"]
    # Still pending, and drawing computed nothing.
    np.testing.assert_allclose(y.numpy(), np.full(5, 28.0))


def test_a_cut_shows_as_a_computed_input():
    x = ember.ones(3, 3)
    h = (x * 3.0).exp()
    before = {label.split("\\n")[0] for label in labels(debug.to_dot(h + 1.0)).values()}
    assert {"mul", "exp", "add"} <= before
    h.sum().item()  # computes h: the trace is cut there, the next graph reads h
    after = sorted(label.split("\\n")[0] for label in labels(debug.to_dot(h + 1.0)).values())
    assert after == ["add", "computed value", "constant 1"], after


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


def run_script(script, **env_knobs):
    env = {k: v for k, v in os.environ.items()
           if k not in ("EMBER_DEBUG", "EMBER_DUMP_GRAPHS", "EMBER_LOG_COMPILES")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(ember.__file__))
    env["EMBER_CACHE_DIR"] = ""
    env.update(env_knobs)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


SCRIPT = """
import ember
x = ember.ones(5, 3)
((x * 3.0).relu().sum(1) + 1.0).tolist()
(x.exp() - 2.0).tolist()
"""


def test_dump_graphs_to_a_folder(tmp_path):
    folder = tmp_path / "graphs"
    stderr = run_script(SCRIPT, EMBER_DUMP_GRAPHS=str(folder))
    # A folder writes pictures, not IR to stderr.
    assert "func.func" not in stderr
    dots = sorted(p for p in os.listdir(folder) if p.endswith(".dot"))
    assert len(dots) == 2, dots
    first = (folder / dots[0]).read_text()
    assert first.startswith("digraph ember {") and "relu" in first and "float32[5, 3]" in first
    if debug.dot_available():
        assert len([p for p in os.listdir(folder) if p.endswith(".svg")]) == 2


def test_level_two_reports_graph_cuts():
    stderr = run_script(SCRIPT, EMBER_DEBUG="2")
    cuts = [line for line in stderr.splitlines() if line.startswith("[ember] graph cut")]
    assert len(cuts) == 2, stderr
    assert cuts[0].startswith("[ember] graph cut: a value was read")
    assert cuts[0].endswith("at <string>:4"), cuts
    assert "graph cut" not in run_script(SCRIPT, EMBER_DEBUG="1")
