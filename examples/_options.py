"""Options every example script shares: quick mode and where a plot goes.

``--quick`` or ``ADJOINT_EXAMPLES_QUICK`` turns quick mode on: ``1``, ``true``, ``yes`` or
``on`` (any case) mean on; unset, empty, ``0``, ``false``, ``no`` or ``off`` mean off;
anything else is an error, so a typo cannot silently pick either. ``ADJOINT_EXAMPLES_PLOT``
names the file a script saves its plot to, when ``--plot`` does not.
"""
from __future__ import annotations

import argparse
import os

ON = {"1", "true", "yes", "on"}
OFF = {"", "0", "false", "no", "off"}


def quick_from_environment() -> bool:
    """Whether ``ADJOINT_EXAMPLES_QUICK`` asks for quick mode."""
    value = os.environ.get("ADJOINT_EXAMPLES_QUICK", "").strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    raise SystemExit(f"ADJOINT_EXAMPLES_QUICK={value!r}: use 1/true/yes/on for quick mode, "
                     "0/false/no/off (or leave it unset) for the full run")


def add_quick_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--quick``, on by default when ``ADJOINT_EXAMPLES_QUICK`` says so."""
    parser.add_argument("--quick", action="store_true", default=quick_from_environment(),
                        help=f"{what} (also ADJOINT_EXAMPLES_QUICK=1)")


def plot_from_environment() -> str | None:
    """The plot path ``ADJOINT_EXAMPLES_PLOT`` gives, or None."""
    return os.environ.get("ADJOINT_EXAMPLES_PLOT") or None
