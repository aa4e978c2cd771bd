"""Functions using syntax adjoint refuses; each case names the construct it exercises."""
import functools

import numpy as np

STATE = 0.0


def uses_try(x):
    try:
        y = x * 2
    except ValueError:
        y = x
    return y


def uses_with(x):
    with open("f") as fh:
        y = x + len(fh.name)
    return y


def uses_global(x):
    global STATE
    STATE = x
    return x


def uses_nonlocal_like_nested_def(x):
    def inner(v):
        return v * 2
    return inner(x)


def uses_class(x):
    class Box:
        pass
    return x


def uses_del(x):
    y = x * 2
    del y
    return x


def uses_import(x):
    import math
    return math.sin(x)


def uses_lambda(x):
    f = lambda v: v * 2  # noqa: E731
    return f(x)


def uses_list_comprehension(x):
    ys = [x * i for i in range(3)]
    return ys[0]


def uses_walrus(x):
    y = (z := x * 2) + z
    return y


def uses_yield(x):
    yield x


def uses_star_args(*xs):
    return xs[0]


def no_return(x):
    x = x * 2


def missing_rule(x):
    y = np.fft.fft(x)
    return np.sum(y.real)


def missing_method(x):
    return x.searchsorted(0.5)


def bad_norm_order(x):
    return np.linalg.norm(x, ord=1)


def bad_keyword(x):
    return np.sum(x, dtype=np.float32)


def undefined_name(x):
    return no_such_function(x)  # noqa: F821


def bad_call(x):
    return helper_two_args(x)


def helper_two_args(a, b):
    return a * b


def recursive(x):
    return recursive(x)


partial_fn = functools.partial(helper_two_args, b=2.0)
