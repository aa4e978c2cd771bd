"""Numeric tests for every derivative rule in adjoint/rules/ (operators, elementwise, arrays).

Each table row is one rule (or one way of calling it): an id, the expression that is
differentiated, and the argument specs (shape and domain of each argument, named x, y, z in
order). The row's expression becomes the body of a generated ``def`` (adjoint needs real
source), and the adjoint gradient with respect to every argument is compared with central
differences in float64 (``numeric_gradient`` below, independent of adjoint.check).

By default a row's expression is wrapped as ``np.sum(np.sin(<expr>))`` so the upstream
adjoint is neither 1 nor uniform (a transposed or misplaced gradient cannot pass by luck);
``scalar=True`` rows return the expression itself.

Domains: REAL (-2, 2), POS (0.5, 2), NEG (-2, -0.5), UNIT (-0.9, 0.9), NZ (|v| in [0.5, 2],
random sign).
Random inputs avoid the kinks (ties, abs at 0) almost surely; the documented subgradients at
kinks are tested explicitly at the end, as are dtypes, Python-float results, and a second
oracle (autograd) for a few composite functions.
"""
from __future__ import annotations

import atexit
import importlib.util
import shutil
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from adjoint import grad, hvp, jvp

# -- the harness ---------------------------------------------------------------------------
REAL = (-2.0, 2.0)
POS = (0.5, 2.0)
UNIT = (-0.9, 0.9)
NEG = (-2.0, -0.5)
NZ = "nonzero"


@dataclass(frozen=True)
class Arg:
    """One argument: ``shape`` None means a Python float, () a 0-d array."""

    shape: tuple | None
    domain: tuple | str = REAL

    def sample(self, rng: np.random.Generator):
        size = () if self.shape is None else self.shape
        if self.domain == NZ:
            v = rng.uniform(0.5, 2.0, size) * rng.choice([-1.0, 1.0], size)
        else:
            v = rng.uniform(*self.domain, size)
        return float(v) if self.shape is None else np.asarray(v, dtype=np.float64)

    def __repr__(self):
        return "float" if self.shape is None else "x".join(map(str, self.shape)) or "0d"


def A(*shape, domain=REAL):  # an array argument
    return Arg(tuple(shape), domain)


def F(domain=REAL):  # a Python float argument
    return Arg(None, domain)


NAMES = "xyzw"
_DIR = Path(tempfile.mkdtemp(prefix="adjoint_rule_rows_"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_FUNCTIONS: dict = {}


def make_function(expr: str, nargs: int, scalar: bool):
    """A real ``def`` (in a real file, so adjoint can read its source) computing ``expr``."""
    key = (expr, nargs, scalar)
    if key not in _FUNCTIONS:
        n = len(_FUNCTIONS)
        params = ", ".join(NAMES[:nargs])
        *steps, last = expr.split("; ")  # "p = x * y; np.array((x, p))": a statement first
        body = "".join(f"    {step}\n" for step in steps) + (
            f"    return {last}\n" if scalar else
            f"    out = {last}\n    return np.sum(np.sin(out))\n")
        scipy = "".join(f"from scipy import {m}\n" for m in ("special", "linalg")
                        if f"{m}." in expr.replace("np.linalg.", ""))
        text = (f"import builtins\nimport math\n\nimport numpy as np\n{scipy}\n\n"
                f"def f({params}):\n{body}")
        path = _DIR / f"row_{n}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(f"adjoint_rule_row_{n}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        _FUNCTIONS[key] = module.f
    return _FUNCTIONS[key]


def numeric_gradient(f, args, i, eps=1e-6):
    """Central differences of f along every entry of args[i], in float64."""
    x = np.array(args[i], dtype=np.float64)
    g = np.zeros(x.shape)
    for j in np.ndindex(x.shape):
        h = eps * max(1.0, abs(x[j]))
        vals = []
        for step in (h, -h):
            xs = x.copy()
            xs[j] += step
            trial = list(args)
            trial[i] = float(xs) if isinstance(args[i], float) else xs
            vals.append(float(f(*trial)))
        g[j] = (vals[0] - vals[1]) / (2 * h)
    return g


def inputs_for(expr, specs):
    rng = np.random.default_rng(zlib.crc32(f"{expr}|{specs}".encode()))
    return [s.sample(rng) for s in specs]


def assert_gradient_matches(f, args, rtol=1e-6, atol=1e-6):
    """Reverse mode against central differences, then forward mode and second order."""
    grads = grad(f, wrt=tuple(range(len(args))))(*args)
    for i, (g, x) in enumerate(zip(grads, args)):
        expected = numeric_gradient(f, args, i)
        assert np.shape(g) == np.shape(x), f"gradient {i} has shape {np.shape(g)}"
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(g, expected, rtol=rtol, atol=atol * scale,
                                   err_msg=f"gradient with respect to {NAMES[i]}")
    assert_tangent_matches(f, args)
    assert_second_order_matches(f, args)


def directions(args, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    return tuple(float(rng.normal()) if isinstance(a, float) else rng.normal(size=np.shape(a))
                 for a in args)


def moved(args, direction, step):
    return [a + step * d if isinstance(a, float) else np.asarray(a + step * d)
            for a, d in zip(args, direction)]


def assert_tangent_matches(f, args, eps=1e-6):
    """Forward mode: the tangent along a random direction equals central differences of f
    along it (every forward rule the row uses, all arguments varying at once)."""
    v = directions(args, 1)
    value, tangent = jvp(f, wrt=tuple(range(len(args))))(*args, v)
    expected = (float(f(*moved(args, v, eps))) - float(f(*moved(args, v, -eps)))) / (2 * eps)
    assert value == pytest.approx(float(f(*args)), rel=1e-12, abs=1e-12)
    assert tangent == pytest.approx(expected, rel=1e-6, abs=1e-6 * max(1.0, abs(expected)))


def assert_second_order_matches(f, args, eps=1e-5):
    """Second order: hvp (forward over the generated adjoint) along a random direction
    equals central differences of the gradient along it."""
    wrt = tuple(range(len(args)))
    v = directions(args, 2)
    hv = hvp(f, wrt=wrt)(*args, v)
    g = grad(f, wrt=wrt)
    plus, minus = g(*moved(args, v, eps)), g(*moved(args, v, -eps))
    for i, (h, p, m) in enumerate(zip(hv, plus, minus)):
        expected = (np.asarray(p) - np.asarray(m)) / (2 * eps)
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        np.testing.assert_allclose(h, expected, rtol=1e-5, atol=1e-5 * scale,
                                   err_msg=f"Hessian-vector product, {NAMES[i]} block")


def check_row(expr, specs, scalar=False):
    f = make_function(expr, len(specs), scalar)
    assert_gradient_matches(f, inputs_for(expr, specs))


def row(expr, *specs, id=None, scalar=False, marks=()):  # noqa: A002
    return pytest.param(expr, specs, scalar, id=id or expr, marks=marks)




# Broadcasting pairs for every binary rule: (shape of x, shape of y); None is a Python float.
PAIRS = [
    (None, None),
    ((2, 3), (2, 3)),
    ((3,), (2, 3)),
    ((4, 1), (1, 5)),
    (None, (2, 3)),
    ((2, 3), ()),
]


def pair_id(pair):
    return " with ".join("float" if s is None else str(s) for s in pair)


def binary_specs(domains, pair):
    return tuple(Arg(s, d) for s, d in zip(pair, domains))


# == operators.py ==========================================================================
BINARY_OPERATORS = [
    # id,    expression,  domain of x, domain of y
    ("+", "x + y", REAL, REAL),
    ("-", "x - y", REAL, REAL),
    ("*", "x * y", REAL, REAL),
    ("/", "x / y", REAL, NZ),
    ("**", "x ** y", POS, REAL),
    ("% positive divisor", "x % y", (3.1, 3.9), (1.0, 1.02)),  # floor(x / y) == 3 throughout
    ("% negative divisor", "x % y", (3.1, 3.9), (-1.02, -1.0)),  # floor(x / y) == -4
    ("builtin pow", "pow(x, y)", POS, REAL),
]


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("name, expr, dx, dy", BINARY_OPERATORS,
                         ids=[r[0] for r in BINARY_OPERATORS])
def test_binary_operator(name, expr, dx, dy, pair):
    check_row(expr, binary_specs((dx, dy), pair))


UNARY_OPERATORS = [
    row("-x", A(2, 3)),
    row("-x", F(), id="-x float"),
    row("+x", A(2, 3)),
    row("+x * x", F(), id="+x float"),
    row("x ** 2", A(5)),
    row("x ** 3", A(5)),  # negative bases with an integer constant exponent
    row("x ** 0.5", A(5, domain=POS)),
    row("2.0 ** x", A(5)),
    row("x ** y", A(2, 3, domain=POS), F(), id="array ** float"),
    row("y / x", A(4, domain=NZ), A(3, 1), id="broadcast / (denominator broadcast)"),
    row("x - y * x / (y + 3.0)", A(3), A(2, 1), id="chain of operators"),
]


@pytest.mark.parametrize("expr, specs, scalar", UNARY_OPERATORS)
def test_operator(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == elementwise.py: builtins and math on Python floats =====================================
MATH = [
    row("abs(x)", F(POS), scalar=True, id="abs(x) positive"),
    row("abs(x)", F(NEG), scalar=True, id="abs(x) negative"),
    row("max(x, y)", F(), F(), scalar=True),
    row("min(x, y)", F(), F(), scalar=True),
    row("float(x) * x", F(), scalar=True),
    row("math.fabs(x)", F(NEG), scalar=True),
    row("math.sin(x)", F(), scalar=True),
    row("math.cos(x)", F(), scalar=True),
    row("math.tan(x)", F((-1.2, 1.2)), scalar=True),
    row("math.asin(x)", F(UNIT), scalar=True),
    row("math.acos(x)", F(UNIT), scalar=True),
    row("math.atan(x)", F(), scalar=True),
    row("math.atan2(x, y)", F(), F(NZ), scalar=True),
    row("math.sinh(x)", F(), scalar=True),
    row("math.cosh(x)", F(), scalar=True),
    row("math.tanh(x)", F(), scalar=True),
    row("math.exp(x)", F(), scalar=True),
    row("math.expm1(x)", F(), scalar=True),
    row("math.log(x)", F(POS), scalar=True),
    row("math.log(x, y)", F(POS), F((1.5, 3.0)), scalar=True),
    row("math.log1p(x)", F((-0.5, 2.0)), scalar=True),
    row("math.log2(x)", F(POS), scalar=True),
    row("math.log10(x)", F(POS), scalar=True),
    row("math.sqrt(x)", F(POS), scalar=True),
    row("math.pow(x, y)", F(POS), F(), scalar=True),
    row("math.hypot(x, y)", F(NZ), F(NZ), scalar=True),
    row("math.sin(x) * math.exp(y) + math.log(x * y)", F(POS), F(POS), scalar=True,
        id="math composite"),
    # the math family also takes 0-d arrays
    row("math.sin(x)", A(), scalar=True, id="math.sin 0-d array"),
]


@pytest.mark.parametrize("expr, specs, scalar", MATH)
def test_builtin_and_math(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == elementwise.py: NumPy ufuncs ===========================================================
UNARY_UFUNCS = [
    # expression, domain
    ("np.sin(x)", REAL),
    ("np.cos(x)", REAL),
    ("np.tan(x)", (-1.2, 1.2)),
    ("np.arcsin(x)", UNIT),
    ("np.arccos(x)", UNIT),
    ("np.arctan(x)", REAL),
    ("np.sinh(x)", REAL),
    ("np.cosh(x)", REAL),
    ("np.tanh(x)", REAL),
    ("np.exp(x)", REAL),
    ("np.exp2(x)", REAL),
    ("np.expm1(x)", REAL),
    ("np.log(x)", POS),
    ("np.log2(x)", POS),
    ("np.log10(x)", POS),
    ("np.log1p(x)", (-0.5, 2.0)),
    ("np.sqrt(x)", POS),
    ("np.cbrt(x)", NZ),
    ("np.square(x)", REAL),
    ("np.reciprocal(x)", NZ),
    ("np.negative(x)", REAL),
    ("np.positive(x)", REAL),
    ("np.abs(x)", NZ),
    ("np.absolute(x)", NZ),
    ("np.fabs(x)", NZ),
]
UNARY_SHAPES = [None, (), (5,), (2, 3)]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=lambda s: pair_id((s,)))
@pytest.mark.parametrize("expr, domain", UNARY_UFUNCS, ids=[r[0] for r in UNARY_UFUNCS])
def test_unary_ufunc(expr, domain, shape):
    check_row(expr, (Arg(shape, domain),))


BINARY_UFUNCS = [
    ("np.add(x, y)", REAL, REAL),
    ("np.subtract(x, y)", REAL, REAL),
    ("np.multiply(x, y)", REAL, REAL),
    ("np.divide(x, y)", REAL, NZ),
    ("np.true_divide(x, y)", REAL, NZ),
    ("np.power(x, y)", POS, REAL),
    ("np.arctan2(x, y)", NZ, NZ),
    ("np.hypot(x, y)", NZ, NZ),
    ("np.maximum(x, y)", REAL, REAL),
    ("np.minimum(x, y)", REAL, REAL),
    ("np.logaddexp(x, y)", REAL, REAL),
    ("np.where(x > y, x, y)", REAL, REAL),
    ("np.where(x > 0.0, x * y, y)", REAL, REAL),
]


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("expr, dx, dy", BINARY_UFUNCS, ids=[r[0] for r in BINARY_UFUNCS])
def test_binary_ufunc(expr, dx, dy, pair):
    check_row(expr, binary_specs((dx, dy), pair))


MORE_ELEMENTWISE = [
    row("np.clip(x, -0.5, 0.5)", A(2, 3)),
    row("np.clip(x, y, z)", A(2, 3), A(3, domain=(-1.0, 0.0)), A(2, 1, domain=(0.0, 1.0)),
        id="np.clip array bounds, broadcast"),
    row("np.clip(x, y, 1.0)", A(4), F((-1.0, 0.0)), id="np.clip float lower bound"),
    row("x.clip(-0.5, 0.5)", A(2, 3)),
    row("np.clip(x, None, 0.5)", A(2, 3)),
    row("np.clip(x, y, None)", A(2, 3), A(3)),
    row("np.where(x > 0.0, y, z)", A(2, 3), A(3), F(), id="np.where broadcast three ways"),
    row("np.power(x, 3)", A(2, 3), id="np.power negative base, int exponent"),
    row("np.power(2.0, x)", A(2, 3)),
    row("np.maximum(0.0, x)", A(2, 3, domain=NZ), id="relu np.maximum(0, x)"),
    row("np.logaddexp(x, y) - np.logaddexp(y, 30.0)", A(3), A(2, 1), id="logaddexp large"),
]


@pytest.mark.parametrize("expr, specs, scalar", MORE_ELEMENTWISE)
def test_more_elementwise(expr, specs, scalar):
    check_row(expr, specs, scalar)


# Piecewise-constant operations: their own contribution is zero. Written as ``x * op(x)``
# (or ``x + op(x)``) so the expected gradient is op(x) (or 1), which central differences
# confirm away from the jumps; a rule that let gradient through would fail.
ZERO_GRADIENT = [
    row("x * np.sign(x)", A(2, 3, domain=NZ)),
    row("x * np.floor(x)", A(2, 3)),
    row("x * np.ceil(x)", A(2, 3)),
    row("x * np.round(x)", A(2, 3)),
    row("x * np.around(x)", A(2, 3)),
    row("x * np.rint(x)", A(2, 3)),
    row("x * np.trunc(x)", A(2, 3)),
    row("x * (x // y)", A(2, 3, domain=(3.1, 3.9)), A(3, domain=(1.0, 1.02)), id="//"),
    row("x * np.floor_divide(x, y)", A(2, 3, domain=(3.1, 3.9)), F((1.0, 1.02))),
    row("x * (x > y)", A(2, 3), A(3), id="comparison >"),
    row("x * (x <= y) + y * (x != y)", A(2, 3), F(), id="comparisons <= !="),
    row("x * np.greater(x, y)", A(3), A(2, 3)),
    row("x * np.less_equal(x, 0.3)", A(5)),
    row("x * np.logical_and(x > 0.0, x < 1.0)", A(5)),
    row("x + np.zeros_like(x)", A(2, 3)),
    row("x * np.ones_like(x)", A(2, 3)),
    row("x * np.full_like(x, 2.0)", A(2, 3)),
    row("x * math.floor(x)", F(), scalar=True),
    row("x * math.ceil(x)", F(), scalar=True),
    row("x * round(x)", F(), scalar=True),
    row("x * int(x)", F(), scalar=True),
    row("x * np.argmax(x)", A(5)),
]


@pytest.mark.parametrize("expr, specs, scalar", ZERO_GRADIENT)
def test_zero_gradient(expr, specs, scalar):
    check_row(expr, specs, scalar)


@pytest.mark.parametrize("expr", ["np.sign(x)", "np.floor(x)", "np.round(x)", "x > 0.5",
                                  "np.zeros_like(x)", "x // 0.7"])
def test_zero_gradient_is_exactly_zero(expr):
    f = make_function(f"{expr} * 1.0 + 0.0 * x", 1, False)
    x = np.random.default_rng(0).uniform(-2, 2, (2, 3))
    assert np.array_equal(grad(f)(x), np.zeros((2, 3)))


# == arrays.py: reductions ==================================================================
REDUCTIONS = ["np.sum", "np.mean", "np.max", "np.min", "np.prod", "np.amax", "np.amin"]
AXES = [(None, (3, 4)), (0, (3, 4)), (1, (3, 4)), (-1, (3, 4)), ((0, 1), (3, 4)),
        ((0, 2), (2, 3, 4)), ((-1, 0), (2, 3, 4))]


@pytest.mark.parametrize("keepdims", [False, True], ids=["", "keepdims"])
@pytest.mark.parametrize("axis, shape", AXES, ids=[f"axis={a}" for a, _ in AXES])
@pytest.mark.parametrize("fn", REDUCTIONS)
def test_reduction(fn, axis, shape, keepdims):
    check_row(f"{fn}(x, axis={axis}, keepdims={keepdims})", (A(*shape, domain=NZ),))


METHOD_REDUCTIONS = [
    row("x.sum()", A(3, 4)),
    row("x.sum(axis=0)", A(3, 4)),
    row("x.sum(1, keepdims=True)", A(3, 4)),
    row("x.mean()", A(3, 4)),
    row("x.mean(axis=-1)", A(3, 4)),
    row("x.max()", A(3, 4)),
    row("x.max(axis=1)", A(3, 4)),
    row("x.min(axis=0, keepdims=True)", A(3, 4)),
    row("x.prod()", A(3, 4, domain=NZ)),
    row("x.prod(axis=1)", A(3, 4, domain=NZ)),
    row("np.sum(x)", A(5)),
    row("np.sum(x)", F(), id="np.sum float"),
    row("np.max(x)", A(5)),
    row("np.prod(x)", A(5, domain=NZ)),
    row("np.cumsum(x)", A(2, 3)),
    row("np.cumsum(x, axis=0)", A(2, 3)),
    row("np.cumsum(x, axis=1)", A(2, 3)),
    row("np.cumsum(x, axis=-1)", A(4)),
    row("x.cumsum(axis=1)", A(2, 3)),
    row("np.linalg.norm(x)", A(5)),
    row("np.linalg.norm(x)", A(2, 3), id="np.linalg.norm Frobenius"),
    row("np.linalg.norm(x, axis=0)", A(2, 3)),
    row("np.linalg.norm(x, axis=1)", A(2, 3)),
    row("np.linalg.norm(x, axis=-1, keepdims=True)", A(2, 3)),
    row("np.linalg.norm(x, 2)", A(4), id="np.linalg.norm ord=2 vector"),
    row("np.linalg.norm(x, 'fro')", A(2, 3), id="np.linalg.norm ord='fro'"),
    row("np.linalg.norm(x, 2)", A(3, 2), id="np.linalg.norm ord=2 matrix (spectral)"),
    row("np.linalg.norm(x, ord=2, axis=(0, 2))", A(3, 2, 4), id="spectral norms, batched"),
    row("np.linalg.norm(x, axis=(0, 2))", A(3, 2, 4)),
]


@pytest.mark.parametrize("expr, specs, scalar", METHOD_REDUCTIONS)
def test_reduction_variants(expr, specs, scalar):
    check_row(expr, specs, scalar)


PROD_WITH_ZEROS = [
    ([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]], None),  # one zero overall
    ([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]], 0),
    ([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]], 1),
    ([[0.0, 0.0, 3.0], [1.5, -2.0, 0.0]], None),  # two zeros: every derivative is 0
    ([[0.0, 0.0, 3.0], [1.5, -2.0, 0.0]], 1),
    ([[0.0, 0.0, 3.0], [1.5, -2.0, 0.0]], -1),
    ([[0.0, 2.0, 3.0], [0.0, -2.0, 0.5]], 0),
]


@pytest.mark.parametrize("values, axis", PROD_WITH_ZEROS)
def test_prod_with_zeros(values, axis):
    f = make_function(f"np.prod(x, axis={axis}) * 1.5", 1, False)
    x = np.array(values)
    assert_gradient_matches(f, [x])


def test_prod_with_zero_exact():
    f = make_function("np.prod(x)", 1, True)
    np.testing.assert_array_equal(grad(f)(np.array([2.0, 0.0, 3.0])), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(grad(f)(np.array([0.0, 0.0, 3.0])), [0.0, 0.0, 0.0])


# == arrays.py: products ====================================================================
PRODUCTS = [
    row("np.dot(x, y)", A(3), A(3), id="dot 1-D 1-D"),
    row("np.dot(x, y)", A(2, 3), A(3), id="dot 2-D 1-D"),
    row("np.dot(x, y)", A(3), A(3, 4), id="dot 1-D 2-D"),
    row("np.dot(x, y)", A(2, 3), A(3, 4), id="dot 2-D 2-D"),
    row("np.dot(x, y)", F(), A(3), id="dot float 1-D"),
    row("np.dot(x, y)", A(2, 3), A(), id="dot 2-D 0-d"),
    row("x.dot(y)", A(2, 3), A(3, 4), id=".dot 2-D 2-D"),
    row("x.dot(y)", A(3), A(3), id=".dot 1-D 1-D"),
    row("np.dot(x, y)", A(2, 2, 3), A(3, 4), id="dot 3-D 2-D"),
    row("np.dot(x, y)", A(2, 2, 3), A(3), id="dot 3-D 1-D"),
    row("np.outer(x, y)", A(3), A(4), id="outer"),
    row("np.outer(x, y)", A(2, 2), A(3), id="outer flattens 2-D"),
]
for _fmt, _name in [("x @ y", "@"), ("np.matmul(x, y)", "np.matmul")]:
    PRODUCTS += [
        row(_fmt, A(3), A(3), id=f"{_name} 1-D 1-D"),
        row(_fmt, A(2, 3), A(3), id=f"{_name} 2-D 1-D"),
        row(_fmt, A(3), A(3, 4), id=f"{_name} 1-D 2-D"),
        row(_fmt, A(2, 3), A(3, 4), id=f"{_name} 2-D 2-D"),
        row(_fmt, A(5, 2, 3), A(5, 3, 4), id=f"{_name} batched 3-D"),
        row(_fmt, A(2, 3), A(5, 3, 4), id=f"{_name} broadcast batch left"),
        row(_fmt, A(5, 2, 3), A(3, 4), id=f"{_name} broadcast batch right"),
        row(_fmt, A(1, 2, 3), A(4, 3, 2), id=f"{_name} batch 1 vs 4"),
        row(_fmt, A(5, 2, 3), A(3), id=f"{_name} 3-D 1-D"),
        row(_fmt, A(3), A(5, 3, 4), id=f"{_name} 1-D 3-D"),
        row(_fmt, A(2, 1, 2, 3), A(4, 3, 2), id=f"{_name} 4-D with 3-D"),
    ]


@pytest.mark.parametrize("expr, specs, scalar", PRODUCTS)
def test_product(expr, specs, scalar):
    check_row(expr, specs, scalar)



# == arrays.py: shapes, copies, joins =======================================================
SHAPES = [
    row("np.transpose(x)", A(2, 3)),
    row("np.transpose(x, (1, 2, 0))", A(2, 3, 4)),
    row("np.transpose(x, axes=(2, 0, 1))", A(2, 3, 4)),
    row("np.transpose(x, (-1, 0, 1))", A(2, 3, 4)),
    row("x.transpose(0, -1, 1)", A(2, 3, 4)),
    row("x.transpose()", A(2, 3)),
    row("x.transpose(1, 0)", A(2, 3)),
    row("x.transpose((2, 0, 1))", A(2, 3, 4)),
    row("x.transpose(1, 2, 0)", A(2, 3, 4)),
    row("x.T", A(2, 3)),
    row("x.T", A(2, 3, 4), id="x.T 3-D"),
    row("x.T @ y", A(3, 2), A(3, 4), id="x.T @ y"),
    row("np.reshape(x, (3, 2))", A(2, 3)),
    row("np.reshape(x, -1)", A(2, 3)),
    row("x.reshape(3, 2)", A(2, 3)),
    row("x.reshape((6,))", A(2, 3)),
    row("x.reshape(-1, 2)", A(2, 3)),
    row("x.ravel()", A(2, 3)),
    row("x.flatten()", A(2, 3)),
    row("np.ravel(x)", A(2, 3)),
    row("np.squeeze(x)", A(1, 3, 1)),
    row("np.squeeze(x, axis=0)", A(1, 3, 1)),
    row("x.squeeze()", A(1, 3, 1)),
    row("np.expand_dims(x, 0)", A(2, 3)),
    row("np.expand_dims(x, axis=-1)", A(2, 3)),
    row("np.atleast_1d(x)", F()),
    row("np.atleast_2d(x)", A(3)),
    row("np.copy(x)", A(2, 3)),
    row("x.copy()", A(2, 3)),
    row("np.asarray(x)", A(2, 3)),
    row("np.array(x)", A(2, 3)),
    row("x.astype(np.float64)", A(2, 3)),
    # a cast to integers or booleans is a step function: flat, no derivative through it
    row("x * x.astype(int)", A(2, 3)),
    row("x * x.astype(dtype=np.int32) + y", A(3), A(2, 3), id="x * x.astype(dtype=int32)"),
    row("np.asarray(x, dtype=int) * x", A(2, 3)),
    row("np.array(x * 3, np.int64) * x", A(4)),
    row("x.astype(bool) * x", A(2, 3)),
    row("np.float64(x)", F()),
    row("np.sum(x * x).item() * x", A(2, 3), id="x.item() of a 0-d array"),
    row("x[1:2].item() * x", A(3), id="x.item() of a one-element array"),
    row("x * x.shape[0] + x / x.shape[1]", A(2, 3), id="x.shape[i] as constants"),
    row("np.sum(x) / x.size + np.sum(x) / len(x) * x.ndim", A(2, 3), id="x.size len ndim"),
    row("np.concatenate((x, y))", A(2, 3), A(4, 3)),
    row("np.concatenate((x, y), axis=1)", A(2, 3), A(2, 1)),
    row("np.concatenate((x, y, x), axis=0)", A(2), A(3), id="concatenate repeats x"),
    row("np.concatenate((x, y), axis=-1)", A(2, 2), A(2, 3)),
    row("np.concatenate((x, y), axis=None)", A(2, 2), A(3)),
    row("np.stack((x, y))", A(3), A(3)),
    row("np.stack((x, y), axis=1)", A(2, 3), A(2, 3)),
    row("np.stack((x, y, x), axis=-1)", A(2, 3), A(2, 3), id="stack repeats x"),
    row("np.stack((x, y))", F(), F(), id="stack of floats"),
    row("np.array((x, y, z))", F(), F(), F(), id="np.array of floats"),
    row("p = x * y; np.array((x, y, p))", F(), F(), id="np.array of expressions"),
    row("np.array((x, y))", A(3), A(3), id="np.array of arrays"),
    row("np.asarray((x, y))", F(), A(), id="np.asarray of scalars"),
    # the same with list literals, the usual spelling
    row("np.concatenate([x, y])", A(2, 3), A(4, 3)),
    row("np.concatenate([x, y], axis=1)", A(2, 3), A(2, 1)),
    row("np.stack([x, y], axis=1)", A(2, 3), A(2, 3)),
    row("np.array([x, y, z])", F(), F(), F()),
    row("np.array((x, y, x * y))", F(), F()),
    row("np.concatenate((x[::2], y))", A(4), A(3)),
]


@pytest.mark.parametrize("expr, specs, scalar", SHAPES)
def test_shape_rule(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == arrays.py: indexing ====================================================================
INDEXING = [
    row("x[1]", A(4)),
    row("x[-1]", A(4)),
    row("x[1]", A(3, 4), id="x[1] row"),
    row("x[-2, 1]", A(3, 4)),
    row("x[1:3]", A(4)),
    row("x[::-2]", A(5)),
    row("x[:, 1]", A(3, 4)),
    row("x[0:2, 1:]", A(3, 4)),
    row("x[1:, -1]", A(3, 4)),
    row("x[None, :]", A(3)),
    row("x[:, np.newaxis]", A(3)),
    row("x[..., 0]", A(2, 3, 2)),
    row("x[[0, 0, 1]]", A(3), id="fancy repeated x[[0, 0, 1]]"),
    row("x[[2, 0, 2, 2]]", A(3, 2), id="fancy repeated rows"),
    row("x[np.array([1, 1, 1])]", A(3), id="fancy repeated np.array index"),
    row("x[[0, 1, 0], [1, 1, 1]]", A(2, 3), id="fancy pairs repeated"),
    row("x[:, [0, 0, 2]]", A(2, 3), id="slice then fancy repeated"),
    row("x[x > 0.0]", A(2, 3), id="boolean mask"),
    row("x[np.array([True, False, True])]", A(3, 2), id="boolean mask rows"),
    row("x[np.array([True, False, True]), 1:]", A(3, 2), id="boolean mask and slice"),
    row("x[[-1, -1, 0]]", A(3), id="fancy negative repeated"),
    row("x[[[0, 1], [1, 1]]]", A(3), id="fancy 2-D index array"),
    row("x[1][0] * x[0] + x[-1]", A(2, 3), id="chained and repeated reads"),
    row("x[0] * y", A(3), A(2, 3), id="x[0] * array"),
    row("x[y.shape[0] - 1]", A(4), A(2, 3), id="index from shape"),
]


@pytest.mark.parametrize("expr, specs, scalar", INDEXING)
def test_indexing(expr, specs, scalar):
    check_row(expr, specs, scalar)


def test_repeated_index_accumulates_exactly():
    f = make_function("np.sum(x[[0, 0, 1, 0]])", 1, True)
    np.testing.assert_array_equal(grad(f)(np.array([1.0, 2.0, 3.0])), [3.0, 1.0, 0.0])


def _g(expr, *args, wrt=0, scalar=True):
    return grad(make_function(expr, len(args), scalar), wrt=wrt)(*args)


# Rules whose derivative is easier to state exactly than to difference numerically.
EXACT = [
    # expression, argument, expected gradient
    ("np.float32(x) * 2.0", 1.5, 2.0),
    ("np.sum(x.astype(np.float32)) * 2.0", np.array([1.0, 2.0]), [2.0, 2.0]),
    ("np.float64(x) * x", 3.0, 6.0),
    ("np.sum(np.sin(x) * 0.0 + np.ceil(x) * 5.0)", np.array([0.2, -0.7]), [0.0, 0.0]),
]


@pytest.mark.parametrize("expr, arg, expected", EXACT, ids=[r[0] for r in EXACT])
def test_exact(expr, arg, expected):
    np.testing.assert_allclose(_g(expr, arg), expected, rtol=1e-7)


@pytest.mark.parametrize("expr", ["x ** y", "np.power(x, y)", "pow(x, y)", "math.pow(x, y)"])
def test_power_exponent_gradient_at_zero_base(expr):
    """d(x ** y)/dy = x ** y ln x is taken as 0 at x == 0 (the limit from x > 0), not nan."""
    gx, gy = _g(expr, 0.0, 2.5, wrt=(0, 1))
    assert (gx, gy) == (0.0, 0.0)
    if "math" not in expr:
        x = np.array([0.0, 2.0])
        gx, gy = _g(f"np.sum({expr})", x, 2.5, wrt=(0, 1))
        np.testing.assert_allclose(gx, [0.0, 2.5 * 2.0 ** 1.5])
        np.testing.assert_allclose(gy, 2.0 ** 2.5 * np.log(2.0))


# == documented subgradients at kinks (README, elementwise.py docstring) =====================
def test_abs_at_zero_is_zero():
    assert _g("abs(x)", 0.0) == 0.0
    assert _g("math.fabs(x)", 0.0) == 0.0
    np.testing.assert_array_equal(_g("np.sum(np.abs(x))", np.array([-1.0, 0.0, 2.0])),
                                  [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("fn", ["max", "min"])
def test_builtin_tie_halves(fn):
    assert _g(f"{fn}(x, y)", 1.5, 1.5, wrt=(0, 1)) == (0.5, 0.5)
    assert _g(f"{fn}(x, y)", 1.0, 2.0, wrt=(0, 1)) == ((0.0, 1.0) if fn == "max" else (1.0, 0.0))


@pytest.mark.parametrize("fn", ["np.maximum", "np.minimum"])
def test_elementwise_tie_halves(fn):
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([1.0, 1.0, 4.0])
    gx, gy = _g(f"np.sum({fn}(x, y))", x, y, wrt=(0, 1))
    if fn == "np.maximum":
        np.testing.assert_array_equal(gx, [0.5, 1.0, 0.0])
        np.testing.assert_array_equal(gy, [0.5, 0.0, 1.0])
    else:
        np.testing.assert_array_equal(gx, [0.5, 0.0, 1.0])
        np.testing.assert_array_equal(gy, [0.5, 1.0, 0.0])


def test_relu_via_maximum():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(_g("np.sum(np.maximum(0, x) * 3.0)", x), [0.0, 1.5, 3.0])
    np.testing.assert_array_equal(_g("np.sum(x * (x > 0))", x), [0.0, 0.0, 1.0])


@pytest.mark.parametrize("fn, axis, expected", [
    ("np.max", None, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]),
    ("np.max", 1, [[0.5, 0.0, 0.5], [0.0, 0.0, 1.0]]),
    ("np.max", 0, [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]),
    ("np.min", 1, [[0.0, 1.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]),
    ("np.amax", None, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]]),
])
def test_extremum_reduction_shares_ties(fn, axis, expected):
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    x[1, 2] = 2.0 if fn == "np.min" else 2.5
    np.testing.assert_allclose(_g(f"np.sum({fn}(x, axis={axis}))", x), expected)


def test_clip_boundaries_included():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(_g("np.sum(np.clip(x, -0.5, 0.5))", x), [0, 1, 1, 1, 0])
    lo, hi = -0.5, 0.5
    g_lo, g_hi = _g("np.sum(np.clip(x, y, z))", x, lo, hi, wrt=(1, 2))
    assert (g_lo, g_hi) == (1.0, 1.0)  # only the strictly clipped entries


# == dtypes and types =======================================================================
@pytest.mark.parametrize("expr", ["np.sum(np.sin(x))", "np.sum(x * x)", "np.sum(x[[0, 0]])",
                                  "np.sum(np.maximum(x, 0.1))", "np.mean(x @ x.T)",
                                  "np.max(np.exp(x))", "np.linalg.norm(x)"])
def test_float32_gradient_stays_float32(expr):
    x = np.random.default_rng(1).uniform(-1, 1, (2, 2)).astype(np.float32)
    g = _g(expr, x)
    assert g.dtype == np.float32 and g.shape == x.shape
    g64 = _g(expr, x.astype(np.float64))
    np.testing.assert_allclose(g, g64, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("expr", ["math.sin(x) * x", "abs(x) + x * x", "max(x, 0.5) ** 2",
                                  "np.sin(x)", "np.sum(x)", "float(x) / 3.0"])
def test_python_float_gradient_is_float(expr):
    g = _g(expr, 1.25)
    assert type(g) is float
    assert abs(g - numeric_gradient(make_function(expr, 1, True), [1.25], 0)) < 1e-6


def test_numpy_scalar_keeps_type():
    g = _g("x * x", np.float32(1.5))
    assert type(g) is np.float32 and g == np.float32(3.0)


# == a second oracle: autograd on composite functions =======================================
def _autograd_rows():
    import autograd.numpy as anp

    return [
        ("logistic loss", "np.mean(np.log1p(np.exp(-y * (x @ z))))",
         lambda x, y, z: anp.mean(anp.log1p(anp.exp(-y * anp.dot(x, z)))),
         [A(6, 3), A(6), A(3)]),
        ("softmax cross-entropy",
         "np.sum(np.log(np.sum(np.exp(x - np.max(x, axis=1, keepdims=True)), axis=1))"
         " - np.sum(x * y, axis=1) + np.max(x, axis=1))",
         lambda x, y: anp.sum(anp.log(anp.sum(anp.exp(x - anp.max(x, axis=1, keepdims=True)),
                                              axis=1))
                              - anp.sum(x * y, axis=1) + anp.max(x, axis=1)),
         [A(4, 3), A(4, 3, domain=POS)]),
        ("two-layer tanh net", "np.sum((np.tanh(x @ y + z) @ y.T) ** 2)",
         lambda x, y, z: anp.sum(anp.dot(anp.tanh(anp.dot(x, y) + z), y.T) ** 2),
         [A(5, 3), A(3, 3), A(3)]),
        ("norms and reductions",
         "np.linalg.norm(x, axis=1) @ np.sqrt(np.prod(y, axis=0)) / np.mean(np.cosh(x))",
         lambda x, y: anp.dot(anp.linalg.norm(x, axis=1), anp.sqrt(anp.prod(y, axis=0)))
         / anp.mean(anp.cosh(x)),
         [A(3, 4), A(2, 3, domain=POS)]),
        ("indexing and joins",
         "p = np.ravel(x[::2] * y); q = x[0]; r = np.stack((q, y), axis=0).T.ravel(); "
         "np.sum(np.concatenate((p, r)) ** 3)",
         lambda x, y: anp.sum(anp.concatenate(
             [anp.ravel(x[::2] * y), anp.stack([x[0], y], axis=0).T.ravel()]) ** 3),
         [A(4, 3), A(3)]),
        ("clip, where, maximum",
         "np.sum(np.where(x > 0.0, np.clip(x, 0.2, 1.2), np.maximum(x, y) ** 2) * np.arctan(y))",
         lambda x, y: anp.sum(anp.where(x > 0.0, anp.clip(x, 0.2, 1.2),
                                        anp.maximum(x, y) ** 2) * anp.arctan(y)),
         [A(3, 4), A(4)]),
    ]


@pytest.mark.parametrize("index", range(6))
def test_against_autograd(index):
    from autograd import grad as agrad

    name, expr, reference, specs = _autograd_rows()[index]
    f = make_function(expr, len(specs), True)
    args = inputs_for(expr, specs)
    ours = grad(f, wrt=tuple(range(len(args))))(*args)
    for i in range(len(args)):
        np.testing.assert_allclose(ours[i], agrad(reference, i)(*args), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name}: gradient {i}")


# == every registered rule has a row ========================================================
def _all_expressions():
    exprs = [r[1] for r in BINARY_OPERATORS] + [r[0] for r in UNARY_UFUNCS + BINARY_UFUNCS]
    for table in (UNARY_OPERATORS, MATH, MORE_ELEMENTWISE, ZERO_GRADIENT, METHOD_REDUCTIONS,
                  PRODUCTS, SHAPES, INDEXING):
        exprs += [p.values[0] for p in table]
    exprs += [f"{fn}(" for fn in REDUCTIONS] + [r[0] for r in EXACT]
    from . import test_rules_wide as wide

    exprs += [r[0] for r in wide.UNARY_UFUNCS + wide.BINARY_UFUNCS + wide.SPECIAL_UNARY]
    exprs += wide.SPECIAL_BINARY + wide.OTHER_CHECKS
    for table in (wide.MATH, wide.ZERO_GRADIENT, wide.REDUCTIONS, wide.PRODUCTS, wide.SHAPES,
                  wide.NORMS, wide.LINALG, wide.SPECIAL_REDUCTIONS, wide.MORE):
        exprs += [p.values[0] for p in table]
    return " ".join(exprs)


def test_every_rule_has_a_row():
    """A rule added to adjoint/rules without a row here fails this test."""
    import ast

    import scipy.linalg  # noqa: F401 - the SciPy tables load once SciPy is imported
    import scipy.special  # noqa: F401

    from adjoint import rules

    rules.load_optional_tables()
    text = _all_expressions()
    symbols = {ast.Add: "+", ast.Sub: " - ", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
               ast.Mod: "%", ast.MatMult: "@", ast.USub: "-x", ast.UAdd: "+x",
               ast.FloorDiv: "//"}
    names = {"getitem": "x[", "copy": "", "array_of_list": "np.array([", float: "float(",
             abs: "abs(", max: "max(", min: "min(", pow: "pow("}
    missing = []
    for key in rules.REVERSE:
        if isinstance(key, type) and key in symbols:
            needle = symbols[key]
        elif key in names:
            needle = names[key]
        elif isinstance(key, str):
            needle = key
        else:
            module = getattr(key, "__module__", "") or ""
            table = rules.lookup(key)[0].module.rsplit(".", 1)[-1]
            prefix = {"special": "special", "scipy_linalg": "linalg"}.get(table) or (
                "math" if module == "math" else "np.linalg" if "linalg" in module else "np")
            needle = f"{prefix}.{key.__name__}("
            if key is np.abs:
                needle = "np.abs("
        if needle not in text:
            missing.append((key, needle))
    assert not missing, f"rules without a table row: {missing}"


@pytest.mark.parametrize("key", ["np.floor", "np.ceil", "np.sign", "np.round", "np.greater",
                                 "np.zeros_like", "np.floor_divide"])
def test_zero_gradient_registered(key):
    from adjoint import rules

    assert rules.has_zero_gradient(eval(key, {"np": np}))

