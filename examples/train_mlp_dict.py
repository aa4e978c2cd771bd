"""Train the two-layer net of background.md §3 with its parameters in a dict.

The network is the notes' ``hidden = np.maximum(0, X.dot(W1) + b1)``, ``scores =
hidden.dot(W2) + b2`` with a softmax cross-entropy loss, written as a function of
``params``, a dict ``{"W1": ..., "b1": ..., "W2": ..., "b2": ...}``, as people keep them.
``adjoint.grad(loss)`` returns the gradient as a dict with the same keys (JAX's
convention), so an SGD step is one dict comprehension. The same loop runs three ways:
``grad``, ``grad(..., jit=True)`` (Numba; the compiled code sees only the arrays) and
``value_and_grad`` (the loss and the gradient from one sweep); they must agree.

The data are three interleaved spirals in the plane (made here with NumPy: nothing is
downloaded), a problem no linear classifier solves.

Run:   python examples/train_mlp_dict.py
It prints the loss every 100 steps, the final training accuracy, and the largest
difference between the three runs' parameters.
"""
from __future__ import annotations

import numpy as np

import adjoint

HIDDEN = 32
STEPS = 300
LEARNING_RATE = 1.0
WEIGHT_DECAY = 1e-3


def loss(params, X, Y):
    """Mean softmax cross-entropy of the two-layer ReLU net; Y holds one-hot labels."""
    hidden = np.maximum(0, X.dot(params["W1"]) + params["b1"])
    scores = hidden.dot(params["W2"]) + params["b2"]
    # -log softmax(scores)[label] = log(sum(exp(scores))) - scores[label], per row (the
    # scores stay small here, so exp needs no shift)
    log_norms = np.log(np.sum(np.exp(scores), axis=1))
    data_loss = (np.sum(log_norms) - np.sum(Y * scores)) / X.shape[0]
    return data_loss + 0.5 * WEIGHT_DECAY * sum(np.sum(W * W) for W in (params["W1"],
                                                                          params["W2"]))


def spirals(points_per_class: int, classes: int, rng: np.random.Generator):
    """The classic toy problem: ``classes`` spiral arms of noisy points."""
    X = np.zeros((points_per_class * classes, 2))
    labels = np.zeros(points_per_class * classes, dtype=int)
    for k in range(classes):
        rows = slice(points_per_class * k, points_per_class * (k + 1))
        radius = np.linspace(0.0, 1.0, points_per_class)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), points_per_class) + rng.normal(
            0.0, 0.2, points_per_class)
        X[rows] = np.c_[radius * np.sin(angle), radius * np.cos(angle)]
        labels[rows] = k
    return X, labels


def init_params(n_in: int, n_out: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"W1": rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, HIDDEN)), "b1": np.zeros(HIDDEN),
            "W2": rng.normal(0.0, np.sqrt(1.0 / HIDDEN), (HIDDEN, n_out)), "b2": np.zeros(n_out)}


def accuracy(params: dict[str, np.ndarray], X: np.ndarray, labels: np.ndarray) -> float:
    hidden = np.maximum(0, X.dot(params["W1"]) + params["b1"])
    return float(np.mean(np.argmax(hidden.dot(params["W2"]) + params["b2"], axis=1) == labels))


def train(step_gradient, params, X, Y, report: bool = False):
    """Plain SGD (full batch): ``params - lr * gradient``, key by key."""
    for step in range(STEPS):
        value, gradient = step_gradient(params, X, Y)
        params = {k: params[k] - LEARNING_RATE * gradient[k] for k in params}
        if report and step % 100 == 0:
            print(f"step {step:4d}  loss {value:.4f}")
    return params


def main() -> None:
    rng = np.random.default_rng(0)
    X, labels = spirals(100, 3, rng)
    Y = np.eye(3)[labels]
    start = init_params(2, 3, rng)

    plain = adjoint.grad(loss)  # a dict in, a dict of gradients out
    compiled = adjoint.grad(loss, jit=True)
    both = adjoint.value_and_grad(loss, wrt="params")

    def with_plain(p, X, Y):
        return loss(p, X, Y), plain(p, X, Y)

    def with_jit(p, X, Y):
        return loss(p, X, Y), compiled(p, X, Y)

    gradient = plain(start, X, Y)
    print("gradient keys and shapes:", {k: v.shape for k, v in gradient.items()})
    trained = train(both, start, X, Y, report=True)
    final = loss(trained, X, Y)
    print(f"final loss {final:.4f}")
    print(f"training accuracy {accuracy(trained, X, labels):.3f}")
    others = [train(with_plain, start, X, Y), train(with_jit, start, X, Y)]
    gap = max(float(np.max(np.abs(o[k] - trained[k]))) for o in others for k in trained)
    print(f"largest difference between grad, jit=True and value_and_grad: {gap:.2e}")
    print("generated code (first lines of the entry taking the dict):")
    source = both.source
    print(source[source.index("def dloss_tree"):].split("\n    value,")[0])


if __name__ == "__main__":
    main()
