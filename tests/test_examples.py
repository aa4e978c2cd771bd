"""Every script in examples/ runs, as a user runs it, in quick mode, and prints what it should.

Each script runs once, copied into a temporary directory (with ``_options.py``, the options
the scripts share), in a subprocess with ``ADJOINT_EXAMPLES_QUICK=1``, a private
``ADJOINT_CACHE_DIR`` (so ``jit=True`` really compiles) and ``ADJOINT_EXAMPLES_PLOT`` in
that directory. The scripts with a checked
result get their own test; any other script in examples/ must at least run to completion.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
CHECKED = {"digits_sgd.py", "rosenbrock_scipy.py", "ode_fit_jit.py", "worked_examples.py",
           "ode_adjoint.py", "forward_vs_reverse.py", "heat_equation.py", "data_parallel.py"}
SCRIPTS = sorted(p.name for p in EXAMPLES_DIR.glob("*.py") if not p.name.startswith("_"))
OTHERS = [name for name in SCRIPTS if name not in CHECKED]
WITH_QUICK = [name for name in SCRIPTS if "add_quick_option" in (EXAMPLES_DIR / name).read_text()]


def run_example(name: str, tmp_path: Path, *args: str, plot: bool = True,
                quick: str = "1") -> subprocess.CompletedProcess:
    env = dict(os.environ, ADJOINT_EXAMPLES_QUICK=quick, MPLBACKEND="Agg",
               ADJOINT_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join(filter(None, [str(EXAMPLES_DIR.parent),
                                                        os.environ.get("PYTHONPATH")])))
    env.pop("ADJOINT_EXAMPLES_PLOT", None)
    if plot:
        env["ADJOINT_EXAMPLES_PLOT"] = str(tmp_path / "plot.png")
    # run a copy: whatever a script writes next to itself lands in tmp_path, not in the repo
    script = tmp_path / name
    shutil.copyfile(EXAMPLES_DIR / name, script)
    shutil.copyfile(EXAMPLES_DIR / "_options.py", tmp_path / "_options.py")
    return subprocess.run([sys.executable, str(script), *args], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)


def run_example_ok(name: str, tmp_path: Path) -> str:
    done = run_example(name, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return done.stdout


def number_after(label: str, text: str) -> float:
    match = re.search(re.escape(label) + r"\s*(-?[0-9.]+(?:e[-+]?\d+)?)", text)
    assert match, f"no {label!r} in the output:\n{text}"
    return float(match.group(1))


def test_every_checked_example_exists():
    assert all((EXAMPLES_DIR / name).is_file() for name in CHECKED)


def test_digits_sgd_learns_and_saves_its_loss_curve(tmp_path):
    out = run_example_ok("digits_sgd.py", tmp_path)
    assert number_after("check_grad on 5 images: largest error", out) < 1e-6
    assert out.count("epoch ") == 5  # quick mode: five epochs
    assert number_after("test accuracy:", out) > 90.0
    assert number_after("train accuracy:", out) > 90.0
    plot = tmp_path / "plot.png"
    assert f"loss curve saved to {plot}" in out
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and plot.stat().st_size > 10_000
    assert not list(tmp_path.glob("digits_loss.png"))


def rosenbrock_row(label: str, out: str) -> tuple[int, int, float]:
    """(iterations, function evaluations, final value) from the script's table."""
    match = re.search(re.escape(label) + r"\s+(\d+)\s+(\d+)\s+(\S+)", out)
    assert match, out
    return int(match.group(1)), int(match.group(2)), float(match.group(3))


def test_rosenbrock_scipy_exact_gradient_beats_finite_differences(tmp_path):
    out = run_example_ok("rosenbrock_scipy.py", tmp_path)
    assert "Rosenbrock in 20 dimensions" in out
    assert number_after("check_grad at x0: largest error", out) < 1e-6
    iterations, evaluations, value = rosenbrock_row("jac=grad(f)", out)
    _, fd_evaluations, fd_value = rosenbrock_row("finite differences", out)
    assert 0 < iterations < 1000 and value < 1e-12  # exact gradients go all the way down
    assert fd_evaluations > 10 * evaluations  # 21 evaluations per finite-difference gradient
    assert value < fd_value
    assert "jac=grad(f): stopped with CONVERGENCE" in out


def test_ode_fit_jit_recovers_the_parameters(tmp_path):
    out = run_example_ok("ode_fit_jit.py", tmp_path)
    assert number_after("check_grad at the first guess: largest error", out) < 1e-6
    assert "250 Adam steps" in out
    true = {"k": 4.0, "c": 0.3, "x0": 1.0}
    for name, value in true.items():
        match = re.search(rf"^{name}\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)$", out, re.MULTILINE)
        assert match, out
        assert float(match.group(1)) == value
        assert abs(float(match.group(3)) - value) < 0.02 * max(value, 1.0), match.group(0)
    misfit, noise = re.search(r"final misfit ([0-9.]+) \(the noise alone: ([0-9.]+)\)",
                              out).groups()
    assert float(misfit) < 1.01 * float(noise)  # down to the noise: nothing left to fit


def test_worked_examples_put_generated_code_next_to_the_notes(tmp_path):
    out = run_example_ok("worked_examples.py", tmp_path)
    assert "All 6 worked examples: the generated adjoints agree" in out
    assert "DIFFERENT" not in out and "FAILED" not in out
    for title in ("§2", "§3 the sigmoid chain", "§4 ReLU", "§5 a linear network",
                  "§3 the two-layer net", "§3 the multiclass SVM loss"):
        assert title in out
    # the flat style: generated and hand-written lines on the same row
    assert re.search(r"^    dd = de \* 2 +dd = de \* 2$", out, re.MULTILINE)
    assert re.search(r"^    da = db \* 2 +da = db \* 2$", out, re.MULTILINE)
    # the notes' exact numbers beside the generated code
    assert re.search(r"dz = dout \* y\s*$", out, re.MULTILINE)  # dq = dout read through
    assert "df/dy = -4" in out and "df/dx = [ 0.,  1., -1.]" in out
    assert out.count("against central differences: OK") == 6


def test_heat_equation_recovers_the_diffusivity(tmp_path):
    out = run_example_ok("heat_equation.py", tmp_path)
    match = re.search(r"recovered kappa = ([\d.]+) \(true ([\d.]+)\)", out)
    assert match, out
    assert abs(float(match.group(1)) - float(match.group(2))) < 1e-3
    assert "central differences" in out


def test_ode_adjoint_hits_its_target(tmp_path):
    out = run_example_ok("ode_adjoint.py", tmp_path)
    assert "for _step in range(steps - 1, -1, -1):" in out  # the backward loop is a loop
    assert number_after("largest difference from central finite differences:", out) < 1e-6
    reached = number_after("ends the swing at", out)
    assert abs(reached - 0.2) < 1e-8


def test_forward_vs_reverse_agrees_on_the_worked_example_and_plots(tmp_path):
    out = run_example_ok("forward_vs_reverse.py", tmp_path)
    assert "df/dx by reverse mode = [ 0.  1. -1.], by forward mode = [ 0.  1. -1.]" in out
    assert len(re.findall(r"^d = ", out, re.M)) == 3  # quick mode: three input dimensions
    assert number_after("forward mode takes", out) > 1.0  # d = 32 forward sweeps
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")


def test_data_parallel_on_two_dask_workers_gives_the_one_process_gradient(tmp_path):
    pytest.importorskip("distributed", reason="dask[distributed] is not installed (pip "
                        "install -e '.[distributed]')")
    out = run_example_ok("data_parallel.py", tmp_path)
    assert "100,000 rows x 10 features, 3 epochs" in out
    for where in ("Dask, 1 worker", "Dask, 2 workers"):
        assert number_after(where, out) > 0  # seconds per epoch
        row = next(line for line in out.splitlines() if line.startswith(where))
        assert float(row.split()[-1]) < 1e-12  # the gradient equals the one-process one
    assert "2 workers vs 1:" in out
    losses = [float(v) for v in out.split("loss after each epoch:")[1].split("\n")[0].split(",")]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2]


@pytest.mark.parametrize("name", OTHERS)
def test_other_examples_run(name, tmp_path):
    assert run_example_ok(name, tmp_path).strip()


def test_forward_vs_reverse_quick_run_leaves_the_tracked_plot_alone(tmp_path):
    """Without --plot or ADJOINT_EXAMPLES_PLOT a quick run saves to a temporary file; the
    full run's default is the figure README shows, next to the script."""
    done = run_example("forward_vs_reverse.py", tmp_path, plot=False)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = Path(re.search(r"plot saved to (\S+)", done.stdout).group(1))
    assert saved.parent != tmp_path and saved.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "forward_vs_reverse.png").exists()
    shutil.rmtree(saved.parent)


def load_options():
    spec = importlib.util.spec_from_file_location("_options", EXAMPLES_DIR / "_options.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("value", "quick"), [
    ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("", False), ("false", False), ("No", False), ("off", False), (None, False),
])
def test_adjoint_examples_quick_values(value, quick, monkeypatch):
    if value is None:
        monkeypatch.delenv("ADJOINT_EXAMPLES_QUICK", raising=False)
    else:
        monkeypatch.setenv("ADJOINT_EXAMPLES_QUICK", value)
    assert load_options().quick_from_environment() is quick


def test_every_quick_script_reads_the_flag_through_the_shared_helper():
    assert sorted(WITH_QUICK) == ["data_parallel.py", "digits_sgd.py", "forward_vs_reverse.py",
                                  "heat_equation.py", "ode_fit_jit.py", "rosenbrock_scipy.py"]
    for name in SCRIPTS:
        assert "ADJOINT_EXAMPLES_QUICK" not in (EXAMPLES_DIR / name).read_text().split(
            '"""', 2)[-1], f"{name} reads ADJOINT_EXAMPLES_QUICK itself"


@pytest.mark.parametrize("name", WITH_QUICK)
def test_a_bad_quick_value_is_an_error_in_every_script(name, tmp_path):
    done = run_example(name, tmp_path, "--help", quick="maybe")
    assert done.returncode != 0
    assert "ADJOINT_EXAMPLES_QUICK='maybe'" in done.stderr


def test_train_mlp_dict_trains_a_dict_of_parameters_three_ways(tmp_path):
    out = run_example_ok("train_mlp_dict.py", tmp_path)
    assert "gradient keys and shapes: {'W1': (2, 32), 'b1': (32,), 'W2': (32, 3)" in out
    assert number_after("step    0  loss", out) > 1.0
    assert number_after("final loss", out) < 0.5
    assert number_after("training accuracy", out) > 0.9
    assert number_after("value_and_grad:", out) < 1e-9
    assert "params_W1 = params['W1']" in out
