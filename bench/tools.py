"""The tools compared, the module each needs, and how memory is measured for it."""
from __future__ import annotations

import importlib.util

# name: (label, modules that must be importable, memory method)
TOOLS = {
    "adjoint": ("adjoint (Python)", ("adjoint",), "tracemalloc"),
    "adjoint-jit": ("adjoint jit=True", ("adjoint", "numba"), "RSS"),
    "numpy": ("hand NumPy", ("numpy",), "tracemalloc"),
    "numba": ("hand Numba", ("numba",), "RSS"),
    "autograd": ("autograd", ("autograd",), "tracemalloc"),
    "torch": ("PyTorch CPU", ("torch",), "RSS"),
    "jax": ("jax.grad", ("jax",), "RSS"),
    "jax-jit": ("jax.jit(jax.grad)", ("jax",), "RSS"),
    "jax-fori": ("JAX jit, lax.fori_loop rewrite", ("jax",), "RSS"),
}


def missing(tool: str) -> str | None:
    """The first module of ``tool`` that is not installed, or None."""
    for mod in TOOLS[tool][1]:
        if importlib.util.find_spec(mod) is None:
            return mod
    return None
