"""``x.astype(dtype=t)`` in the code built for jit=True is written ``x.astype(t)``: Numba's
``astype`` takes its dtype by position only (a keyword fails inside Numba's typing with an
AssertionError). The rest of the dtype forms NumPy accepts, Python's own types among them,
compile as they are written (runtime_numba_dtypes.py).
"""
from __future__ import annotations

import ast


def positional_astype(module) -> None:
    """Rewrite every generated function of ``module`` (built for jit=True) in place."""
    for gen in module.functions:
        for node in ast.walk(gen.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "astype" and not node.args:
                node.args = [kw.value for kw in node.keywords if kw.arg == "dtype"]
                node.keywords = [kw for kw in node.keywords if kw.arg != "dtype"]
