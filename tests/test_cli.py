"""The command line, run the way a user runs it: ``python -m adjoint ...`` in a subprocess."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from adjoint.__main__ import InputError, parse_wrt


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "adjoint", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess:
    return run("demo")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent("""\
        import numpy as np


        def loss(W1, b1, x):
            h = np.tanh(W1 @ x + b1)
            return np.sum(h * h)


        def uses_try(x):
            try:
                y = x * 2
            except ValueError:
                y = x
            return y
        """))
    return path


# -- demo ----------------------------------------------------------------------------------


def test_demo_succeeds_quietly_on_stderr(demo):
    assert demo.returncode == 0, demo.stderr
    assert demo.stderr == ""
    assert "All 6 examples agree with the notes and with finite differences." in demo.stdout


def test_demo_gate_example_exact_numbers(demo):
    out = demo.stdout
    assert "Value and gradient at x=-2, y=5, z=-4" in out
    assert "\nf         -22\n" in out
    assert "\ndf/dx     1\n" in out
    assert "\ndf/dy     -4\n" in out
    assert "\ndf/dz     5\n" in out


def test_demo_relu_example_exact_numbers(demo):
    assert "\ndf/dx     [4. 0. 5. 0.]\n" in demo.stdout


def test_demo_linear_network_exact_numbers(demo):
    out = demo.stdout
    assert "\nf         0.5\n" in out
    assert "df/dW0    [[ 1.  0. -1.]\n           [ 0.  0.  0.]]" in out
    assert "df/dW1    [[-1. -1.]\n           [ 0.  0.]]" in out
    assert "\ndf/dx     [ 0.  1. -1.]\n" in out


def test_demo_prints_source_adjoint_and_checks_for_every_example(demo):
    out = demo.stdout
    for name in ("add_multiply", "sigmoid_chain", "relu_layer", "linear_net", "two_layer_net",
                 "svm_loss"):
        assert f"    def {name}(" in out  # the user's function
        assert f"    def d{name}(" in out  # its generated adjoint
    assert out.count("matches background.md") == 3 + 1 + 3  # gates, relu, linear
    assert out.count("matches hand-written backward") == 1 + 4 + 1  # sigmoid, two-layer, svm
    assert out.count("against central differences: OK") == 6
    assert "DIFFERS" not in out and "FAILED" not in out


def test_demo_sigmoid_chain_reads_like_the_flat_backward_style(demo):
    out = demo.stdout
    flat = ["dd = de * 2", "dc = dd", "db = -dc", "da = db * 2", "dx = da"]
    positions = [out.index(line) for line in flat]
    assert positions == sorted(positions)


def test_demo_one_example_and_list():
    result = run("demo", "linear")
    assert result.returncode == 0, result.stderr
    assert "[linear]" in result.stdout and "[gates]" not in result.stdout
    assert "All 1 examples agree" in result.stdout
    listing = run("demo", "--list")
    assert listing.returncode == 0
    assert {line.split()[0] for line in listing.stdout.splitlines()} == {
        "gates", "sigmoid", "relu", "linear", "two_layer", "svm"}


# -- show ----------------------------------------------------------------------------------


def test_show_by_names_prints_a_runnable_adjoint(model_file, tmp_path):
    result = run("show", f"{model_file}:loss", "--wrt", "W1,b1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "def dloss(W1, b1, x, dout=1.0):" in result.stdout
    assert "return " in result.stdout and "(dW1, db1)" in result.stdout
    namespace: dict = {}
    exec(compile(result.stdout, "<shown>", "exec"), namespace)
    rng = np.random.default_rng(0)
    W1, b1, x = rng.normal(size=(3, 2)), rng.normal(size=3), rng.normal(size=2)
    value, (dW1, db1) = namespace["dloss"](W1, b1, x)
    h = np.tanh(W1 @ x + b1)
    dpre = 2 * h * (1 - h * h)
    assert np.isclose(value, np.sum(h * h))
    np.testing.assert_allclose(db1, dpre)
    np.testing.assert_allclose(dW1, np.outer(dpre, x))


def test_show_by_index_and_default(model_file, tmp_path):
    by_index = run("show", f"{model_file.name}:loss", "--wrt", "0,2", cwd=tmp_path)
    assert by_index.returncode == 0, by_index.stderr
    assert "(dW1, dx)" in by_index.stdout
    default = run("show", f"{model_file.name}:loss", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert "returns (value of loss, dW1)" in default.stdout


def test_show_accepts_a_module_path():
    result = run("show", "adjoint.demo:add_multiply", "--wrt", "y,z")
    assert result.returncode == 0, result.stderr
    assert "def dadd_multiply(x, y, z, dout=1.0):" in result.stdout


# -- help and bad input --------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"], ["show", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m adjoint")


@pytest.mark.parametrize("args, fragment", [
    (["show", "missing.py:f"], "no such file: missing.py"),
    (["show", "model.py"], "expected FILE.py:FUNCTION"),
    (["show", "model.py:nope"], "has no function named 'nope'"),
    (["show", "model.py:uses_try"], "model.py:10:5: try/except is not supported"),
    (["show", "model.py:loss", "--wrt", "7"], "wrt=7 is out of range"),
    (["show", "model.py:loss", "--wrt", "W9"], "no parameter named 'W9'"),
    (["show", "model.py:loss", "--wrt", "0,,1"], "has an empty entry"),
    (["show", "model.py:np"], "is a module, not a function"),
    (["show", "no_such_module:f"], "cannot import module 'no_such_module'"),
    (["demo", "nonsense"], "no example named 'nonsense'"),
])
def test_bad_input_exits_2_with_one_line(model_file, tmp_path, args, fragment):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m adjoint: error: ")
    assert fragment in lines[0]


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["show"]])
def test_usage_errors_exit_2(args):
    result = run(*args)
    assert result.returncode == 2
    assert "usage: python -m adjoint" in result.stderr
    assert "Traceback" not in result.stderr


def test_parse_wrt():
    assert parse_wrt(None) == 0
    assert parse_wrt("2") == 2
    assert parse_wrt("W1") == "W1"
    assert parse_wrt("0, 2") == (0, 2)
    assert parse_wrt("W1,b1") == ("W1", "b1")
    with pytest.raises(InputError):
        parse_wrt("W1,")
    with pytest.raises(InputError):
        parse_wrt("a-b")
