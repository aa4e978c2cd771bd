"""Train the two-layer net of background.md §3 on handwritten digits with minibatch SGD.

The network is the notes' ``hidden = np.maximum(0, X.dot(W1) + b1)``, ``scores =
hidden.dot(W2) + b2``, with a softmax cross-entropy loss on top, written as plain NumPy.
``adjoint.value_and_grad`` turns it into a function that returns the loss and its
gradient with respect to the weights and biases (by name) from one sweep; the training
loop is ordinary SGD. The data are scikit-learn's 8x8 digits
(1,797 images, shipped with scikit-learn: nothing is downloaded).

Run:   python examples/digits_sgd.py [--quick] [--plot PATH]
Needs: pip install -e ".[examples]"  (scikit-learn and matplotlib)

It prints the loss and accuracy after each epoch, the final train and test accuracy, and
saves the loss curve as a PNG (``digits_loss.png`` next to this script, or PATH, or
``$ADJOINT_EXAMPLES_PLOT``). ``--quick`` (or ``ADJOINT_EXAMPLES_QUICK=1``) trains for five
epochs only.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _options import add_quick_option, plot_from_environment
from threadpoolctl import threadpool_limits

from adjoint import check_grad, value_and_grad

HIDDEN = 64
EPOCHS, QUICK_EPOCHS = 20, 5
BATCH = 32
LEARNING_RATE = 0.1
WEIGHT_DECAY = 1e-4


def loss(W1, b1, W2, b2, X, Y):
    """Mean softmax cross-entropy of the two-layer ReLU net; Y holds one-hot labels."""
    hidden = np.maximum(0, X.dot(W1) + b1)
    scores = hidden.dot(W2) + b2
    # subtract each row's maximum before exp: the same softmax, without overflow
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    data_loss = -np.sum(Y * log_probs) / X.shape[0]
    return data_loss + 0.5 * WEIGHT_DECAY * (np.sum(W1 * W1) + np.sum(W2 * W2))


def predict(params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    hidden = np.maximum(0, X.dot(params["W1"]) + params["b1"])
    return np.argmax(hidden.dot(params["W2"]) + params["b2"], axis=1)


def accuracy(params: dict[str, np.ndarray], X: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predict(params, X) == labels))


def load_data(seed: int = 0):
    """The digits, scaled to [0, 1], split 80/20 into train and test sets."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = digits.data / 16.0  # pixel intensities are 0..16
    return train_test_split(X, digits.target, test_size=0.2, random_state=seed,
                            stratify=digits.target)


def init_params(n_in: int, n_out: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    # He initialisation suits the ReLU layer
    return {"W1": rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, HIDDEN)), "b1": np.zeros(HIDDEN),
            "W2": rng.normal(0.0, np.sqrt(1.0 / HIDDEN), (HIDDEN, n_out)), "b2": np.zeros(n_out)}


def train(X, labels, epochs: int, rng: np.random.Generator, on_epoch=None):
    """Minibatch SGD; returns the parameters and the loss of every step."""
    names = ("W1", "b1", "W2", "b2")
    params = init_params(X.shape[1], 10, rng)
    Y = np.eye(10)[labels]
    loss_and_gradient = value_and_grad(loss, wrt=names)  # one sweep gives both
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), BATCH):
            batch = order[start:start + BATCH]
            args = [params[n] for n in names]
            value, grads = loss_and_gradient(*args, X[batch], Y[batch])
            losses.append(value)
            for name, g in zip(names, grads):
                params[name] -= LEARNING_RATE * g
        if on_epoch is not None:
            on_epoch(epoch, params, float(np.mean(losses[-(len(X) // BATCH):])))
    return params, losses


def save_plot(losses: list[float], steps_per_epoch: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    steps = np.arange(len(losses))
    window = min(steps_per_epoch, len(losses))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps / steps_per_epoch, losses, color="0.75", lw=0.8, label="minibatch loss")
    ax.plot((steps[window - 1:]) / steps_per_epoch, smooth, color="C0",
            label="moving average (one epoch)")
    ax.set(xlabel="epoch", ylabel="loss (cross-entropy + weight decay)", yscale="log",
           title="Two-layer ReLU net on scikit-learn digits: SGD with adjoint")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick_option(parser, f"train {QUICK_EPOCHS} epochs instead of {EPOCHS}")
    default_plot = plot_from_environment() or Path(__file__).with_name("digits_loss.png")
    parser.add_argument("--plot", type=Path, default=default_plot,
                        help="where to save the loss curve (default: %(default)s)")
    return parser.parse_args()


def main() -> None:
    options = parse_args()
    rng = np.random.default_rng(0)
    X_train, X_test, y_train, y_test = load_data()
    print(f"digits: {len(X_train)} training and {len(X_test)} test images of 8x8 pixels")

    # the generated gradient, checked once against finite differences on a small batch
    probe = init_params(X_train.shape[1], 10, rng)
    error = check_grad(loss, probe["W1"], probe["b1"], probe["W2"], probe["b2"],
                       X_train[:5], np.eye(10)[y_train[:5]], wrt=("W1", "b1", "W2", "b2"))
    print(f"check_grad on 5 images: largest error {error:.1e}")

    def report(epoch: int, params, mean_loss: float) -> None:
        print(f"epoch {epoch + 1:2d}  loss {mean_loss:.4f}  "
              f"train {accuracy(params, X_train, y_train):.1%}  "
              f"test {accuracy(params, X_test, y_test):.1%}")

    epochs = QUICK_EPOCHS if options.quick else EPOCHS
    start = time.perf_counter()
    # one BLAS thread: for 32x64 products threads only add synchronisation (and spin idly)
    with threadpool_limits(limits=1):
        params, losses = train(X_train, y_train, epochs, rng, report)
    seconds = time.perf_counter() - start
    steps_per_epoch = -(-len(X_train) // BATCH)
    print(f"{len(losses)} SGD steps in {seconds:.1f} s "
          f"({1e3 * seconds / len(losses):.2f} ms a step: loss, gradient and update)")
    print(f"train accuracy: {accuracy(params, X_train, y_train):.1%}")
    print(f"test accuracy: {accuracy(params, X_test, y_test):.1%}")
    save_plot(losses, steps_per_epoch, options.plot)
    print(f"loss curve saved to {options.plot}")


if __name__ == "__main__":
    main()
