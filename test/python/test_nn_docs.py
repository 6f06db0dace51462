"""docs/nn.md lists every public module, functional, initializer, utility
and learning-rate scheduler of ember.nn and ember.optim.lr_scheduler."""

import inspect
import os
import re

import ember
from ember import nn
from ember.optim import lr_scheduler


def _find(relative):
    # Under Bazel the file is a runfile of the workspace; from a checkout, it
    # sits two folders up.
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", relative),
                          os.path.join(base, "__main__", relative),
                          os.path.join(base, "..", "..", relative)):
            if os.path.exists(candidate):
                return candidate
    raise FileNotFoundError(relative)


def _documented():
    with open(_find("docs/nn.md")) as f:
        return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", f.read()))


def _public(namespace, keep):
    return {name for name, value in vars(namespace).items()
            if not name.startswith("_") and keep(value)}


def test_every_module_is_documented():
    modules = _public(nn, lambda v: inspect.isclass(v) and issubclass(v, nn.Module))
    assert modules - _documented() == set()


def test_every_functional_init_and_util_is_documented():
    def own_function(value):
        return (inspect.isfunction(value)
                and str(getattr(value, "__module__", "")).startswith("ember.nn"))

    functions = (_public(nn.functional, callable) | _public(nn.init, own_function)
                 | _public(nn.utils, own_function))
    assert functions - _documented() == set()


def test_every_scheduler_is_documented():
    assert set(lr_scheduler.__all__) - _documented() == set()
    assert "Parameter" in _documented() and ember.nn.Parameter
