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


def nested_unpacking(x, y, z):
    (a, (b, c)) = (x * y, (np.sin(z), x))
    return a * b + c


def nested_unpacking_of_rows(X):
    a, (b, c) = X[0], X[1:3]
    return np.sum(a * b * c)


def swap_elements(x):
    s = x * 1.0
    for i in range(len(s) - 1):
        s[i], s[i + 1] = s[i + 1] * 2.0, s[i]
    return np.sum(s * x)


def enumerate_zip_nested(A, B):
    total = 0.0
    for i, (a, b) in enumerate(zip(A, B)):
        total = total + i * np.sum(a * b)
    return total


def nested_targets_over_pairs(P, w):
    total = 0.0
    for (a, b), c in zip(zip(P[0], P[1]), P[2]):
        total = total + a * b * c * w
    return total


def starred_display(x, y):
    a, b, c = (*(x, y), x * y)
    return a * b * c + np.sum(np.stack((*[x, y], c)))


def builtin_sum_of_vector(x):
    return sum(x) * sum(x * x)


def builtin_sum_of_rows(X):
    return np.sum(sum(X) ** 2)


def builtin_sum_of_lists(x, y):
    hs = []
    for i in range(3):
        hs.append(x * i)
    ys = [y * y for _ in range(2)]
    return sum(hs) + sum(ys) + sum((x, y, x * y))


def item_and_float(x):
    s = np.sum(x * x)
    return s.item() * 2.0 + float(np.sum(x)) * len(x) + x[1:2].item() ** 3


def zip_of_three_and_abs(A, B, C):
    total = 0.0
    for a, b, c in zip(A, B, C):
        total = total + np.sum(abs(a - b) * c)
    return total



def weighted(a, b):
    return a * b + np.sin(a)


def starred_name_and_call(x, y):
    p = (x, y)
    return weighted(*p) + np.sum(np.stack((*p, x * y)))
