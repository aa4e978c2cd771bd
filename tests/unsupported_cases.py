"""Functions using syntax adjoint refuses; each case names the construct it exercises."""
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
    y = x

    def inner(v):
        nonlocal y  # nested defs are lifted to helpers (lift.py), but not those that write
        y = v * 2
    inner(x)
    return y


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
    return (lambda v: v * 2)(x)  # a lambda assigned to a name is lifted (lift.py); not this


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
    return np.linalg.norm(x, ord="max")


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



def uses_match(x):
    match x:
        case 0.0:
            y = x
        case _:
            y = x * 2
    return y


def uses_set_comprehension(x):
    ys = {x * i for i in range(3)}
    return len(ys) * x


def uses_dict_comprehension(x):
    ys = {i: x * i for i in range(3)}
    return ys[1]


def uses_raise(x):
    if x < 0:
        raise ValueError("negative")
    return x


async def uses_async(x):
    return x


def uses_yield_from(x):
    yield from [x]


def uses_star_call(x):
    args = x.ravel()  # not a tuple display: its length is not known
    return helper_two_args(*args)


def uses_dict_literal(x):
    d = {"a": x}  # read with constant keys it is lowered (test_containers.py); not this way
    key = "a"
    return d[key]


def uses_attribute_assignment(x):
    STATE_BOX.value = x
    return x


class _Box:
    value = 0.0


STATE_BOX = _Box()


def sorts_in_place(x):
    y = x * 2.0
    y.sort()
    return np.sum(y * np.arange(3.0))


def copies_into(x):
    y = np.zeros(3)
    np.copyto(y, x)
    return np.sum(y * y)


def polar(x, y):
    return np.hypot(x, y), np.arctan2(y, x)


def keeps_a_returned_tuple(x):
    pair = polar(x, 1.0)
    return pair[0]


def writes_into_an_alias(x):
    a = x * 2.0
    b = a
    a[0] = 5.0
    return np.sum(b * x)
