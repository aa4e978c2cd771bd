"""A module with its own sum: desugar must not take it for the builtin."""


def sum(values):  # noqa: A001
    total = 0.0
    for v in values:
        total = total + 2.0 * v
    return total


def calls_a_sum_of_its_module(x):
    return sum(x)
