"""W4: two-layer MLP (ReLU) with softmax cross-entropy, D=784 H=100 C=10."""
import numpy as np

TITLE = "two-layer MLP, softmax CE"
REFERENCE = "numpy"
LOOPS = False
MEMORY = True


def variants(quick):
    return ["batch=64"] if quick else ["batch=64", "batch=4096"]


def setup(variant):
    n = int(variant.split("=")[1])
    rng = np.random.default_rng(4)
    d, h, c = 784, 100, 10
    W1 = rng.standard_normal((d, h)) * 0.05
    b1 = rng.standard_normal(h) * 0.1
    W2 = rng.standard_normal((h, c)) * 0.1
    b2 = rng.standard_normal(c) * 0.1
    X = rng.standard_normal((n, d))
    Y = np.eye(c)[rng.integers(0, c, n)]
    return (W1, b1, W2, b2, X, Y), (0, 1, 2, 3)


def primal(W1, b1, W2, b2, X, Y):
    hidden = np.maximum(0, X @ W1 + b1)
    scores = hidden @ W2 + b2
    m = np.max(scores, axis=1, keepdims=True)
    shifted = scores - m
    logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(Y * logp) / X.shape[0]


def grad_numpy(W1, b1, W2, b2, X, Y):
    hidden = np.maximum(0, X @ W1 + b1)
    scores = hidden @ W2 + b2
    e = np.exp(scores - np.max(scores, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    dscores = (p - Y) / X.shape[0]
    dW2 = hidden.T @ dscores
    db2 = np.sum(dscores, axis=0)
    dhidden = dscores @ W2.T
    dhidden[hidden <= 0] = 0
    dW1 = X.T @ dhidden
    db1 = np.sum(dhidden, axis=0)
    return dW1, db1, dW2, db2


def numba_impl():
    import numba

    @numba.njit
    def forward(W1, b1, W2, b2, X):
        hidden = np.maximum(X @ W1 + b1, 0.0)
        scores = hidden @ W2 + b2
        for i in range(scores.shape[0]):
            scores[i] -= scores[i].max()
        e = np.exp(scores)
        s = e.sum(axis=1)
        return hidden, scores, e, s

    @numba.njit
    def primal_nb(W1, b1, W2, b2, X, Y):
        hidden, scores, e, s = forward(W1, b1, W2, b2, X)
        logp = scores - np.log(s).reshape(-1, 1)
        return -np.sum(Y * logp) / X.shape[0]

    @numba.njit
    def grad_nb(W1, b1, W2, b2, X, Y):
        hidden, scores, e, s = forward(W1, b1, W2, b2, X)
        dscores = (e / s.reshape(-1, 1) - Y) / X.shape[0]
        dW2 = hidden.T @ dscores
        db2 = dscores.sum(axis=0)
        dhidden = dscores @ W2.T
        dhidden *= hidden > 0
        dW1 = X.T @ dhidden
        db1 = dhidden.sum(axis=0)
        return dW1, db1, dW2, db2

    return primal_nb, grad_nb


def generic(np):
    """autograd and JAX: the same code with their NumPy."""

    def f(W1, b1, W2, b2, X, Y):
        hidden = np.maximum(0, X @ W1 + b1)
        scores = hidden @ W2 + b2
        m = np.max(scores, axis=1, keepdims=True)
        shifted = scores - m
        logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        return -np.sum(Y * logp) / X.shape[0]

    return f


autograd_impl = jax_impl = generic


def torch_impl(torch):
    def f(W1, b1, W2, b2, X, Y):
        hidden = torch.relu(X @ W1 + b1)
        scores = hidden @ W2 + b2
        logp = torch.log_softmax(scores, dim=1)
        return -torch.sum(Y * logp) / X.shape[0]

    return f
