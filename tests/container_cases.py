"""Functions taking and building containers, for test_containers.py (they need a file)."""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

import adjoint


def mlp_dict(params, X, y):
    h = np.tanh(X @ params["W1"] + params["b1"])
    out = h @ params["W2"] + params["b2"]
    return np.mean((out - y) ** 2)


def layers_list(layers, x):
    h = x
    for W, b in layers:
        h = np.tanh(h @ W + b)
    return np.sum(h ** 2) + 0.1 * sum(np.sum(W * W) for W, b in layers)


def nested_dict(params, x):
    enc = params["enc"]
    s = enc["scale"] * np.sum(np.sin(enc["W"] @ x))
    return s + params["bias"] ** 2 + len(params)


def tuple_param(p, x):
    a, (b, c) = p
    return np.sum(a * x) * b + np.sum(c ** 2)


class Affine(NamedTuple):
    W: np.ndarray
    s: float


@dataclass
class Model:
    W: np.ndarray
    steps: int
    name: str


def namedtuple_param(p, x):
    return np.sum(np.sin(p.W @ x) * p.s) + p[1]


def dataclass_param(m, x):
    y = m.W @ x
    for _ in range(m.steps):
        y = np.sin(y)
    return np.sum(y)


def items_loop(params, x):
    total = 0.0
    for k, v in params.items():
        total = total + np.sum(v * x)
    for i, v in enumerate(params.values()):
        total = total + i * np.sum(v ** 2)
    return total


def built_inside(a, b):
    p = (a, b, a * b)
    x, y, z = p
    d = dict(u=x, v=y)
    e = {"w": z, "d": d}
    return np.sum(e["d"]["u"] * e["w"] + d["v"])


def dict_comprehension(params, x):
    scaled = {k: 2.0 * v for k, v in params.items()}
    return np.sum(scaled["a"] * x) + np.sum(scaled["b"] ** 2)


def carried_leaves(params, x):
    y = params["W"] * x
    for _ in range(params["n"]):
        y = np.cos(y)
    return np.sum(y) + params["eps"]


def second_arg_container(x, params):
    return np.sum(np.exp(params[0] * x) * params[1])


def negative_index(layers, x):
    return np.sum(layers[-1] * x) + np.sum(layers[0])


# -- refused ---------------------------------------------------------------------------------
def computed_key(params, k):
    return np.sum(params[k])


def passed_whole(params, x):
    return np.sum(np.stack(params) * x)


def passed_to_helpers(params, x):
    h = layer(params["l1"], x)
    return np.sum(layer(params["l2"], h) ** 2) + penalty(x, scale=0.5, weights=params["l1"])


def layer(p, h):
    W, b = p
    return np.tanh(W @ h + b)


def penalty(x, weights, scale=1.0):
    return scale * sum(np.sum(w * w) for w in weights) * np.sum(x)


def missing_key(params, x):
    return np.sum(params["W3"] * x)


def dict_with_variable_key(a, b, key):
    d = {"a": a, "b": b}
    return np.sum(d[key])


def namedtuple_like_pair(p, x):
    return np.sum(p.a * x) * p.b


def vector_output(params, x):
    return np.tanh(params["W"] @ x) * params["s"]


def quadratic(params, x):
    return np.sum((params["W"] @ x) ** 2) * params["s"] + params["s"] ** 3


# -- objects and methods -----------------------------------------------------------------------
class Regression:
    """A plain class: its state is read, never differentiated."""

    def __init__(self, W, y, scale):
        self.W, self.y, self.scale = W, y, scale

    def loss(self, x):
        return np.sum((self.W @ x - self.y) ** 2) * self.scale

    def calls_a_method(self, x):
        return self.loss(x) * 2.0


@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray
    name: str = "linear"

    def loss(self, x):
        return np.sum(np.tanh(self.W @ x + self.b) ** 2)


class Config:
    lr = 0.5  # a class attribute

    def __init__(self):
        self.params = {"w": np.array([1.0, 2.0])}


def uses_config(cfg, x):
    return np.sum(cfg.params["w"] * x) * cfg.lr


# -- nested functions and lambdas ------------------------------------------------------------------
def nested_def(x, a, n):
    def step(s):
        return np.sin(s) * a
    y = x
    for _ in range(n):
        y = step(y)
    return np.sum(y)


def lambda_and_def_calling_it(x, a):
    scale = lambda v: v * a  # noqa: E731 - the point of the test
    def both(v, k=2.0):
        return scale(v) ** k
    return np.sum(both(x) + scale(x))


def captured_rebound_after(x, a):
    def f(s):
        return s * a
    y = f(x)
    a = a * 2.0
    return np.sum(y + f(x))


def closure_with_nonlocal(x):
    total = 0.0
    def add(v):
        nonlocal total
        total = total + v
    add(x)
    return total


def nested_passed_as_value(x):
    def f(s):
        return s * 2.0
    return np.sum(apply(f, x))


def apply(g, x):
    return g(x)


def params_through_nested(params, x):
    def layer(h, W, b):
        return np.tanh(h @ W + b)
    h = layer(x, params["W1"], params["b1"])
    return np.sum(layer(h, params["W2"], params["b2"]) ** 2)


def aliased_appended_list(x, n):
    hs = []
    for i in range(n):
        hs.append(x * (i + 1.0))
    ys = hs
    return np.sum(ys[1] * 2.0 + ys[0])


# -- nested differentiation (refused) --------------------------------------------------------------
def inner(x, y):
    return np.sum(np.sin(x) * y)


d_inner = adjoint.grad(inner)


def gradient_object_inside(x, y):
    g = d_inner(x, y)
    return np.sum(g * g)


def gradient_inline_inside(x, y):
    g = adjoint.grad(inner)(x, y)
    return np.sum(g * g)


def nested_def_then_loop_over_items(params, x):  # found by the fuzzer: lift gave the loop an else
    def step(v):
        return np.sin(v) * params["s"]
    total = 0.0
    for k, v in params.items():
        total = total + np.sum(v * x)
    return total + np.sum(step(x))
