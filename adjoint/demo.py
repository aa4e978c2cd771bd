"""The worked examples of the project's background notes, run by ``python -m adjoint demo``.

Each example is a plain module-level function (``grad`` needs its source file), the point
where it is differentiated, and either the exact gradient the notes give or the notes'
hand-written backward code to compare against.
"""
from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from .api import grad
from .check import check_grad
from .errors import AdjointError

# -- §2: gate patterns ----------------------------------------------------------------------


def add_multiply(x, y, z):
    q = y * z
    f = x + q
    return f


# -- §3: the flat backward style --------------------------------------------------------------


def sigmoid(t):
    return 1.0 / (1.0 + math.exp(-t))


def sigmoid_chain(x):
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = sigmoid(e)
    return f


def sigmoid_chain_by_hand(x):
    """The hand-written flat backward code of background.md §3."""
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = sigmoid(e)
    df = 1.0
    de = df * f * (1 - f)
    dd = de * 2
    dc = dd * 1
    db = dc * -1
    da = db * 2
    dx = da * 1
    return {"x": dx}


# -- §4: ReLU without its Jacobian -------------------------------------------------------------


def relu_layer(x, upstream):
    # the gradient with respect to x is upstream * ReLU'(x)
    return np.sum(upstream * np.maximum(0, x))


# -- §5: a linear network with exact numbers ---------------------------------------------------


def linear_net(W0, W1, x, y):
    z1 = W0 @ x
    z2 = W1 @ z1
    r = y - z2
    return 0.5 * np.sum(r * r)


# -- §3: the two-layer net and the multiclass SVM loss -----------------------------------------


def two_layer_net(W1, b1, W2, b2, X, y):
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    return 0.5 * np.sum((scores - y) ** 2)


def two_layer_net_by_hand(W1, b1, W2, b2, X, y):
    """The hand-written backward code of background.md §3 (dscores of the squared loss)."""
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    dscores = scores - y
    dW2 = hidden.T.dot(dscores)
    db2 = np.sum(dscores, axis=0)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden <= 0] = 0
    dW1 = X.T.dot(dhidden)
    db1 = np.sum(dhidden, axis=0)
    return {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def svm_loss(W, X, y):
    scores = W.dot(X)
    margins = np.maximum(0, scores - scores[y] + 1)
    margins[y] = 0
    loss = np.sum(margins)
    return loss


def svm_loss_by_hand(W, X, y):
    """The hand-written backward code of background.md §3 (X is one example, a vector)."""
    scores = W.dot(X)
    margins = np.maximum(0, scores - scores[y] + 1)
    margins[y] = 0
    dscores = np.zeros_like(scores)
    dscores[margins > 0] = 1
    dscores[y] -= np.sum(margins > 0)
    dW = np.outer(dscores, X)
    return {"W": dW}


# -- the table of examples ----------------------------------------------------------------------


@dataclass
class Example:
    name: str
    title: str
    fn: Callable
    wrt: tuple[str, ...]
    args: dict[str, Any]
    # the gradient the notes give, by argument name ...
    expected: dict[str, Any] = field(default_factory=dict)
    # ... or the notes' hand-written backward code, called with the same arguments
    by_hand: Callable | None = None
    note: str = ""


def _two_layer_args() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    return {"W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
            "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2),
            "X": rng.normal(size=(2, 3)), "y": rng.normal(size=(2, 2))}


def _svm_args() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(3, 4)), "X": rng.normal(size=4), "y": 1}


EXAMPLES = [
    Example("gates", "§2 f(x, y, z) = x + y * z", add_multiply, ("x", "y", "z"),
            {"x": -2.0, "y": 5.0, "z": -4.0}, expected={"x": 1.0, "y": -4.0, "z": 5.0},
            note="add passes the gradient through; multiply swaps the other input in"),
    Example("sigmoid", "§3 the sigmoid chain, in flat backward style", sigmoid_chain, ("x",),
            {"x": 3.0}, by_hand=sigmoid_chain_by_hand,
            note="one adjoint per line, in reverse order of the forward code"),
    Example("relu", "§4 ReLU without the Jacobian", relu_layer, ("x",),
            {"x": np.array([1.0, -2.0, 3.0, -1.0]), "upstream": np.array([4.0, -1.0, 5.0, 9.0])},
            expected={"x": np.array([4.0, 0.0, 5.0, 0.0])},
            note="dx = upstream * (x > 0); the 4x4 diagonal Jacobian is never built"),
    Example("linear", "§5 a linear network with exact numbers", linear_net, ("W0", "W1", "x"),
            {"W0": np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 1.0]]),
             "W1": np.array([[-1.0, 0.0], [2.0, -1.0]]),
             "x": np.array([1.0, 0.0, -1.0]), "y": np.array([0.0, 1.0])},
            expected={"W0": np.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]]),
                      "W1": np.array([[-1.0, -1.0], [0.0, 0.0]]),
                      "x": np.array([0.0, 1.0, -1.0])},
            note="f = 0.5 * ||y - W1 W0 x||^2 = 0.5"),
    Example("two_layer", "§3 the two-layer net (random data)", two_layer_net,
            ("W1", "b1", "W2", "b2"), _two_layer_args(), by_hand=two_layer_net_by_hand,
            note="compared with the hand-written backward code of the notes"),
    Example("svm", "§3 the multiclass SVM loss (random data)", svm_loss, ("W",), _svm_args(),
            by_hand=svm_loss_by_hand,
            note="the element write margins[y] = 0 zeroes the adjoint of that entry"),
]

BY_NAME = {example.name: example for example in EXAMPLES}


def _show(value: Any) -> str:
    value = np.asarray(value, dtype=np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0
    if value.ndim == 0:
        return f"{float(value):.6g}"
    text = np.array2string(value, precision=4, suppress_small=True)
    return text.replace("\n", "\n" + " " * 10)


def _heading(text: str, char: str, out: TextIO) -> None:
    print(f"\n{text}\n{char * len(text)}", file=out)


def _indent(text: str) -> str:
    return "\n".join("    " + line if line.strip() else "" for line in text.rstrip().splitlines())


@dataclass
class Outcome:
    """An example differentiated at its point, and what its gradient is compared with."""

    example: Example
    gradient: Callable  # grad(example.fn, wrt=...); .source is the code that ran
    args: list
    value: Any
    grads: dict[str, Any]
    reference: dict[str, Any]  # the notes' numbers or their hand-written backward's result
    reference_name: str

    @property
    def wrt_text(self) -> str:
        wrt = self.example.wrt
        return repr(wrt[0] if len(wrt) == 1 else wrt)

    def agrees(self, name: str) -> bool | None:
        """Whether the gradient for ``name`` matches the reference (None: no reference)."""
        if name not in self.reference:
            return None
        return bool(np.allclose(self.grads[name], self.reference[name], rtol=1e-10,
                                atol=1e-12))

    def finite_differences(self) -> tuple[bool, str]:
        """check_grad at the example's point: (passed, a one-line report)."""
        try:
            error = check_grad(self.example.fn, *self.args, wrt=self.example.wrt)
        except AdjointError as exc:
            return False, f"check_grad FAILED: {str(exc).splitlines()[0]}"
        return True, f"check_grad: largest error {error:.1e} against central differences: OK"


def differentiate(example: Example) -> Outcome:
    """The example's value and gradient, and its reference gradient."""
    names = list(inspect.signature(example.fn).parameters)
    args = [example.args[n] for n in names]
    single = len(example.wrt) == 1
    gradient = grad(example.fn, wrt=example.wrt[0] if single else example.wrt)
    result = gradient(*args)
    grads = dict(zip(example.wrt, (result,) if single else result))
    if example.by_hand is not None:
        reference, reference_name = example.by_hand(*args), "hand-written backward"
    else:
        reference, reference_name = example.expected, "background.md"
    return Outcome(example, gradient, args, example.fn(*args), grads, reference,
                   reference_name)


def run_example(example: Example, out: TextIO = sys.stdout) -> bool:
    """Print one example; True when the gradient and the finite-difference check agree."""
    _heading(f"[{example.name}] {example.title}", "=", out)
    if example.note:
        print(example.note, file=out)
    outcome = differentiate(example)

    _heading("Your function", "-", out)
    print(_indent(inspect.getsource(example.fn)), file=out)
    _heading(f"Generated adjoint: grad({example.fn.__name__}, wrt={outcome.wrt_text}).source",
             "-", out)
    print(_indent(outcome.gradient.source), file=out)

    names = list(inspect.signature(example.fn).parameters)
    point = ", ".join(f"{n}={_show(a)}" if np.ndim(a) == 0 else f"{n} {np.shape(a)}"
                      for n, a in zip(names, outcome.args))
    _heading(f"Value and gradient at {point}", "-", out)
    print(f"{'f':<9} {_show(outcome.value)}", file=out)
    ok = True
    for name, g in outcome.grads.items():
        label = f"df/d{name}"
        print(f"{label:<9} {_show(g)}", file=out)
        same = outcome.agrees(name)
        if same is not None:
            ok = ok and same
            print(f"{'':<9} matches {outcome.reference_name}" if same else
                  f"{'':<9} DIFFERS from {outcome.reference_name}: "
                  f"{_show(outcome.reference[name])}", file=out)

    _heading("Finite-difference check", "-", out)
    passed, report = outcome.finite_differences()
    print(report, file=out)
    return ok and passed


def run(names: list[str] | None = None, out: TextIO = sys.stdout) -> bool:
    """Run the named examples (all by default); True when every one agrees."""
    chosen = [BY_NAME[n] for n in names] if names else EXAMPLES
    with np.printoptions(precision=4, suppress=True):
        results = [run_example(example, out) for example in chosen]
    failed = [e.name for e, ok in zip(chosen, results) if not ok]
    print(file=out)
    if failed:
        print(f"{len(failed)} of {len(chosen)} examples FAILED: {', '.join(failed)}", file=out)
    else:
        print(f"All {len(chosen)} examples agree with the notes and with finite differences.",
              file=out)
    return not failed
