"""W2: scalar recurrence s = s * 0.999 + sin(x * i) * 0.001, plain Python loop, d/dx."""
import math

TITLE = "scalar recurrence"
REFERENCE = "numba"
LOOPS = True
MEMORY = True


def variants(quick):
    return ["n=300"] if quick else ["n=10000"]


def setup(variant):
    return (0.5, int(variant.split("=")[1])), (0,)


def primal(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.999 + math.sin(x * i) * 0.001
    return s


def grad_numpy(x, n):
    # forward sweep (its values are not needed by the backward sweep, but a gradient
    # function returns the value too, as adjoint's does)
    s = 0.0
    for i in range(n):
        s = s * 0.999 + math.sin(x * i) * 0.001
    dx = 0.0
    ds = 1.0
    for i in range(n - 1, -1, -1):
        dx += ds * 0.001 * math.cos(x * i) * i
        ds = ds * 0.999
    return (dx,) if s == s else (math.nan,)  # keeps s alive under Numba


def numba_impl():
    import numba

    primal_nb = numba.njit(primal)
    grad_nb = numba.njit(grad_numpy)
    return primal_nb, grad_nb


def generic(np):
    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s * 0.999 + np.sin(x * i) * 0.001
        return s

    return f


autograd_impl = torch_impl = jax_impl = generic


def jax_fori_impl():
    import jax
    import jax.numpy as jnp

    def f(x, n):
        def body(i, s):
            return s * 0.999 + jnp.sin(x * i) * 0.001

        return jax.lax.fori_loop(0, n, body, jnp.zeros_like(x))

    return f
