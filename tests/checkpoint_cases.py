"""Functions with checkpointed loops, written the way users write them."""
import math
import types

import numpy as np

import adjoint
from adjoint import checkpointed
from adjoint import checkpointed as keep_few


# -- differentiable ---------------------------------------------------------------------------
def recurrence(x, n, k):
    s = 0.0
    for i in adjoint.checkpointed(range(n), snapshots=k):
        s = s * 0.999 + math.sin(x * i + s) * 0.1  # reads s: one value saved per step
    return s


def array_state(x, w, n, k):
    h = x
    for i in checkpointed(range(n), snapshots=k):
        h = np.tanh(w @ h + 0.1 * i)
    return np.sum(h * h)


def elementwise_state(x, w, n, k):
    h = x
    for i in checkpointed(range(n), snapshots=k):
        h = np.tanh(h * w) + 0.1 * i
    return np.sum(h)


def branch_inside(x, n, k):
    s = x
    acc = 0.0
    for i in checkpointed(range(n), snapshots=k):
        if s > 0.3:
            s = math.sin(s * x) + 0.2
        else:
            s = s * s + x
        acc = acc + s * i
    return acc


def data_dependent(x):
    n = int(abs(x) * 10) + 3
    s = 1.0
    for i in checkpointed(range(n), snapshots=int(math.sqrt(n)) + 1):
        s = s * math.tanh(x + i * 0.1)
    return s


def used_after_loop(x, n, k):
    s = x
    last = 0.0
    for i in checkpointed(range(n), snapshots=k):
        last = s * x
        s = math.sin(last) + 0.5
    return s * last


def step(s, x, i):
    if s > 0.5:
        return s * 0.9 + math.sin(x * i) * 0.1
    return s + x * 0.05


def helper_calls(x, n, k):
    s = 0.2
    for i in checkpointed(range(n), snapshots=k):
        s = step(s, x, i)
    return s


def stepped(x, a, b, c, k):
    s = x
    for i in keep_few(range(a, b, c), snapshots=k):
        s = s * math.cos(x * i) + 0.1
    return s


def start_stop(x, a, n, k):
    s = x
    for i in checkpointed(range(a, n), snapshots=k):
        s = math.sin(s * x) + i * 0.01
    return s


def with_continue(x, n, k):
    s = x
    for i in checkpointed(range(n), snapshots=k):
        if i % 3 == 1:
            continue
        s = math.sin(s) * x + 0.1 * i
    return s


def reads_outer_array(x, n, k):
    out = np.zeros(n + 1)
    out[0] = x
    for i in checkpointed(range(1, n + 1), snapshots=k):
        out[i] = out[i - 1] * math.cos(x * i) + 0.1
    return np.sum(out * out)


def writes_outer_array(x, n, k):
    out = np.zeros(n)
    s = x
    for i in checkpointed(range(n), snapshots=k):
        s = math.sin(s * x)
        out[i] = s * s
    return np.sum(out) + s


def owned_array(x, w, n, k):
    h = x
    for i in checkpointed(range(n), snapshots=k):
        z = np.zeros(3)
        z[0] = h[1] * 2
        z[1:] = np.tanh(w @ h)[1:]
        h = z + h * 0.5
    return np.sum(h * h)


def first_bound_inside(x, n, k):
    s = x
    for i in checkpointed(range(n), snapshots=k):
        if i > 0:
            s = s * x + prev  # noqa: F821 - bound by the previous step
        prev = math.sin(s + i)  # noqa: F841 - read by the next step
    return s


def list_made_inside(x, n, k):
    s = x
    for i in checkpointed(range(n), snapshots=k):
        hs = []
        hs.append(s * x)
        hs.append(math.sin(s))
        s = hs[0] + hs[1] * 0.5
    return s


def inside_another_loop(x, n, k):
    s = x
    for epoch in range(3):
        for i in checkpointed(range(n), snapshots=k):
            s = math.sin(s + x * epoch) + 0.01 * i
    return s


def nested(x, n, k):
    s = x
    for j in checkpointed(range(n), snapshots=k):
        for i in checkpointed(range(j + 1), snapshots=2):
            s = math.sin(s * x + i)
    return s


def accumulates_array(x, w, n, k):
    acc = np.zeros(3)
    h = x
    for i in checkpointed(range(n), snapshots=k):
        h = np.tanh(w @ h)
        acc += h * i
    return np.sum(acc * acc)


def ring_buffer(x, n, k):
    buf = np.array([1.0, 2.0, 3.0])
    s = 0.0
    for i in checkpointed(range(n), snapshots=k):
        buf[i % 3] = buf[(i + 1) % 3] * x + s
        s = s + buf[i % 3] * 0.1
    return s + np.sum(buf)


def rebinds_and_writes(x, n, k):
    h = x * 1.0
    for i in checkpointed(range(n), snapshots=k):
        h = h * 0.9
        h[0] = math.sin(h[1]) + x[2]
    return np.sum(h)


def writes_argument(x, n, k):
    for i in checkpointed(range(n), snapshots=k):
        x[i % 3] = x[(i + 2) % 3] * 0.5 + math.cos(x[i % 3])
    return np.sum(x * x)


def while_inside(x, n, k):
    s = x
    for i in checkpointed(range(n), snapshots=k):
        j = 0
        while j < i % 3 + 1:
            s = math.sin(s) * 1.1
            j = j + 1
    return s


def decay(x, n):
    s = x
    for i in adjoint.checkpointed(range(n), snapshots=3):
        s = math.sin(s) * x + 0.1
    return s


def calls_checkpointed_helper(x, n):
    a = decay(x, n)
    b = decay(a, n)
    return a * b


def prints_progress(x, n, k):
    s = x
    for i in checkpointed(range(n), snapshots=k):
        s = math.sin(s) + x
        if i % 2 == 0:
            print("step", i)
    return s


# -- spelled checkpointed, but another function -----------------------------------------------
lookalike = types.SimpleNamespace(checkpointed=lambda it, snapshots: it)


def not_adjoints(x, n):
    s = x
    for i in lookalike.checkpointed(range(n), snapshots=2):
        s = s * x
    return s


# -- refused ----------------------------------------------------------------------------------
def breaks(x, n):
    s = x
    for i in checkpointed(range(n), snapshots=3):
        s = math.sin(s)
        if s > 0.5:
            break
    return s


def returns(x, n):
    s = x
    for i in checkpointed(range(n), snapshots=3):
        s = math.sin(s)
        if s > 0.5:
            return s * 2.0
    return s


def appends_outside(x, n):
    hs = []
    s = x
    for i in checkpointed(range(n), snapshots=3):
        s = math.sin(s)
        hs.append(s)
    return s + hs[0]


def not_a_range(x, n):
    s = x
    for v in adjoint.checkpointed([x, x], snapshots=3):
        s = s * v
    return s


def no_snapshots(x, n):
    s = x
    for i in adjoint.checkpointed(range(n)):
        s = s * x
    return s


def unpacks(x, n):
    s = x
    for i, j in adjoint.checkpointed(range(n), snapshots=2):
        s = s * x
    return s
