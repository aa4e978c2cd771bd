"""Functions with real control flow, each exercising one construct or a combination."""
import math

import numpy as np


def if_elif_else(x, y):
    if x > 0:
        z = x * y
    elif x < -1:
        z = x * x
    else:
        z = y
    return z * x


def if_without_else(x):
    y = x * 2.0
    if x > 1.0:
        y = y * y
    return y


def nested_branches(x, y):
    if x > 0:
        if y > 0:
            r = x * y
        else:
            r = x - y
    else:
        r = np.sin(x) * y
    return r


def conditional_expression(x):
    y = x * x if x > 0 else -x
    return y * 3.0


def recurrence(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.999 + math.sin(x * i) * 0.001
    return s


def range_start_stop_step(x, a, b, c):
    s = x
    for i in range(a, b, c):
        s = s * x + i
    return s


def data_dependent_bound(x):
    n = int(abs(x) * 3) + 1
    s = 1.0
    for i in range(n):
        s = s * x
    return s


def loop_over_rows(X, w):
    total = 0.0
    for row in X:
        total += np.dot(row, w) ** 2
    return total


def enumerate_and_zip(X, Y):
    total = 0.0
    for i, row in enumerate(X):
        total = total + i * np.sum(row * row)
    for a, b in zip(X, Y):
        total += np.sum(a * b)
    return total


def loop_over_tuple(x):
    total = 0.0
    for c in (1.0, 2.0, 3.0):
        total = total + c * x
    return total * x


def while_loop(x):
    s = x
    while s < 10.0:
        s = s * 1.5 + 0.1
    return s


def while_with_break(x):
    s = x
    k = 0
    while s < 100.0:
        s = s * 1.3 + 0.2
        k += 1
        if k >= 5:
            break
    return s


def break_and_continue(x, n):
    s = 1.0
    for i in range(1, n, 2):
        s = s * x + i
        if s > 100:
            break
        if s < -5:
            continue
        s = s - 0.5
    else:
        s = s * 2
    return s


def early_return_in_loop(x, n):
    s = x
    for i in range(n):
        s = s * 1.3 + 0.1
        if s > 5.0:
            return s * 2
    return s


def early_return_in_branch(x):
    if x > 0:
        return x * x
    elif x < -1:
        return math.sin(x)
    y = x * 3
    return y + 1


def return_from_nested_loops(x, n):
    acc = 0.0
    for i in range(n):
        for j in range(n):
            acc = acc + x * (i + j)
            if acc > 10:
                return acc * x
        acc = acc * 0.5
    return acc


def nested_loops_with_overwrites(x, n):
    y = x
    for i in range(n):
        for j in range(i):
            y = np.sin(y) * x + j
    return y


def augmented_assignments(x, y):
    z = x
    z += y
    z -= 0.5 * x
    z *= y
    z /= 1.0 + x * x
    z **= 2
    return z


def array_augmented(x):
    y = x.copy()
    y += 1.0
    y *= x
    return np.sum(y)


def element_writes(x, n):
    out = np.zeros(n)
    for i in range(n):
        if x[i] > 0:
            out[i] = x[i] ** 2
        else:
            out[i] += np.sin(x[i])
    return np.sum(out * out)


def column_slice_and_mask_writes(A, v):
    B = np.ones_like(A)
    for j in range(A.shape[1]):
        B[:, j] = A[:, j] * v[j]
    B[1:3] = B[1:3] * 2.0
    B[A < 0] = 0.0
    return np.sum(B * A)


def recurrence_in_array(x, n):
    out = np.zeros(n)
    out[0] = x
    for i in range(1, n):
        out[i] = out[i - 1] * 0.9 + math.cos(x * i)
    return np.sum(out)


def svm_with_element_write(W, x, y):
    scores = W.dot(x)
    margins = np.maximum(0, scores - scores[y] + 1)
    margins[y] = 0
    return np.sum(margins)


def writes_into_argument(x):
    x[0] = x[1] * 3.0
    x[2] += x[0]
    return np.sum(x * x)


def unpack_and_swap(a, b):
    a, b = b, a * 2.0
    c, d = np.array([a, b])
    return a * b + c * d


def _integrate(k, y, v, n):
    for i in range(n):
        acc = -k * math.sin(y) - 0.1 * v
        v = v + 0.01 * acc
        y = y + 0.01 * v
        if y > 3.0:
            break
    return y * y + v


def calls_function_with_loops(k, y0):
    first = _integrate(k, y0, 0.0, 50)
    return first + _integrate(k * 0.5, y0, 1.0, 30)


def loop_branch_write_combination(x, w):
    out = np.zeros(len(x))
    total = 0.0
    for i in range(len(x)):
        for j in range(2):
            if x[i] * w > j:
                out[i] = out[i] + x[i] * w
            else:
                total = total + np.tanh(x[i] * w)
    return np.sum(out) + total


def _polar(x, y):
    r = np.sqrt(x * x + y * y)
    return r, np.arctan2(y, x)


def unpacks_a_returned_tuple(x, y):
    r, th = _polar(x, y)
    return r * np.sin(th) + r


def _rnn_step(h, x, W):
    h2 = np.tanh(W @ h + x)
    return h2, np.sum(h2)


def rnn_over_rows(W, xs):
    h = np.zeros(W.shape[0])
    total = 0.0
    for x in xs:
        h, s = _rnn_step(h, x, W)
        total = total + s
    return total


def appends_to_a_list(x, n):
    hs = []
    h = x
    for i in range(n):
        h = np.sin(h) * 1.1
        hs.append(h)
    return np.sum(np.stack(hs))


def interleaved_appends_and_reads(x, n):
    hs = [x]
    for i in range(n):
        hs.append(np.tanh(hs[-1] * 1.5) + hs[0] * 0.1)
    return np.sum(np.array(hs) ** 2)


def states_in_a_list(W, x, n):
    states = []
    h = x
    for i in range(n):
        h = np.tanh(W @ h)
        states.append(h)
    total = 0.0
    for s in states:
        total = total + np.sum(s * s)
    if n > 2:
        total = total + np.sum(states[1])
    return total + np.sum(np.concatenate(states))


def copies_an_appended_list(x):
    hs = [x]
    other = hs
    other.append(x * 2.0)
    return np.sum(np.array(hs))


def empty_branches_and_loops(x, n):
    if x > 0:
        pass
    else:
        x = x * 2.0
    for i in range(n):
        pass
    while x > 100.0:
        pass
    return x * x
