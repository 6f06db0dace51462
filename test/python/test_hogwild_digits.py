"""examples/hogwild_digits.py, small: processes that train one model in
shared memory (model.share_memory()) reach the test accuracy one process
reaches on the same data, with 'fork' in this process and with 'spawn' as
the example runs from the command line."""

import os
import runpy
import subprocess
import sys


def example_path():
    for base in (os.environ.get("TEST_SRCDIR", ""), os.path.dirname(__file__)):
        for candidate in (os.path.join(base, "_main", "examples", "hogwild_digits.py"),
                          os.path.join(base, "__main__", "examples", "hogwild_digits.py"),
                          os.path.join(base, "..", "..", "examples", "hogwild_digits.py")):
            if os.path.exists(candidate):
                return candidate
    raise FileNotFoundError("examples/hogwild_digits.py")


def test_hogwild_with_fork_reaches_one_process_accuracy():
    example = runpy.run_path(example_path(), run_name="hogwild_digits")
    args = example["parse_args"](["--processes", "2", "--epochs", "5"])
    single, hogwild, exit_codes = example["run"](args)
    assert exit_codes == [0, 0]
    # The initial model guesses (~10%): the children's updates reached the
    # parent's model through the shared pages.
    assert single >= 0.9
    assert hogwild >= single - 0.03, (single, hogwild)


def test_hogwild_example_with_spawn():
    result = subprocess.run(
        [sys.executable, example_path(), "--processes", "2", "--epochs", "4",
         "--start-method", "spawn"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
