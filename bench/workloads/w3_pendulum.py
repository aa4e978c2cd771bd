"""W3: explicit Euler damped pendulum, gradient wrt damping c and stiffness k (g/L)."""
import math

TITLE = "Euler damped pendulum"
REFERENCE = "numba"
LOOPS = True
MEMORY = True


def variants(quick):
    return ["n=100"] if quick else ["n=1000"]


def setup(variant):
    return (0.3, 9.81, 1.0, 0.0, 0.01, int(variant.split("=")[1])), (0, 1)


def primal(c, k, theta0, omega0, dt, n):
    theta = theta0
    omega = omega0
    for _ in range(n):
        alpha = -k * math.sin(theta) - c * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
    return theta * theta + 0.5 * omega * omega


def grad_numpy(c, k, theta0, omega0, dt, n):
    thetas = []
    omegas = []
    theta = theta0
    omega = omega0
    for _ in range(n):
        thetas.append(theta)
        omegas.append(omega)
        alpha = -k * math.sin(theta) - c * omega
        theta = theta + dt * omega
        omega = omega + dt * alpha
    dtheta = 2.0 * theta
    domega = omega
    dc = 0.0
    dk = 0.0
    for i in range(n - 1, -1, -1):
        th = thetas[i]
        dalpha = dt * domega
        domega = domega + dt * dtheta
        dk -= math.sin(th) * dalpha
        dc -= omegas[i] * dalpha
        dtheta = dtheta - k * math.cos(th) * dalpha
        domega = domega - c * dalpha
    return dc, dk


def numba_impl():
    import numba
    import numpy as np

    primal_nb = numba.njit(primal)

    @numba.njit
    def grad_nb(c, k, theta0, omega0, dt, n):
        thetas = np.empty(n)
        omegas = np.empty(n)
        theta = theta0
        omega = omega0
        for i in range(n):
            thetas[i] = theta
            omegas[i] = omega
            alpha = -k * math.sin(theta) - c * omega
            theta = theta + dt * omega
            omega = omega + dt * alpha
        dtheta = 2.0 * theta
        domega = omega
        dc = 0.0
        dk = 0.0
        for i in range(n - 1, -1, -1):
            th = thetas[i]
            dalpha = dt * domega
            domega = domega + dt * dtheta
            dk -= math.sin(th) * dalpha
            dc -= omegas[i] * dalpha
            dtheta = dtheta - k * math.cos(th) * dalpha
            domega = domega - c * dalpha
        return dc, dk

    return primal_nb, grad_nb


def generic(np):
    def f(c, k, theta0, omega0, dt, n):
        theta = theta0
        omega = omega0
        for _ in range(n):
            alpha = -k * np.sin(theta) - c * omega
            theta = theta + dt * omega
            omega = omega + dt * alpha
        return theta * theta + 0.5 * omega * omega

    return f


autograd_impl = torch_impl = jax_impl = generic


def jax_fori_impl():
    import jax
    import jax.numpy as jnp

    def f(c, k, theta0, omega0, dt, n):
        def body(i, state):
            theta, omega = state
            alpha = -k * jnp.sin(theta) - c * omega
            return theta + dt * omega, omega + dt * alpha

        theta, omega = jax.lax.fori_loop(0, n, body, (theta0 + 0.0 * c, omega0 + 0.0 * c))
        return theta * theta + 0.5 * omega * omega

    return f
