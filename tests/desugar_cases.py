"""Functions written with Python conveniences that adjoint.desugar lowers."""
import numpy as np


def list_comprehension_to_array(x, w, n):
    return np.sum(np.array([x[i] * w for i in range(n)]) ** 2)


def generator_sum(vs):
    return sum(v * v for v in vs)


def filtered_nested_sum(x, n):
    return sum(x[i] * x[j] for i in range(n) for j in range(i, n) if i != j)


def comprehension_over_rows_stacked(X, w):
    return np.sum(np.stack([np.tanh(row * w) for row in X]))


def comprehension_shadowing_a_local(x, n):
    i = 2.0
    total = sum(x[i] * x[i] for i in range(n))
    return total * i


def generator_max_and_min(x, n):
    return max(x[i] * x[i] for i in range(n)) - min(np.sin(x[i]) for i in range(n))


def comprehension_over_enumerate(x, w):
    return sum(k * v * w for k, v in enumerate(x))


def final_if_else(x):
    if x > 0:
        return x * x
    else:
        return -3.0 * x


def final_elif_chain_nested(x, y):
    y2 = y * 2.0
    if x > 1.0:
        if y > 0:
            return x * y2
        return x - y2
    elif x < -1.0:
        return np.sin(x) * y
    else:
        return x * x * y


def generator_sum_of_rows(X):
    return np.sum(sum(row * row for row in X))


def list_comprehension_indexed(x, n):
    ys = [x * i for i in range(n)]
    zs = [y * y for y in ys]
    return ys[1] * zs[2]
