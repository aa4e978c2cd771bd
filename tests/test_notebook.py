"""Notebooks: functions defined the way IPython and Jupyter define them (``exec`` of a
cell's text, registered in ``linecache`` under the cell's file name) have source, so
``grad`` works on them; and docs/tutorial.ipynb runs from top to bottom.

The notebook needs the ``docs`` extra (nbclient, ipykernel). Without it its test is skipped,
unless ``ADJOINT_REQUIRE_NOTEBOOK=1`` (set by .ci/run where that extra is installed) makes
a missing package a failure.
"""
from __future__ import annotations

import linecache
import os
from pathlib import Path

import numpy as np
import pytest

from adjoint import NoSourceError, check_grad, grad, jvp

NOTEBOOK = Path(__file__).parent.parent / "docs" / "tutorial.ipynb"

CELL = """\
import numpy as np

SCALE = 0.5


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss(w, x):
    return SCALE * np.sum(sigmoid(w * x) ** 2)
"""


def run_cell(text: str, filename: str, namespace: dict) -> None:
    """What IPython does with a cell: keep its text in linecache, then exec it."""
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), namespace)


def test_a_function_from_a_notebook_cell_is_differentiated():
    namespace = {"__name__": "__main__"}
    run_cell(CELL, "/tmp/ipykernel_4242/3141592653.py", namespace)
    loss, sigmoid = namespace["loss"], namespace["sigmoid"]
    w, x = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -0.25])
    s = sigmoid(w * x)
    exact = 0.5 * 2 * s * s * (1 - s) * x  # d/dw of SCALE * sum(sigmoid(w x)^2)
    np.testing.assert_allclose(grad(loss)(w, x), exact, rtol=1e-12)
    assert check_grad(loss, w, x) < 1e-7
    assert jvp(loss)(w, x, np.ones(3))[1] == pytest.approx(float(np.sum(exact)), rel=1e-12)
    source = grad(loss).source
    assert "# return SCALE * np.sum(sigmoid(w * x) ** 2)" in source  # the cell's own text
    assert "define first (globals of loss, which has no importable module): SCALE, " \
        "sigmoid." in source.replace("\n# ", " ")


def test_a_cell_redefining_a_function_gets_a_new_gradient():
    namespace = {"__name__": "__main__"}
    run_cell("def f(x):\n    return x * x\n", "<ipython-input-1-aaaa>", namespace)
    first = namespace["f"]
    run_cell("def f(x):\n    return x * x * x\n", "<ipython-input-2-bbbb>", namespace)
    assert grad(first)(2.0) == 4.0
    assert grad(namespace["f"])(2.0) == 12.0


def test_exec_without_linecache_still_says_no_source():
    namespace: dict = {}
    exec(compile("def f(x):\n    return x * x\n", "<no-such-cell>", "exec"), namespace)
    with pytest.raises(NoSourceError):
        grad(namespace["f"])(2.0)


def test_the_tutorial_notebook_runs():
    required = os.environ.get("ADJOINT_REQUIRE_NOTEBOOK") == "1"
    try:
        import nbclient
        import nbformat
    except ImportError:
        if required:
            raise
        pytest.skip("the docs extra (nbclient, nbformat, ipykernel) is not installed")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    text = "\n".join(output.get("text", "") for cell in notebook.cells
                     if cell.cell_type == "code" for output in cell.get("outputs", []))
    assert "def dloss(W, x, y, dout=1.0):" in text  # .source printed in the notebook
    assert "from helpers_demo import SCALE, sigmoid" in text  # and imports in a module's
