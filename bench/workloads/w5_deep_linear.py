"""W5: deep linear network of background.md section 5: L layers of m x m, one input vector."""
import numpy as np

TITLE = "deep linear network"
REFERENCE = "numpy"
LOOPS = True
MEMORY = False


def variants(quick):
    return ["L=5,m=64"] if quick else ["L=20,m=256"]


def setup(variant):
    L, m = (int(p.split("=")[1]) for p in variant.split(","))
    rng = np.random.default_rng(5)
    W = rng.standard_normal((L, m, m)) / np.sqrt(m)
    x = rng.standard_normal(m)
    y = rng.standard_normal(m)
    return (W, x, y), (0, 1)


def primal(W, x, y):
    z = x
    for i in range(W.shape[0]):
        z = W[i] @ z
    r = y - z
    return 0.5 * np.sum(r * r)


def grad_numpy(W, x, y):
    zs = [x]
    z = x
    for i in range(W.shape[0]):
        z = W[i] @ z
        zs.append(z)
    p = z - y
    dW = np.empty_like(W)
    for i in range(W.shape[0] - 1, -1, -1):
        dW[i] = np.outer(p, zs[i])
        p = W[i].T @ p
    return dW, p


def numba_impl():
    import numba

    @numba.njit
    def primal_nb(W, x, y):
        z = x
        for i in range(W.shape[0]):
            z = W[i] @ z
        r = y - z
        return 0.5 * np.sum(r * r)

    @numba.njit
    def grad_nb(W, x, y):
        L, m = W.shape[0], W.shape[1]
        zs = np.empty((L + 1, m))
        zs[0] = x
        for i in range(L):
            zs[i + 1] = W[i] @ zs[i]
        p = zs[L] - y
        dW = np.empty_like(W)
        for i in range(L - 1, -1, -1):
            dW[i] = np.outer(p, zs[i])
            p = W[i].T @ p
        return dW, p

    return primal_nb, grad_nb


def generic(np):
    def f(W, x, y):
        z = x
        for i in range(W.shape[0]):
            z = W[i] @ z
        r = y - z
        return 0.5 * np.sum(r * r)

    return f


autograd_impl = torch_impl = jax_impl = generic


def jax_fori_impl():
    import jax
    import jax.numpy as jnp

    def f(W, x, y):
        z = jax.lax.fori_loop(0, W.shape[0], lambda i, z: W[i] @ z, x)
        r = y - z
        return 0.5 * jnp.sum(r * r)

    return f
