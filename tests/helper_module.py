"""A helper in another module, with globals of its own, called from test functions."""
import numpy as np

GAIN = 3.0


def scaled_tanh(x, shift=0.0):
    return np.tanh(x + shift) * GAIN


def helper_for_redefinition(v):
    return v * 2.0


def tripled(v):
    return v * 3.0
