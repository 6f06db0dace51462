"""Runs one pytest file under `bazel test`.

Usage (from a py_test): run_pytest.py <test file> [pytest args...]

Writes JUnit XML to $XML_OUTPUT_FILE, one <testcase> per test, which
scripts/test sums up. Under Bazel every cache the tests could create goes to
$TEST_TMPDIR, never to the user's home.
"""

import os
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: run_pytest.py <test file> [pytest args...]")
    test_file = os.path.abspath(sys.argv[1])
    here = os.path.dirname(test_file)

    tmp = os.environ.get("TEST_TMPDIR")
    if tmp:
        for name, sub in (("HOME", "home"), ("XDG_CACHE_HOME", "cache"),
                          ("EMBER_CACHE_DIR", "ember-cache")):
            path = os.path.join(tmp, sub)
            os.makedirs(path, exist_ok=True)
            os.environ[name] = path

    # `import ember` finds the package of //python:ember in the runfiles
    # even when the py_library sets no `imports`.
    runfiles_python = os.path.join(os.path.dirname(os.path.dirname(here)),
                                   "python")
    if os.path.isdir(os.path.join(runfiles_python, "ember")):
        sys.path.insert(0, runfiles_python)
    sys.path.insert(0, here)

    import pytest

    args = [test_file, "-q", "-p", "no:cacheprovider", "--rootdir", here]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append("--junitxml=" + xml)
    sys.exit(pytest.main(args + sys.argv[2:]))


if __name__ == "__main__":
    main()
