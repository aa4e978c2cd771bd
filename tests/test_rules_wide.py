"""Rule-table rows for the wider NumPy/SciPy coverage (issue 14), in the layout of
test_rules.py and with its harness: each row is checked in reverse mode against central
differences, in forward mode (jvp) and at second order (hvp).

``jit`` rows are then run under ``jit=True`` (grad, jvp and hvp must agree with the Python
code); ``JIT_REFUSED`` rows check that a function Numba cannot compile is reported as a
located ``JitError`` (see README, "Coverage").
"""
from __future__ import annotations

import numpy as np
import pytest

from adjoint import JitError, MissingRuleError, grad, hvp, jvp

from .test_rules import (
    NZ,
    PAIRS,
    POS,
    REAL,
    UNIT,
    A,
    Arg,
    F,
    assert_gradient_matches,
    assert_tangent_matches,
    binary_specs,
    check_row,
    directions,
    inputs_for,
    make_function,
    numeric_gradient,
    pair_id,
    row,
)

UNARY_SHAPES = [None, (), (5,), (2, 3)]

# == elementwise.py: NumPy ufuncs ===========================================================
UNARY_UFUNCS = [
    ("np.arcsinh(x)", REAL),
    ("np.arccosh(x)", (1.2, 3.0)),
    ("np.arctanh(x)", UNIT),
    ("np.deg2rad(x)", REAL),
    ("np.radians(x)", REAL),
    ("np.rad2deg(x)", REAL),
    ("np.degrees(x)", REAL),
    ("np.sinc(x)", NZ),
]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=lambda s: pair_id((s,)))
@pytest.mark.parametrize("expr, domain", UNARY_UFUNCS, ids=[r[0] for r in UNARY_UFUNCS])
def test_unary_ufunc(expr, domain, shape):
    check_row(expr, (Arg(shape, domain),))


BINARY_UFUNCS = [
    ("np.fmax(x, y)", REAL, REAL),
    ("np.fmin(x, y)", REAL, REAL),
    ("np.logaddexp2(x, y)", REAL, REAL),
    ("np.fmod(x, y)", (3.1, 3.9), (1.0, 1.02)),
    ("np.fmod(x, y)", (-3.9, -3.1), (1.0, 1.02)),
    ("np.remainder(x, y)", (-3.9, -3.1), (1.0, 1.02)),
    ("np.mod(x, y)", (3.1, 3.9), (-1.02, -1.0)),
    ("np.copysign(x, y)", NZ, NZ),
    ("np.float_power(x, y)", POS, REAL),
]


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("expr, dx, dy", BINARY_UFUNCS,
                         ids=[f"{r[0]} {r[1]}" for r in BINARY_UFUNCS])
def test_binary_ufunc(expr, dx, dy, pair):
    check_row(expr, binary_specs((dx, dy), pair))


# == elementwise.py: math on Python floats ==================================================
MATH = [
    row("math.asinh(x)", F(), scalar=True),
    row("math.acosh(x)", F((1.2, 3.0)), scalar=True),
    row("math.atanh(x)", F(UNIT), scalar=True),
    row("math.erf(x)", F(), scalar=True),
    row("math.erfc(x)", F(), scalar=True),
    row("math.gamma(x)", F((0.3, 4.0)), scalar=True),
    row("math.gamma(x)", F((-0.9, -0.1)), scalar=True, id="math.gamma negative"),
    row("math.lgamma(x)", F((0.3, 4.0)), scalar=True),
    row("math.degrees(x)", F(), scalar=True),
    row("math.radians(x)", F(), scalar=True),
    row("math.fmod(x, y)", F((3.1, 3.9)), F((1.0, 1.02)), scalar=True),
    row("math.copysign(x, y)", F(NZ), F(NZ), scalar=True),
]


@pytest.mark.parametrize("expr, specs, scalar", MATH)
def test_math(expr, specs, scalar):
    check_row(expr, specs, scalar)


ZERO_GRADIENT = [
    row("x * np.argpartition(x, 1)", A(4)),
    row("x * np.searchsorted(np.sort(y), x)", A(4), A(5)),
    row("x * np.isclose(x, y)", A(4), A(4)),
    row("x * np.spacing(x)", A(4)),
    row("x * math.factorial(3)", F(), scalar=True),
]


@pytest.mark.parametrize("expr, specs, scalar", ZERO_GRADIENT)
def test_zero_gradient(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == arrays.py: reductions and scans ========================================================
REDUCTIONS = [
    row("np.var(x)", A(5)),
    row("np.var(x)", A(2, 3), id="np.var 2-D"),
    row("np.var(x, axis=0)", A(3, 4)),
    row("np.var(x, axis=-1, keepdims=True)", A(3, 4)),
    row("np.var(x, axis=(0, 2), ddof=1)", A(2, 3, 4)),
    row("np.var(x, ddof=1)", A(6)),
    row("np.std(x)", A(5)),
    row("np.std(x, axis=1)", A(3, 4)),
    row("np.std(x, axis=0, ddof=1, keepdims=True)", A(3, 4)),
    row("np.average(x)", A(3, 4)),
    row("np.average(x, axis=1)", A(3, 4)),
    row("np.ptp(x)", A(5)),
    row("np.ptp(x, axis=0)", A(3, 4)),
    row("np.ptp(x, axis=1, keepdims=True)", A(3, 4)),
    row("np.nansum(x)", A(3, 4)),
    row("np.nansum(x, axis=0)", A(3, 4)),
    row("np.nanmean(x, axis=1)", A(3, 4)),
    row("np.nanmean(x)", A(3, 4)),
    row("np.nansum(np.where(x > 1.5, np.nan, x) + y)", A(3, 4), A(4), id="nansum skips nan"),
    row("np.nanmean(np.where(x > 1.0, np.nan, x) + y, axis=0)", A(3, 4), A(4),
        id="nanmean skips nan"),
    row("np.cumprod(x)", A(5, domain=NZ)),
    row("np.cumprod(x)", A(2, 3, domain=NZ), id="np.cumprod flattens"),
    row("np.cumprod(x, axis=0)", A(3, 4, domain=NZ)),
    row("np.cumprod(x, axis=-1)", A(3, 4, domain=NZ)),
    row("np.cumprod(x, axis=1)", A(2, 3, 4), id="np.cumprod 3-D"),
    row("np.diff(x)", A(5)),
    row("np.diff(x, 2)", A(6)),
    row("np.diff(x, axis=0)", A(3, 4)),
    row("np.diff(x, n=3, axis=1)", A(3, 5)),
    row("np.sort(x)", A(6)),
    row("np.sort(x, axis=0)", A(3, 4)),
    row("np.sort(x, axis=None)", A(3, 4)),
    row("np.sort(x, axis=-1, kind='stable')", A(3, 4)),
    row("np.sort(x * y)", A(3, 4), A(4), id="np.sort broadcast product"),
    row("np.trace(x)", A(3, 3)),
    row("np.trace(x)", A(3, 4), id="np.trace rectangular"),
    row("np.trace(x, 1)", A(3, 4), id="np.trace offset"),
    row("np.trace(x, axis1=1, axis2=2)", A(2, 3, 3)),
]


@pytest.mark.parametrize("expr, specs, scalar", REDUCTIONS)
def test_reduction(expr, specs, scalar):
    check_row(expr, specs, scalar)


@pytest.mark.parametrize("values, axis", [([2.0, 0.0, 3.0, 0.0, 1.5], None),
                                          ([[2.0, 0.0, 3.0], [0.0, 1.5, -2.0]], 1),
                                          ([[2.0, 0.0, 3.0], [0.0, 1.5, -2.0]], 0),
                                          ([[0.0, 0.0], [1.5, -2.0]], None)])
def test_cumprod_exact_with_zeros(values, axis):
    """np.cumprod's rules never divide by x: entries equal to 0 get finite, exact
    derivatives at every order."""
    f = make_function(f"np.cumprod(x, axis={axis}) * 1.5", 1, False)
    x = np.array(values)
    assert np.all(np.isfinite(grad(f)(x)))
    assert_gradient_matches(f, [x])


# == arrays.py: products ====================================================================
PRODUCTS = [
    row("np.einsum('ij,jk->ik', x, y)", A(2, 3), A(3, 4)),
    row("np.einsum('ij,jk', x, y)", A(2, 3), A(3, 4), id="einsum implicit output"),
    row("np.einsum('i,i->', x, y)", A(4), A(4)),
    row("np.einsum('ij->', x)", A(2, 3)),
    row("np.einsum('ij->ji', x)", A(2, 3)),
    row("np.einsum('ij->j', x)", A(2, 3)),
    row("np.einsum('ij,kj->ik', x, y)", A(2, 3), A(4, 3)),
    row("np.einsum('bij,bjk->bik', x, y)", A(2, 2, 3), A(2, 3, 4), id="einsum batched"),
    row("np.einsum('ij,k->ijk', x, y)", A(2, 3), A(4), id="einsum outer"),
    row("np.einsum('ij,j,k->ik', x, y, z)", A(2, 3), A(3), A(4), id="einsum three operands"),
    row("np.einsum('i,j,k->', x, y, z)", A(2), A(3), A(4), id="einsum three to scalar"),
    row("np.einsum('ij,jk->i', x, y)", A(2, 3), A(3, 4), id="einsum sums away k"),
    row("np.inner(x, y)", A(4), A(4)),
    row("np.inner(x, y)", A(2, 4), A(4), id="np.inner 2-D 1-D"),
    row("np.inner(x, y)", A(2, 4), A(3, 4), id="np.inner 2-D 2-D"),
    row("np.inner(x, y)", A(2, 3, 4), A(5, 4), id="np.inner 3-D 2-D"),
    row("np.vdot(x, y)", A(2, 3), A(3, 2)),
    row("np.vdot(x, y)", A(4), A(4), id="np.vdot 1-D"),
    row("np.cross(x, y)", A(3), A(3)),
    row("np.cross(x, y)", A(4, 3), A(3), id="np.cross broadcast"),
]


@pytest.mark.parametrize("expr, specs, scalar", PRODUCTS)
def test_product(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == arrays.py: shape changes ===============================================================
SHAPES = [
    row("np.atleast_3d(x)", A(3)),
    row("np.atleast_3d(x)", A(2, 3), id="np.atleast_3d 2-D"),
    row("np.swapaxes(x, 0, 1)", A(2, 3)),
    row("np.swapaxes(x, -1, 0)", A(2, 3, 4)),
    row("np.moveaxis(x, 0, -1)", A(2, 3, 4)),
    row("np.moveaxis(x, (0, 1), (2, 0))", A(2, 3, 4)),
    row("np.flip(x)", A(2, 3)),
    row("np.flip(x, 0)", A(2, 3)),
    row("np.flip(x, axis=(0, 2))", A(2, 3, 4)),
    row("np.fliplr(x)", A(2, 3)),
    row("np.flipud(x)", A(2, 3)),
    row("np.rot90(x)", A(2, 3)),
    row("np.rot90(x, 3, (1, 2))", A(2, 3, 4)),
    row("np.rot90(x, k=2)", A(2, 3)),
    row("np.roll(x, 2)", A(5)),
    row("np.roll(x, -1, axis=1)", A(2, 3)),
    row("np.roll(x, 4)", A(2, 3), id="np.roll flat"),
    row("np.roll(x, (1, 2), axis=(0, 1))", A(2, 3)),
    row("np.tile(x, 3)", A(2)),
    row("np.tile(x, (2, 1))", A(2, 3)),
    row("np.tile(x, (2, 2, 1))", A(2, 3), id="np.tile adds an axis"),
    row("np.tile(x, (2, 3))", A(4), id="np.tile 1-D to 2-D"),
    row("np.repeat(x, 3)", A(2, 2)),
    row("np.repeat(x, 2, axis=1)", A(2, 3)),
    row("np.repeat(x, [1, 0, 2], axis=0)", A(3, 2), id="np.repeat counts"),
    row("np.tril(x)", A(3, 3)),
    row("np.tril(x, -1)", A(3, 4)),
    row("np.triu(x)", A(3, 3)),
    row("np.triu(x, k=1)", A(2, 3, 3)),
    row("np.diagonal(x)", A(3, 3)),
    row("np.diagonal(x, 1)", A(3, 4)),
    row("np.diagonal(x, axis1=0, axis2=2)", A(3, 2, 3)),
    row("np.diag(x)", A(3)),
    row("np.diag(x, 1)", A(3), id="np.diag vector offset"),
    row("np.diag(x)", A(3, 3), id="np.diag of a matrix"),
    row("np.diag(x, -1)", A(3, 4), id="np.diag of a matrix offset"),
    row("np.broadcast_to(x, (4, 3))", A(3)),
    row("np.broadcast_to(x, (2, 3))", A(2, 1)),
    row("np.pad(x, 1)", A(3)),
    row("np.pad(x, ((1, 0), (2, 1)))", A(2, 3)),
    row("np.pad(x, (1, 2), mode='constant')", A(2, 3)),
    row("np.pad(x, 2, mode='edge')", A(3)),
    row("np.pad(x, ((1, 2), (3, 1)), mode='edge')", A(2, 3)),
    row("np.pad(x, 2, mode='reflect')", A(4)),
    row("np.pad(x, ((1, 2), (3, 2)), 'reflect')", A(3, 4), id="np.pad reflect 2-D"),
    row("np.pad(x, 5, mode='reflect')", A(3), id="np.pad reflect wider than x"),
    row("np.pad(x, 2, mode='symmetric')", A(4)),
    row("np.pad(x, ((2, 0), (1, 3)), mode='symmetric')", A(2, 3), id="np.pad symmetric 2-D"),
    row("np.pad(x, 3, mode='wrap')", A(4)),
    row("np.pad(x, ((1, 1), (0, 4), (2, 1)), mode='wrap')", A(2, 3, 2), id="np.pad wrap 3-D"),
    row("np.real(x)", A(3)),
    row("np.conjugate(x)", A(3)),
]


@pytest.mark.parametrize("expr, specs, scalar", SHAPES)
def test_shape_rule(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == arrays.py: np.linalg.norm, every ord ===================================================
NORMS = [
    row("np.linalg.norm(x, 1)", A(5, domain=NZ)),
    row("np.linalg.norm(x, ord=1, axis=1)", A(3, 4, domain=NZ)),
    row("np.linalg.norm(x, 3)", A(5, domain=NZ)),
    row("np.linalg.norm(x, 0.5)", A(5, domain=NZ)),
    row("np.linalg.norm(x, -2)", A(5, domain=NZ)),
    row("np.linalg.norm(x, np.inf)", A(5)),
    row("np.linalg.norm(x, -np.inf)", A(5)),
    row("np.linalg.norm(x, np.inf, axis=0)", A(3, 4)),
    row("np.linalg.norm(x, 0) * np.sum(x)", A(5, domain=NZ), id="np.linalg.norm ord=0"),
    row("np.linalg.norm(x, 1)", A(3, 4, domain=NZ), id="matrix 1-norm"),
    row("np.linalg.norm(x, -1)", A(3, 4, domain=NZ), id="matrix -1-norm"),
    row("np.linalg.norm(x, np.inf)", A(3, 4, domain=NZ), id="matrix inf-norm"),
    row("np.linalg.norm(x, -np.inf)", A(3, 4, domain=NZ), id="matrix -inf-norm"),
    row("np.linalg.norm(x, 1, axis=(0, 2))", A(3, 2, 4, domain=NZ), id="matrix 1-norm batched"),
    row("np.linalg.norm(x, 2)", A(3, 3), id="spectral norm square"),
    row("np.linalg.norm(x, 2)", A(4, 2), id="spectral norm tall"),
]


@pytest.mark.parametrize("expr, specs, scalar", NORMS)
def test_norm(expr, specs, scalar):
    check_row(expr, specs, scalar)


# Rows checked by dedicated tests below (no second order), for test_every_rule_has_a_row.
OTHER_CHECKS = ["np.linalg.norm(x, 'nuc')", "np.linalg.svd(x, compute_uv=False)",
                "np.linalg.multi_dot(",
                # tuple results, in test_tuple_results.py
                "np.linalg.eigh(x)", "np.linalg.svd(x, full_matrices=False)"]


@pytest.mark.parametrize("expr, shape", [("np.linalg.norm(x, 'nuc')", (3, 4)),
                                         ("np.linalg.norm(x, 'nuc', axis=(1, 2))", (2, 3, 2))])
def test_nuclear_norm_first_order_and_refused_second(expr, shape):
    """The nuclear norm has reverse and forward rules; its second derivative (of U V^T) is
    refused at build time with a located error."""
    f = make_function(expr, 1, False)
    (x,) = inputs_for(expr, (A(*shape),))
    np.testing.assert_allclose(grad(f)(x), numeric_gradient(f, [x], 0), rtol=1e-6, atol=1e-6)
    assert_tangent_matches(f, [x])
    with pytest.raises(MissingRuleError, match="nuclear norm"):
        hvp(f)(x, np.ones(shape))


# == jit: the same rules compiled with Numba ================================================
JIT_ROWS = [
    row("np.arcsinh(x)", A(2, 3)),
    row("np.arccosh(x)", A(4, domain=(1.2, 3.0))),
    row("np.arctanh(x)", A(4, domain=UNIT)),
    row("np.deg2rad(x) + np.rad2deg(x)", A(4)),
    row("np.sinc(x)", A(4, domain=NZ)),
    row("np.fmod(x, y)", A(4, domain=(3.1, 3.9)), A(4, domain=(1.0, 1.02))),
    row("np.remainder(x, y)", A(4, domain=(3.1, 3.9)), F((1.0, 1.02))),
    row("np.fmax(x, y) + np.fmin(x, y) * 2.0", A(2, 3), A(3)),
    row("np.logaddexp2(x, y)", A(4), A(4)),
    row("math.erf(x) + math.erfc(x) * x", F(), scalar=True),
    row("math.gamma(x) + math.lgamma(x)", F((0.3, 4.0)), scalar=True),
    row("math.asinh(x) * math.atanh(y)", F(), F(UNIT), scalar=True),
    row("np.var(x)", A(5)),
    row("np.std(x)", A(5)),
    row("np.linalg.pinv(x)", A(3, 2)),
    row("np.cumprod(x)", A(5, domain=NZ)),
    row("np.diff(x)", A(5)),
    row("np.sort(x)", A(6)),
    row("np.flip(x)", A(5)),
    row("np.fliplr(x) + np.flipud(x)", A(3, 3)),
    row("np.swapaxes(x, 0, 1)", A(2, 3)),
    row("np.roll(x, 2)", A(5)),
    row("np.tril(x) + np.triu(x, 1) * 2.0", A(3, 3)),
    row("np.trace(x)", A(3, 3)),
    row("np.cross(x, y)", A(3), A(3)),
    row("np.moveaxis(x, 0, 1) * 2.0 + np.atleast_3d(x)[0]", A(2, 2)),
    row("np.broadcast_to(x, (2, 3)) * y", A(3), A(2, 3)),
    row("np.nansum(x) + np.vdot(x, y)", A(4), A(4)),
    row("np.clip(x, -0.5, 0.5) + np.copysign(x, y) + np.where(x > 0.0, x, y)", A(4), A(4)),
    row("np.diff(x)", A(3, 4), id="jit np.diff 2-D"),
    row("np.trace(x, 1)", A(3, 4), id="jit np.trace offset"),
    row("np.linalg.inv(x + 3.0 * np.eye(3))", A(3, 3)),
    row("np.linalg.solve(x + 3.0 * np.eye(3), y)", A(3, 3), A(3)),
    row("np.linalg.solve(x + 3.0 * np.eye(3), y)", A(3, 3), A(3, 2), id="jit solve matrix rhs"),
    row("np.linalg.det(x + 3.0 * np.eye(3))", A(3, 3)),
    row("np.linalg.cholesky(x + 3.0 * np.eye(3))", A(3, 3, domain=(-0.5, 0.5))),
    # NumPy forms Numba lacks, compiled to adjoint's own (runtime_numpy_numba.py), and the
    # join adjoints (split_like, unstack)
    row("x - np.max(x, axis=1, keepdims=True)", A(3, 4), id="jit max axis keepdims"),
    row("np.min(x, axis=0) * np.mean(x, axis=1, keepdims=True)", A(3, 4),
        id="jit min and mean axis"),
    row("np.sum(x, axis=(0, 2), keepdims=True) * x", A(2, 3, 2), id="jit sum axes keepdims"),
    row("np.ptp(x)", A(4)),
    row("np.ptp(x, axis=0, keepdims=True)", A(3, 4), id="jit ptp axis"),
    row("np.concatenate((x, 2.0 * x, y), axis=1)", A(2, 3), A(2, 2), id="jit concatenate"),
    row("np.concatenate((x, y))", A(3), A(2), id="jit concatenate 1-D"),
    row("np.stack((x, x * y), axis=1)", A(2, 3), A(2, 3), id="jit stack"),
]
# eigvalsh and prod compile, but their second derivatives (eigenvectors_change,
# prod_adjoint_tangent) have no Numba version
JIT_FIRST_ORDER_ROWS = [
    row("np.linalg.eigvalsh(x)", A(3, 3)),
    row("np.prod(x, axis=1)", A(3, 4), id="jit prod axis"),
    row("np.prod(x, axis=(0, 2), keepdims=True)", A(2, 3, 2), id="jit prod axes keepdims"),
]


@pytest.mark.parametrize("expr, specs, scalar", JIT_FIRST_ORDER_ROWS)
# Numba says '@' is faster on contiguous arrays when a linear-algebra adjoint multiplies
# transposes: a speed note about generated code (issue 19's), not a fault of the rule
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning")
def test_jit_first_order_row(expr, specs, scalar):
    f = make_function(expr, len(specs), scalar)
    args = inputs_for(expr, specs)
    np.testing.assert_allclose(grad(f, jit=True)(*args), grad(f)(*args), rtol=1e-10,
                               atol=1e-12)
    v = directions(args, 1)
    np.testing.assert_allclose(jvp(f, jit=True)(*args, *v), jvp(f)(*args, *v), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("expr, specs, scalar", JIT_ROWS)
# Numba says '@' is faster on contiguous arrays when a linear-algebra adjoint multiplies
# transposes: a speed note about generated code (issue 19's), not a fault of the rule
@pytest.mark.filterwarnings("ignore::numba.core.errors.NumbaPerformanceWarning")
def test_jit_row(expr, specs, scalar):
    f = make_function(expr, len(specs), scalar)
    args = inputs_for(expr, specs)
    wrt = tuple(range(len(args)))
    expected = grad(f, wrt=wrt)(*args)
    for got, want in zip(grad(f, wrt=wrt, jit=True)(*args), expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    v = directions(args, 1)
    np.testing.assert_allclose(jvp(f, wrt=wrt, jit=True)(*args, v),
                               jvp(f, wrt=wrt)(*args, v), rtol=1e-10, atol=1e-12)
    v = directions(args, 2)
    for got, want in zip(hvp(f, wrt=wrt, jit=True)(*args, v), hvp(f, wrt=wrt)(*args, v)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


# Functions whose primal (or helper) Numba cannot compile: a located JitError, not a crash.
JIT_REFUSED = [
    row("np.einsum('ij,jk->ik', x, y)", A(2, 3), A(3, 4)),
    row("np.repeat(x, 2)", A(3)),
    row("np.linalg.norm(x, 1)", A(3)),
    row("np.linalg.slogdet(x + 3.0 * np.eye(3))[1]", A(3, 3)),
    row("np.linalg.inv(x + 3.0 * np.eye(3))", A(2, 3, 3), id="jit inv batched"),
    row("np.linalg.svd(x, compute_uv=False)", A(3, 3)),
    row("np.average(x)", A(2, 3)),
    row("np.diag(x)", A(3)),
    row("a, b = np.split(x, 2); a * b", A(4)),
    row("np.sort(x)", A(2, 3), id="np.sort 2-D under jit"),
]


@pytest.mark.parametrize("expr, specs, scalar", JIT_REFUSED)
def test_jit_refused(expr, specs, scalar):
    f = make_function(expr, len(specs), scalar)
    args = inputs_for(expr, specs)
    with pytest.raises(JitError) as info:
        grad(f, wrt=tuple(range(len(args))), jit=True)(*args)
    assert "jit=False" in str(info.value)


# == linalg.py ==============================================================================
# Inputs are shifted by a multiple of the identity so every matrix is well conditioned;
# for cholesky and eigvalsh only the lower triangle is read, and the tests perturb all
# entries independently (the upper ones have gradient 0).
EYE3 = "3.0 * np.eye(3)"
LINALG = [
    row(f"np.linalg.inv(x + {EYE3})", A(3, 3)),
    row(f"np.linalg.inv(x + {EYE3})", A(2, 3, 3), id="inv batched"),
    row(f"np.linalg.solve(x + {EYE3}, y)", A(3, 3), A(3)),
    row(f"np.linalg.solve(x + {EYE3}, y)", A(3, 3), A(3, 2), id="solve matrix rhs"),
    row(f"np.linalg.solve(x + {EYE3}, y)", A(2, 3, 3), A(3), id="solve batched vector rhs"),
    row(f"np.linalg.solve(x + {EYE3}, y)", A(2, 3, 3), A(2, 3, 2), id="solve batched"),
    row(f"np.linalg.solve(x + {EYE3}, y)", A(2, 3, 3), A(3, 2), id="solve broadcast rhs"),
    row(f"np.linalg.solve(x + {EYE3}, y)", A(3, 3), A(2, 3, 4), id="solve broadcast matrix"),
    row(f"np.linalg.det(x + {EYE3})", A(3, 3)),
    row(f"np.linalg.det(x + {EYE3})", A(2, 3, 3), id="det batched"),
    row("np.linalg.det(x)", A(2, 2), id="det 2x2 any sign"),
    row(f"np.linalg.slogdet(x + {EYE3})[1]", A(3, 3)),
    row(f"s, l = np.linalg.slogdet(x - {EYE3}); l * s", A(3, 3), id="slogdet unpacked negative"),
    row(f"np.linalg.slogdet(x + {EYE3})[1]", A(2, 3, 3), id="slogdet batched"),
    row(f"np.linalg.cholesky(x + {EYE3})", A(3, 3, domain=(-0.5, 0.5))),
    row(f"np.linalg.cholesky(x + {EYE3})", A(2, 3, 3, domain=(-0.5, 0.5)),
        id="cholesky batched"),
    row("np.linalg.cholesky(x @ x.T + np.eye(3))", A(3, 3), id="cholesky of x x^T"),
    row("np.linalg.eigvalsh(x)", A(3, 3)),
    row("np.linalg.eigvalsh(x + x.T)", A(4, 4), id="eigvalsh symmetric input"),
    row("np.linalg.eigvalsh(x)", A(2, 3, 3), id="eigvalsh batched"),
    row("np.linalg.pinv(x)", A(3, 2)),
    row("np.linalg.pinv(x)", A(2, 4), id="pinv wide"),
    row(f"np.linalg.pinv(x + {EYE3})", A(3, 3), id="pinv square"),
    row("np.linalg.pinv(x)", A(2, 3, 2), id="pinv batched"),
    row(f"linalg.solve_triangular(x + {EYE3}, y)", A(3, 3), A(3)),
    row(f"linalg.solve_triangular(x + {EYE3}, y, lower=True)", A(3, 3), A(3, 2)),
    row(f"linalg.solve_triangular(x + {EYE3}, y, trans=1)", A(3, 3), A(3)),
    row(f"linalg.solve_triangular(x + {EYE3}, y, trans='T', lower=True)", A(3, 3), A(3, 2)),
    row(f"linalg.cho_solve((x + {EYE3}, True), y)", A(3, 3, domain=(-0.5, 0.5)), A(3)),
    row(f"linalg.cho_solve((x + {EYE3}, False), y)", A(3, 3, domain=(-0.5, 0.5)), A(3, 2)),
    row(f"c = np.linalg.cholesky(x + {EYE3}); linalg.cho_solve((c, True), y)",
        A(3, 3, domain=(-0.5, 0.5)), A(3), id="cho_solve after cholesky"),
    row("linalg.cho_solve((z, True), x @ y)", A(3, 3), A(3), A(3, 3, domain=(2.5, 3.0)),
        id="cho_solve constant factor"),
]


@pytest.mark.parametrize("expr, specs, scalar", LINALG)
def test_linalg(expr, specs, scalar):
    check_row(expr, specs, scalar)


@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 3, 4)])
def test_singular_values_first_order_and_refused_second(shape):
    expr = "np.linalg.svd(x, compute_uv=False)"
    f = make_function(expr, 1, False)
    (x,) = inputs_for(expr, (A(*shape),))
    np.testing.assert_allclose(grad(f)(x), numeric_gradient(f, [x], 0), rtol=1e-6, atol=1e-6)
    assert_tangent_matches(f, [x])
    with pytest.raises(MissingRuleError, match="singular values"):
        hvp(f)(x, np.ones(shape))


# == special.py: scipy.special (loaded on first use) ========================================
SPECIAL_UNARY = [
    ("special.expit(x)", REAL),
    ("special.logit(x)", (0.1, 0.9)),
    ("special.erf(x)", REAL),
    ("special.erfc(x)", REAL),
    ("special.erfinv(x)", UNIT),
    ("special.ndtr(x)", REAL),
    ("special.log_ndtr(x)", REAL),
    ("special.ndtri(x)", (0.1, 0.9)),
    ("special.gamma(x)", (0.3, 3.0)),
    ("special.gammaln(x)", (0.3, 4.0)),
    ("special.digamma(x)", (0.3, 4.0)),
    ("special.psi(x)", (0.3, 4.0)),
    ("special.polygamma(1, x)", (0.3, 4.0)),
]


@pytest.mark.parametrize("shape", UNARY_SHAPES, ids=lambda s: pair_id((s,)))
@pytest.mark.parametrize("expr, domain", SPECIAL_UNARY, ids=[r[0] for r in SPECIAL_UNARY])
def test_special_unary(expr, domain, shape):
    check_row(expr, (Arg(shape, domain),))


SPECIAL_BINARY = ["special.xlogy(x, y)", "special.xlog1py(x, y)"]


@pytest.mark.parametrize("pair", PAIRS, ids=pair_id)
@pytest.mark.parametrize("expr", SPECIAL_BINARY)
def test_special_binary(expr, pair):
    check_row(expr, binary_specs((REAL, POS), pair))


SPECIAL_REDUCTIONS = [
    row("special.logsumexp(x)", A(5)),
    row("special.logsumexp(x)", A(3, 4), id="logsumexp 2-D"),
    row("special.logsumexp(x, axis=0)", A(3, 4)),
    row("special.logsumexp(x, axis=-1, keepdims=True)", A(3, 4)),
    row("special.logsumexp(x, axis=(0, 2))", A(2, 3, 4)),
    row("special.logsumexp(x * 40.0)", A(5), id="logsumexp large values"),
    row("special.logsumexp(x, b=y)", A(5), A(5, domain=POS)),
    row("special.logsumexp(x, axis=1, b=y)", A(3, 4), A(4, domain=POS), id="logsumexp b bcast"),
    row("special.logsumexp(x, 0, y, True)", A(3, 4), A(3, 4, domain=POS),
        id="logsumexp b positional keepdims"),
    row("special.logsumexp(x, b=y)", A(3), A(2, 3, domain=POS), id="logsumexp b wider than a"),
    row("v, s = special.logsumexp(x, return_sign=True); v * v", A(4)),
    row("v, s = special.logsumexp(x, axis=0, b=y, return_sign=True); v * s", A(3, 4),
        A(3, 4, domain=(-2.0, -0.5)), id="logsumexp negative sum with sign"),
    row("v, s = special.logsumexp(x, axis=1, b=y, return_sign=True); v * 2.0", A(2, 3),
        A(3, domain=POS), id="logsumexp b and sign"),
    row("special.softmax(x)", A(5)),
    row("special.softmax(x, axis=1)", A(3, 4)),
    row("special.softmax(x, axis=0)", A(3, 4)),
    row("special.log_softmax(x)", A(5)),
    row("special.log_softmax(x, axis=-1)", A(3, 4)),
    row("special.log_softmax(x * y, axis=0)", A(3, 4), A(4), id="log_softmax broadcast"),
]


@pytest.mark.parametrize("expr, specs, scalar", SPECIAL_REDUCTIONS)
def test_special_reduction(expr, specs, scalar):
    check_row(expr, specs, scalar)


# == mutation checks: a wrong rule fails its row ============================================
t: dict = {}  # t[v] in the wrong tangent templates below


def _wrong_inv_tangent(y, x):
    t[y] = y @ t[x] @ y  # the sign is missing


def _wrong_solve_as_tangent(r, a, s, transpose=False):
    t[r] = solve_as(a, t[s], transpose)  # noqa: F821 - a template: the t[a] term is missing


def test_table_catches_a_wrong_reverse_rule(monkeypatch):
    from adjoint import rules

    # arctanh's derivative 1 / (1 - x^2) in place of arcsinh's 1 / sqrt(x^2 + 1)
    monkeypatch.setitem(rules.REVERSE, np.arcsinh, rules.REVERSE[np.arctanh])
    with pytest.raises(AssertionError, match="gradient with respect to x"):
        check_row("np.arcsinh(x) + 0.0 * x", (A(2, 3, domain=UNIT),))


def test_table_catches_a_wrong_forward_rule(monkeypatch):
    from adjoint.rules import tangents

    wrong = tangents.parse_tangent_template(_wrong_inv_tangent)
    monkeypatch.setitem(tangents.TANGENTS, np.linalg.inv, wrong)
    with pytest.raises(AssertionError):
        check_row("np.linalg.inv(x + 3.0 * np.eye(3)) + 0.0 * x", (A(3, 3),))


def test_table_catches_a_wrong_second_order_rule(monkeypatch):
    from adjoint import runtime
    from adjoint.rules import tangents

    wrong = tangents.parse_tangent_template(_wrong_solve_as_tangent)
    monkeypatch.setitem(tangents.HELPERS, runtime.solve_as, wrong)
    with pytest.raises(AssertionError, match="Hessian-vector product"):
        check_row("np.linalg.solve(x + 3.0 * np.eye(3), y) + 0.0 * y", (A(3, 3), A(3)))


# == rules added after the first tables: more shape changes, products, linalg ===============
MORE = [
    row("np.tensordot(x, y)", A(2, 3), A(2, 3), id="tensordot axes=2"),
    row("np.tensordot(x, y, axes=1)", A(2, 3), A(3, 4)),
    row("np.tensordot(x, y, axes=0)", A(2), A(3)),
    row("np.tensordot(x, y, axes=([1, 0], [0, 2]))", A(2, 3, 4), A(3, 5, 2)),
    row("np.tensordot(x, y, axes=(-1, 0))", A(2, 3), A(3, 2)),
    row("np.kron(x, y)", A(2, 3), A(2, 2)),
    row("np.kron(x, y)", A(3), A(2)),
    row("np.kron(x, y)", A(2), A(2, 3), id="np.kron 1-D with 2-D"),
    row("np.rollaxis(x, 2)", A(2, 3, 4)),
    row("np.rollaxis(x, 0, 3)", A(2, 3, 4)),
    row("np.rollaxis(x, -1, 1)", A(2, 3, 4)),
    row("np.partition(x, 2)", A(6)),
    row("np.partition(x, 1, axis=0)", A(4, 3)),
    row("np.partition(x, (0, 2))", A(3, 5)),
    row("np.average(x, weights=y)", A(5), A(5, domain=POS)),
    row("np.average(x, axis=1, weights=y)", A(3, 4), A(4, domain=POS)),
    row("np.average(x, axis=0, weights=y)", A(3, 4), A(3, 4, domain=POS)),
    row("a, b = np.split(x, 2); a * b", A(4)),
    row("a, b, c = np.split(x, 3, axis=1); a - b * c", A(2, 6)),
    row("a, b = np.array_split(x, 2); a / (b + 3.0)", A(6)),
    row("a, b = np.array_split(x, 2); np.sum(a * a) - np.sum(b)", A(5),
        id="np.array_split unequal"),
    row("a, b, c = np.array_split(x, 3, axis=1); np.sum(a) * b[:, 0] + np.sum(np.sin(c))",
        A(2, 7), id="np.array_split unequal axis 1"),
    row("a, b = np.array_split(x, [1]); a[0] * np.sum(b * b)", A(4),
        id="np.array_split at indices"),
    row("a, b = np.hsplit(x, 2); a * b", A(3, 4)),
    row("a, b = np.vsplit(x, 2); a * b", A(4, 3)),
    row("np.hstack((x, y))", A(3), A(2)),
    row("np.hstack([x, y])", A(2, 3), A(2, 1), id="np.hstack 2-D"),
    row("np.vstack((x, y))", A(3), A(3)),
    row("np.vstack([x, y])", A(2, 3), A(1, 3), id="np.vstack 2-D"),
    row("np.dstack((x, y))", A(3), A(3)),
    row("np.dstack([x, y])", A(2, 3), A(2, 3, 2), id="np.dstack 2-D and 3-D"),
    row("np.column_stack((x, y))", A(3), A(3, 2)),
    row("np.column_stack([x, y, x])", A(4), A(4), id="np.column_stack repeats x"),
]


@pytest.mark.parametrize("expr, specs, scalar", MORE)
def test_more(expr, specs, scalar):
    check_row(expr, specs, scalar)


@pytest.mark.parametrize("expr, message", [
    ("np.pad(x, 1, mode='mean')", "mode='mean'"),
    ("np.pad(x, 1, mode='linear_ramp')", "mode='linear_ramp'"),
    ("np.pad(x, 1, mode=m)", "a literal string"),
    ("np.pad(x, 1, mode='reflect', reflect_type='odd')", "does not accept"),
    ("special.logsumexp(x, return_sign=flag)", "return_sign must be the constant"),
])
def test_pad_and_logsumexp_refusals_are_located(expr, message):
    f = make_function(f"m = 'edge'; flag = True; {expr}", 1, False)
    with pytest.raises(MissingRuleError, match=message) as info:
        grad(f)(np.ones(3))
    assert info.value.location is not None


@pytest.mark.parametrize("specs", [(A(2, 3), A(3, 4), A(4, 2)), (A(3), A(3, 4), A(4)),
                                   (A(3), A(3, 2), A(2, 4)), (A(2, 3), A(3))],
                         ids=["matrices", "vector ends", "vector first", "two"])
def test_multi_dot_first_order_and_refused_second(specs):
    names = ", ".join("xyz"[:len(specs)])
    expr = f"np.linalg.multi_dot([{names}])"
    f = make_function(expr, len(specs), False)
    args = inputs_for(expr, specs)
    grads = grad(f, wrt=tuple(range(len(args))))(*args)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, numeric_gradient(f, args, i), rtol=1e-6, atol=1e-6)
    assert_tangent_matches(f, args)
    with pytest.raises(MissingRuleError, match="multi_dot"):
        hvp(f, wrt=tuple(range(len(args))))(*args, directions(args, 2))
