"""Module-level functions for the pickling tests: importable by name from any process."""
import numpy as np

from adjoint import grad


def loss(w, X, y):
    """Logistic regression: the mean log-loss of labels y in {0, 1}."""
    z = X @ w
    return np.sum(np.log(1.0 + np.exp(z)) - y * z) / 100.0


def vector_out(x, a):
    """An array output, for vjp and jacobian."""
    return np.sin(x) * a + x * x


def scalar_two(x, y):
    """A scalar function of two arrays, for hvp and hessian."""
    return np.sum(x * x * y) + np.sum(np.cos(x))


@grad(wrt=(0, 1))
def decorated(x, y):
    """@grad leaves the gradient where the function was: its name holds the gradient."""
    return np.sum(x * y * y)


def renamed(x):
    """Pickled by name, then deleted from the module: unpickling must say so."""
    return np.sum(x * x)


def data(seed: int = 0, rows: int = 100):
    """Logistic-regression data and weights, the same in every process."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=3)
    X = rng.normal(size=(rows, 3))
    y = (rng.random(rows) < 0.5).astype(float)
    return w, X, y


def load_and_call(payload: bytes, calls: list[tuple]) -> list:
    """In a fresh process: unpickle the object and call it (a pullback, with its one
    argument) on each argument tuple."""
    import pickle

    obj = pickle.loads(payload)
    return [obj(*args) for args in calls]


def compile_and_report(cache_dir: str) -> tuple:
    """One of several processes compiling the same jit=True gradient into one cache at
    once: its gradient, and how many times it compiled the main function (not loaded from
    the cache)."""
    import os

    os.environ["ADJOINT_CACHE_DIR"] = cache_dir
    g = grad(loss, jit=True)
    gradient = g(*data())
    dispatcher = g._last.function.dispatcher
    return gradient.tobytes(), sum(dispatcher.stats.cache_misses.values())
