"""W1: the sigmoid chain of background.md section 3 (scalar; measures call overhead)."""
import math

TITLE = "sigmoid chain (scalar)"
REFERENCE = "numba"
LOOPS = False
MEMORY = False


def variants(quick):
    return ["x=3"]


def setup(variant):
    return (3.0,), (0,)


def primal(x):
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = 1.0 / (1.0 + math.exp(-e))
    return f


def grad_numpy(x):
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = 1.0 / (1.0 + math.exp(-e))
    de = f * (1 - f)
    dd = de * 2
    dc = dd * 1
    db = dc * -1
    da = db * 2
    dx = da * 1
    return (dx,)


def numba_impl():
    import numba

    primal_nb = numba.njit(primal)

    @numba.njit
    def grad_nb(x):
        a = x + 1
        b = a * 2
        c = -b
        d = c + 1
        e = d * 2
        f = 1.0 / (1.0 + math.exp(-e))
        de = f * (1 - f)
        dd = de * 2
        dc = dd * 1
        db = dc * -1
        da = db * 2
        return da * 1

    return primal_nb, lambda x: (grad_nb(x),)


def generic(np):
    """The function as an autograd, JAX or PyTorch user writes it."""

    def f(x):
        a = x + 1
        b = a * 2
        c = -b
        d = c + 1
        e = d * 2
        return 1.0 / (1.0 + np.exp(-e))

    return f


autograd_impl = torch_impl = jax_impl = generic
