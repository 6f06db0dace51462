"""Runs one pytest file under `bazel test`.

Usage (from a py_test): run_pytest.py <test file> [pytest args...]

Writes JUnit XML to $XML_OUTPUT_FILE, one <testcase> per test, which
scripts/test sums up. Under Bazel every cache the tests could create goes to
$TEST_TMPDIR, never to the user's home.
"""

import os
import sys


def _device_missing(test_file):
    """Under EMBER_TEST_DEVICE (the *_on_cuda, *_on_rocm ... suites), where
    that device does not exist: prints the reason and writes one skipped
    case to the JUnit XML, without importing torch and collecting the suite
    (a few seconds each for the ~45 such targets on a machine without
    GPUs). conftest.py skips every case the same way under plain pytest."""
    device = os.environ.get("EMBER_TEST_DEVICE", "cpu")
    if device == "cpu":
        return False
    import ember
    kind = getattr(ember, device)
    if kind.is_available():
        return False
    from xml.sax.saxutils import quoteattr
    reason = f"no {device} device: {kind.unavailable_reason()}"
    name = os.path.splitext(os.path.basename(test_file))[0]
    print(f"{name}: every case skipped: {reason}")
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        with open(xml, "w") as f:
            f.write('<?xml version="1.0" encoding="utf-8"?>\n'
                    f'<testsuites><testsuite name={quoteattr(name)} tests="1" '
                    'skipped="1" failures="0" errors="0">'
                    f'<testcase classname={quoteattr(name)} name="all_cases">'
                    f'<skipped message={quoteattr(reason)}/></testcase>'
                    '</testsuite></testsuites>\n')
    return True


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

    if _device_missing(test_file):
        return

    import pytest

    args = [test_file, "-q", "-p", "no:cacheprovider", "--rootdir", here]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        args.append("--junitxml=" + xml)
    sys.exit(pytest.main(args + sys.argv[2:]))


if __name__ == "__main__":
    main()
