"""The command line, run the way a user runs it: ``python -m adjoint ...`` in a subprocess."""
from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adjoint.cli_inputs import InputError, as_argument, parse_args_literal, parse_wrt
from adjoint.highlight import highlight, use_colour

ROOT = Path(__file__).parent.parent


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    # this checkout's adjoint, from any working directory (not another installed copy)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "adjoint", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120, env=env)


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess:
    return run("demo")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent("""\
        import math

        import numpy as np

        import adjoint


        def loss(W1, b1, x):
            h = np.tanh(W1 @ x + b1)
            return np.sum(h * h)


        def uses_try(x):
            try:
                y = x * 2
            except ValueError:
                y = x
            return y


        def softplus(x):
            return np.log1p(np.exp(x))


        @adjoint.register_adjoint(softplus)
        def softplus_adjoint(y, x):
            d[x] += d[y] * np.exp(x)  # wrong on purpose: missing / (1 + np.exp(x))


        def uses_softplus(x, scale):
            return scale * np.sum(softplus(x))


        def cube(x):
            return x ** 3


        @adjoint.register_adjoint(cube)
        def cube_adjoint(y, x):
            d[x] += d[y] * np.ones(7)  # broken on purpose: the wrong shape


        def uses_cube(x):
            return np.sum(cube(x))


        def iterate(k, n):
            s = 1.0
            for i in range(n):
                s = s * k + math.sin(s)
            return s


        def picked_energy(x, idx):
            return np.sum(x[idx] ** 2)


        def fails(x):
            raise RuntimeError("broken on purpose")


        def vector(x):
            return x * 2.0
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
    flat = ["dd = de * 2", "db = -dd", "da = db * 2", "dx = da"]  # dc = dd read through
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


def test_show_forward_mode_prints_the_tangent_function(model_file, tmp_path):
    result = run("show", f"{model_file.name}:loss", "--wrt", "x", "--mode", "fwd",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "def loss_jvp(W1, b1, x, x_dot):" in result.stdout
    assert "Tangent (forward mode) of loss" in result.stdout
    bad = run("show", f"{model_file.name}:loss", "--mode", "sideways", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_show_accepts_a_module_path():
    result = run("show", "adjoint.demo:add_multiply", "--wrt", "y,z")
    assert result.returncode == 0, result.stderr
    assert "def dadd_multiply(x, y, z, dout=1.0):" in result.stdout


# -- help and bad input --------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"], ["show", "--help"],
                                  ["check", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m adjoint")
    command = args[0] if len(args) > 1 else ""
    # every help ends with usage examples of its own command
    examples = [e for e in result.stdout.split("examples:\n", 1)[1].splitlines()
                if e.startswith("  ")]
    assert examples and all(e.startswith(f"  python -m adjoint {command}") for e in examples)


@pytest.mark.parametrize("args, fragment", [
    (["show", "missing.py:f"], "no such file: missing.py"),
    (["show", "model.py"], "expected FILE.py:FUNCTION"),
    (["show", "model.py:nope"], "has no function named 'nope'"),
    (["show", "model.py:uses_try"], "model.py:14:5: try/except is not supported"),
    (["show", "model.py:loss", "--wrt", "7"], "wrt=7 is out of range"),
    (["show", "model.py:loss", "--wrt", "W9"], "no parameter named 'W9'"),
    (["show", "model.py:loss", "--wrt", "0,,1"], "has an empty entry"),
    (["show", "model.py:np"], "is a module, not a function"),
    (["show", "no_such_module:f"], "cannot import module 'no_such_module'"),
    (["demo", "nonsense"], "no example named 'nonsense'"),
    (["check", "missing.py:f", "--args", "[1.0]"], "no such file: missing.py"),
    (["check", "model.py:loss", "--args", "[[1.0, 2.0]"], "is not a Python literal"),
    (["check", "model.py:loss", "--args", "__import__('os').getcwd()"],
     "is not a Python literal"),
    (["check", "model.py:loss", "--args", "3.0"], "must be a list of arguments"),
    (["check", "model.py:loss", "--args", "[[[1.0, 2.0], [3.0]], [1.0], [1.0]]"],
     "argument 0 (W1) is a ragged list"),
    (["check", "model.py:loss", "--args", "[[1.0, 'a'], [1.0], [1.0]]"],
     "argument 0 (W1) mixes numbers with 'a'"),
    (["check", "model.py:loss", "--args", "[[1.0], [1.0]]"],
     "loss(W1, b1, x) cannot take 2 arguments: missing a required argument: 'x'"),
    (["check", "model.py:loss", "--args", "[1.0, 2.0, 3.0, 4.0]"],
     "cannot take 4 arguments: too many positional arguments"),
    (["check", "model.py:loss", "--args", "{'W1': [1.0], 'b': 1.0}"],
     "cannot take arguments named 'W1', 'b'"),
    (["check", "model.py:loss", "--args", "[[[1.0, 2.0]], [1.0], [1.0, 2.0, 3.0]]"],
     "loss raised ValueError on these inputs: matmul"),
    (["check", "model.py:loss", "--args", "['W', [1.0], [1.0]]"],
     "cannot differentiate with respect to 'W1': 'W' is not a number"),
    (["check", "model.py:fails", "--args", "[1.0]"],
     "fails raised RuntimeError on these inputs: broken on purpose"),
    (["check", "model.py:uses_try", "--args", "[1.0]"], "try/except is not supported"),
    (["check", "model.py:vector", "--args", "[[1.0, 2.0]]"],
     "vector returns an array of shape (2,), not a scalar"),
    (["check", "model.py:loss", "--args", "[[[1.0]], [1.0], [1.0]]", "--wrt", "W9"],
     "no parameter named 'W9'"),
    (["check", "model.py:loss", "--inputs", "missing.json"], "cannot read --inputs missing.json"),
    (["check", "model.py:loss", "--inputs", "model.py"], "--inputs model.py is not valid JSON"),
    (["check", "model.py:loss", "--random", "3x,2"], "--random entry '3x' is not a shape"),
    (["check", "model.py:iterate", "--random", "scalar,int:2.5"],
     "--random entry 'int:2.5' is not a shape, 'scalar' or an integer"),
])
def test_bad_input_exits_2_with_one_line(model_file, tmp_path, args, fragment):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m adjoint: error: ")
    assert fragment in lines[0]


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["show"], ["check", "model.py:loss"],
                                  ["check", "m.py:f", "--args", "[1]", "--random", "3"],
                                  ["show", "m.py:f", "--color", "sometimes"]])
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


# -- check ---------------------------------------------------------------------------------


LOSS_ARGS = "[[[1.0, 2.0], [3.0, 4.0], [0.1, 0.2]], [0.5, -0.5, 0.1], [0.3, -0.2]]"


def check_table(stdout: str) -> dict[str, tuple[float, float, str]]:
    """The rows of check's table: argument -> (max abs error, max rel error, verdict)."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] in ("ok", "MISMATCH"):
            rows[parts[0]] = (float(parts[1]), float(parts[2]), parts[3])
    return rows


def test_check_passes_with_a_row_per_argument(model_file, tmp_path):
    result = run("check", f"{model_file.name}:loss", "--args", LOSS_ARGS, "--wrt", "W1,b1",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "check loss at W1 (3, 2), b1 (3,), x (2,)"
    rows = check_table(result.stdout)
    assert list(rows) == ["W1", "b1"]
    assert all(abs_e < 1e-7 and rel_e < 1e-7 and v == "ok" for abs_e, rel_e, v in rows.values())
    assert lines[-1].startswith("PASS: the adjoint of loss agrees with central differences")


def test_check_fails_on_a_wrong_user_rule(model_file, tmp_path):
    result = run("check", f"{model_file.name}:uses_softplus", "--args", "[[0.5, -1.0], 2.0]",
                 "--wrt", "x,scale", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    rows = check_table(result.stdout)
    assert rows["x"][2] == "MISMATCH" and rows["x"][1] > 0.1
    assert rows["scale"][2] == "ok"  # the rule is only wrong for x
    assert result.stdout.splitlines()[-1].startswith(
        "FAIL: the adjoint of uses_softplus disagrees with central differences for x")


def test_check_fails_when_the_adjoint_raises(model_file, tmp_path):
    result = run("check", f"{model_file.name}:uses_cube", "--args", "[[0.5, -1.0]]",
                 cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    header, verdict = result.stdout.splitlines()
    assert header == "check uses_cube at x (2,)"
    assert verdict.startswith("FAIL: the adjoint of uses_cube raised ValueError: ")
    assert verdict.endswith(" where uses_cube itself runs")


def test_check_tolerance_decides(model_file, tmp_path):
    loose = run("check", f"{model_file.name}:uses_softplus", "--args", "[[0.5, -1.0], 2.0]",
                "--tol", "10", cwd=tmp_path)
    assert loose.returncode == 0, loose.stdout + loose.stderr
    assert "(tolerance 10 on the relative error)" in loose.stdout


def test_check_inputs_file_as_list_and_by_name(model_file, tmp_path):
    W1, b1, x = ast.literal_eval(LOSS_ARGS)
    as_list = tmp_path / "point.json"
    as_list.write_text(json.dumps([W1, b1, x]))
    by_name = tmp_path / "named.json"
    by_name.write_text(json.dumps({"x": x, "b1": b1, "W1": W1}))
    for path in (as_list, by_name):
        result = run("check", f"{model_file.name}:loss", "--inputs", path.name, "--wrt", "0,2",
                     cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert list(check_table(result.stdout)) == ["W1", "x"]


def test_check_keeps_integers_for_labels_and_loop_counts(model_file, tmp_path):
    indexed = run("check", f"{model_file.name}:picked_energy", "--args",
                  "{'x': [0.5, -1.0, 2.0], 'idx': [0, 2, 2]}", cwd=tmp_path)
    assert indexed.returncode == 0, indexed.stderr
    assert indexed.stdout.splitlines()[0] == "check picked_energy at x (3,), idx int64 (3,)"
    loop = run("check", f"{model_file.name}:iterate", "--args", "[0.9, 20]", "--jit",
               cwd=tmp_path)
    assert loop.returncode == 0, loop.stderr
    assert loop.stdout.splitlines()[0] == "check iterate at k = 0.9, n = 20 with jit=True"


def test_check_random_shapes(model_file, tmp_path):
    result = run("check", f"{model_file.name}:loss", "--random", "3x2, 3, 2", "--wrt",
                 "W1,b1,x", "--seed", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("check loss at W1 (3, 2), b1 (3,), x (2,)\n")
    assert list(check_table(result.stdout)) == ["W1", "b1", "x"]


@pytest.mark.parametrize("count", ["int:20", "i20", "INT: 20"])
def test_check_random_takes_int_parameters(model_file, tmp_path, count):
    result = run("check", f"{model_file.name}:iterate", "--random", f"scalar, {count}",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("check iterate at k = ") and first.endswith(", n = 20"), first
    assert list(check_table(result.stdout)) == ["k"]


def test_check_help_documents_int_parameters():
    result = run("check", "--help")
    assert "int:N (or iN)" in " ".join(result.stdout.split())


def test_parse_args_literal_and_as_argument():
    assert parse_args_literal("([1, 2], 3.0)") == [[1, 2], 3.0]
    assert parse_args_literal("{'x': 1.0}") == {"x": 1.0}
    with pytest.raises(InputError):
        parse_args_literal("open('x')")
    floats = as_argument([[1.0, 2], [3, 4]], "W")
    assert floats.dtype == np.float64 and floats.shape == (2, 2)
    assert as_argument([0, 2, 1], "y").dtype == np.int64
    assert as_argument([True, False], "mask").dtype == np.bool_
    assert as_argument((3, 4), "shape") == (3, 4)  # tuples are kept: shapes, not arrays
    assert as_argument("mean", "mode") == "mean"
    with pytest.raises(InputError):
        as_argument([True, 1], "x")


# -- colour --------------------------------------------------------------------------------


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_show_is_plain_when_piped_and_coloured_when_asked(model_file, tmp_path):
    target = f"{model_file.name}:loss"
    plain = run("show", target, cwd=tmp_path)
    assert "\x1b[" not in plain.stdout
    never = run("show", target, "--color", "never", cwd=tmp_path)
    assert never.stdout == plain.stdout
    always = run("show", target, "--color", "always", cwd=tmp_path)
    assert always.returncode == 0, always.stderr
    assert "\x1b[35mdef\x1b[0m \x1b[1;34mdloss\x1b[0m" in always.stdout
    assert "\x1b[90m# forward sweep\x1b[0m" in always.stdout
    assert ANSI.sub("", always.stdout) == plain.stdout  # colour only, not one character more


def test_check_colours_its_verdict_when_asked(model_file, tmp_path):
    coloured = run("check", f"{model_file.name}:loss", "--args", LOSS_ARGS, "--color", "always",
                   cwd=tmp_path)
    assert coloured.stdout.splitlines()[-1].startswith("\x1b[1;32mPASS\x1b[0m: ")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_use_colour_honours_no_color_and_term(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert use_colour("auto", FakeTerminal())
    assert not use_colour("auto", io.StringIO())  # a pipe or a file
    assert not use_colour("never", FakeTerminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour("auto", FakeTerminal())
    assert use_colour("always", io.StringIO())  # an explicit choice wins
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not use_colour("auto", FakeTerminal())


def test_highlight_keeps_the_text_and_survives_bad_source():
    source = 'def f(x):\n    """doc"""\n    return max(x, 1.5) + np.max(x)  # note\n'
    coloured = highlight(source)
    assert ANSI.sub("", coloured) == source
    assert "\x1b[36mmax\x1b[0m(x" in coloured  # the builtin
    assert "np.max(x)" in coloured  # an attribute that shares a builtin's name
    assert '\x1b[32m"""doc"""\x1b[0m' in coloured
    broken = "def f(:\n    s = '''unterminated\n"
    assert highlight(broken) == broken
