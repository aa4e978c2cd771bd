"""The worked examples of background.md, with their exact numbers."""
import math

import numpy as np
import pytest

from adjoint import check_grad, grad, value_and_grad


# -- §2: f(x, y, z) = x + y * z ---------------------------------------------------------------
def gate_example(x, y, z):
    q = y * z
    f = x + q
    return f


def test_gate_patterns_add_and_multiply():
    value, grads = value_and_grad(gate_example, wrt=(0, 1, 2))(-2.0, 5.0, -4.0)
    assert value == -22.0
    assert grads == (1.0, -4.0, 5.0)


def fan_out(x):
    return x * x + x  # x used three times: the adjoints of the uses are summed


def test_fan_out_sums_adjoints():
    assert grad(fan_out)(3.0) == 7.0


def max_gate(x, y):
    return max(x, y) * 2.0


def test_max_gate_routes_gradient_to_larger_input():
    assert grad(max_gate, wrt=(0, 1))(3.0, -1.0) == (2.0, 0.0)
    assert grad(max_gate, wrt=(0, 1))(-3.0, 1.0) == (0.0, 2.0)


# -- §3: the sigmoid chain --------------------------------------------------------------------
def sigmoid_chain(x):
    a = x + 1
    b = a * 2
    c = -b
    d = c + 1
    e = d * 2
    f = 1.0 / (1.0 + math.exp(-e))
    return f


def test_sigmoid_chain_exact():
    f = 1.0 / (1.0 + math.exp(14.0))  # x = 3 gives e = -14
    value, dx = value_and_grad(sigmoid_chain)(3.0)
    assert value == pytest.approx(f, rel=1e-15)
    assert dx == pytest.approx(-4.0 * f * (1.0 - f), rel=1e-12)  # de = df f (1 - f), dx = -4 de
    assert check_grad(sigmoid_chain, 3.0) < 1e-6


# -- §4: vectorised rules without Jacobians ---------------------------------------------------
def relu_layer(x, upstream):
    return np.sum(upstream * np.maximum(0, x))


def test_relu_example():
    dx = grad(relu_layer)(np.array([1.0, -2.0, 3.0, -1.0]), np.array([4.0, -1.0, 5.0, 9.0]))
    np.testing.assert_array_equal(dx, [4.0, 0.0, 5.0, 0.0])


def matmul_probe(X, W, G):
    return np.sum(G * X.dot(W))


def test_matrix_product_rule_is_dY_WT_and_XT_dY():
    rng = np.random.default_rng(0)
    X, W, G = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    dX, dW = grad(matmul_probe, wrt=(0, 1))(X, W, G)
    np.testing.assert_allclose(dX, G @ W.T, rtol=1e-12)
    np.testing.assert_allclose(dW, X.T @ G, rtol=1e-12)


def broadcast_bias(x, b):
    return np.sum(np.sin(x + b))


def test_broadcasting_sums_over_broadcast_axes():
    x, b = np.ones((4, 3)), np.array([0.1, 0.2, 0.3])
    db = grad(broadcast_bias, wrt=1)(x, b)
    np.testing.assert_allclose(db, 4 * np.cos(1 + b), rtol=1e-12)


# -- §5: the fully worked linear network ------------------------------------------------------
def linear_network(W0, W1, x, y):
    z1 = W0.dot(x)
    z2 = W1.dot(z1)
    r = y - z2
    return 0.5 * np.sum(r * r)


def test_linear_network_exact_numbers():
    W0 = np.array([[0.0, 1.0, -1.0], [2.0, 0.0, 1.0]])
    W1 = np.array([[-1.0, 0.0], [2.0, -1.0]])
    x, y = np.array([1.0, 0.0, -1.0]), np.array([0.0, 1.0])
    value, (dW0, dW1, dx) = value_and_grad(linear_network, wrt=(0, 1, 2))(W0, W1, x, y)
    assert value == 0.5
    np.testing.assert_array_equal(dW0, [[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(dW1, [[-1.0, -1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(dx, [0.0, 1.0, -1.0])


# -- the two-layer net with a softmax loss, against its hand-written backward ----------------
def two_layer_softmax(W1, b1, W2, b2, X, y):
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(X.shape[0]), y])


def two_layer_by_hand(W1, b1, W2, b2, X, y):
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    dscores = probs
    dscores[np.arange(len(y)), y] -= 1
    dscores /= len(y)
    dW2 = hidden.T.dot(dscores)
    db2 = np.sum(dscores, axis=0)
    dhidden = dscores.dot(W2.T)
    dhidden[hidden <= 0] = 0
    dW1 = X.T.dot(dhidden)
    db1 = np.sum(dhidden, axis=0)
    return dW1, db1, dW2, db2


def test_two_layer_net_matches_hand_written_backward():
    rng = np.random.default_rng(1)
    N, D, H, C = 8, 5, 6, 3
    params = [rng.normal(size=(D, H)), rng.normal(size=H), rng.normal(size=(H, C)),
              rng.normal(size=C)]
    X, y = rng.normal(size=(N, D)), np.array([0, 2, 1, 1, 0, 2, 2, 1])  # repeated labels
    ours = grad(two_layer_softmax, wrt=(0, 1, 2, 3))(*params, X, y)
    for mine, theirs in zip(ours, two_layer_by_hand(*params, X, y)):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


# -- the multiclass SVM loss -----------------------------------------------------------------
def svm_loss(W, x, y):
    scores = W.dot(x)
    margins = np.maximum(0, scores - scores[y] + 1) * (np.arange(W.shape[0]) != y)
    return np.sum(margins)


def svm_by_hand(W, x, y):
    scores = W.dot(x)
    margins = np.maximum(0, scores - scores[y] + 1)
    margins[y] = 0
    dscores = np.zeros_like(scores)
    dscores[margins > 0] = 1
    dscores[y] -= np.sum(margins > 0)
    return np.outer(dscores, x)


def test_svm_loss_matches_hand_written_backward():
    rng = np.random.default_rng(2)
    W, x = rng.normal(size=(4, 6)), rng.normal(size=6)
    for label in range(4):
        np.testing.assert_allclose(grad(svm_loss)(W, x, label), svm_by_hand(W, x, label),
                                   rtol=1e-12)
