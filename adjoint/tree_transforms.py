"""``jvp``, ``vjp``, ``jacobian``, ``hvp`` and ``hessian`` taking containers (specialize.py).

A call whose arguments hold containers runs the same transform of the function specialized
to their structure, whose parameters are the leaves; what goes in (tangents, vectors) and
what comes out (gradients, Jacobian blocks, Hessian blocks) has the containers' structure:

- tangents (``jvp``) and vectors (``hvp``) for a container argument: a container of the
  same structure (its non-float leaves are ignored; pass None or anything there);
- gradients (``vjp``, ``hvp``): the same structure, None at the non-float leaves;
- ``jacobian``: the same structure holding, for each float leaf, the block of shape
  ``out.shape + leaf.shape``;
- ``hessian``: the structure nested in itself: ``H[a][b]`` (for dict leaves ``a``, ``b``)
  has shape ``a.shape + b.shape``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import specialize, transforms
from .api import signature
from .errors import ArgumentError
from .tiered import JitMode
from .trees import tree_flatten, tree_unflatten


class _Trees:
    """Mixed into each transform: the call is run by an inner transform of the specialized
    function when any argument is a container to flatten."""

    def _flat(self, args: tuple, kwargs: dict):
        try:
            bound = signature(self.fn).bind(*args, **kwargs)
        except TypeError:
            return None, None  # the transform's own call reports it
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        call = specialize.flat_call(self.fn, arguments, self.wrt)
        if call is None:
            return None, None
        inners = self.__dict__.setdefault("_by_structure", {})
        inner = inners.get(call.key)
        if inner is None:
            inner = inners[call.key] = self._inner(call)
        self._last_tree = inner
        return call, inner

    def _inner(self, call: specialize.FlatCall):
        return self.base(call.spec.fn, call.wrt, jit=self.jit)

    def wait_compiled(self, timeout: float | None = None) -> bool:
        inner = [t.wait_compiled(timeout) for t in self.__dict__.get("_by_structure", {}).values()]
        return super().wait_compiled(timeout) and all(inner)

    @property
    def source(self) -> str:
        inner = self.__dict__.get("_last_tree")
        return inner.source if inner is not None else super().source

    def _split(self, call: specialize.FlatCall, values, what: str) -> tuple:
        """Directions given per wrt argument (containers for containers), as one per leaf."""
        items = (values,) if self.single else tuple(values) if isinstance(
            values, (tuple, list)) else None
        if items is None or len(items) != len(self.wrt):
            raise ArgumentError(f"expected one {what} per wrt argument ({len(self.wrt)})",
                                transforms._where(self.fn), self.usage)
        flat = []
        for (name, tree, leaves), value in zip(call.groups, items):
            if tree is None:
                flat.append(value)
                continue
            given, given_tree = tree_flatten(value)
            if given_tree.paths() != tree.paths():
                raise ArgumentError(f"the {what} for {name!r} does not have its structure",
                                    transforms._where(self.fn),
                                    f"pass a {what} shaped like {name} (same keys)")
            chosen = set(call.wrt)
            flat += [g for g, n in zip(given, leaves) if n in chosen]
        return flat[0] if len(flat) == 1 else tuple(flat)


def _as_tuple(values, n: int) -> tuple:
    return (values,) if n == 1 else tuple(values)


class JVP(_Trees, transforms.JVP):
    base = transforms.JVP

    def _call(self, *args, **kwargs):
        if not args:
            return super()._call(*args, **kwargs)
        call, inner = self._flat(args[:-1], kwargs)
        if call is None:
            return super()._call(*args, **kwargs)
        tangents = _as_tuple(self._split(call, args[-1], "tangent"), len(call.wrt))
        return inner.run(call.arguments, tangents)


class VJP(_Trees, transforms.VJP):
    base = transforms.VJP

    def _call(self, *args, **kwargs):
        call, inner = self._flat(args, kwargs)
        if call is None:
            return super()._call(*args, **kwargs)
        value, pullback = inner(**call.arguments)
        return value, TreePullback(pullback, call, self.single)


class TreePullback:
    """A pullback whose gradients have the containers' structure."""

    def __init__(self, inner, call: specialize.FlatCall, single: bool):
        self.inner, self.call, self.single = inner, call, single

    def __call__(self, cotangent):
        grads = self.call.regroup(_as_tuple(self.inner(cotangent), len(self.call.wrt)))
        return grads[0] if self.single else grads


class HVP(_Trees, transforms.HVP):
    base = transforms.HVP

    def _call(self, *args, **kwargs):
        if not args:
            return super()._call(*args, **kwargs)
        call, inner = self._flat(args[:-1], kwargs)
        if call is None:
            return super()._call(*args, **kwargs)
        out = inner.run(call.arguments,
                        _as_tuple(self._split(call, args[-1], "vector"), len(call.wrt)))
        grads = call.regroup(_as_tuple(out, len(call.wrt)))
        return grads[0] if self.single else grads


class Jacobian(_Trees, transforms.Jacobian):
    base = transforms.Jacobian

    def _inner(self, call):
        return transforms.Jacobian(call.spec.fn, call.wrt, mode=self.requested, jit=self.jit)

    def _call(self, *args, **kwargs):
        call, inner = self._flat(args, kwargs)
        if call is None:
            return super()._call(*args, **kwargs)
        blocks = inner(**call.arguments)
        self.mode = inner.mode
        grads = call.regroup(_as_tuple(blocks, len(call.wrt)))
        return grads[0] if self.single else grads

    @property
    def source(self) -> str:
        inner = self.__dict__.get("_last_tree")
        return inner.source if inner is not None else transforms.Jacobian.source.fget(self)


class Hessian(_Trees, transforms.Hessian):
    base = transforms.Hessian

    def _inner(self, call):
        return transforms.HVP(call.spec.fn, call.wrt, jit=self.jit)

    def _call(self, *args, **kwargs):
        call, hvp_ = self._flat(args, kwargs)
        if call is None:
            return super()._call(*args, **kwargs)
        name, tree, leaves = call.groups[0]
        if tree is None:
            return super()._call(*args, **kwargs)
        xs = [np.asarray(call.arguments[n], dtype=float) for n in call.wrt]
        # column j of every block: one hvp along the unit vector of entry j of leaf b
        blocks = [[np.empty(a.shape + b.shape) for b in xs] for a in xs]
        for b, xb in enumerate(xs):
            for j in range(xb.size):
                vs = [np.zeros(x.shape) if x.ndim else 0.0 for x in xs]
                if xb.ndim:
                    vs[b].flat[j] = 1.0
                else:
                    vs[b] = 1.0
                out = _as_tuple(hvp_.run(call.arguments, tuple(vs)), len(xs))
                for a, col in enumerate(out):
                    index = (...,) + (np.unravel_index(j, xb.shape) if xb.ndim else ())
                    blocks[a][b][index] = col
        chosen = {n: i for i, n in enumerate(call.wrt)}
        rows = []
        for n in leaves:
            if n not in chosen:
                rows.append(None)
                continue
            a = chosen[n]
            rows.append(tree_unflatten(tree, [
                _scalar(blocks[a][chosen[m]]) if m in chosen else None for m in leaves]))
        return tree_unflatten(tree, rows)


def _scalar(block: np.ndarray) -> Any:
    return float(block) if block.ndim == 0 else block


def jvp(fn, wrt=0, *, jit: JitMode = False) -> JVP:
    return JVP(fn, wrt, jit=jit)


def vjp(fn, wrt=0, *, jit: JitMode = False) -> VJP:
    return VJP(fn, wrt, jit=jit)


def jacobian(fn, wrt=0, *, mode: str = "auto", jit: JitMode = False) -> Jacobian:
    return Jacobian(fn, wrt, mode=mode, jit=jit)


def hvp(fn, wrt=0, *, jit: JitMode = False) -> HVP:
    return HVP(fn, wrt, jit=jit)


def hessian(fn, wrt=0, *, jit: JitMode = False) -> Hessian:
    return Hessian(fn, wrt, jit=jit)


for _public, _original in ((jvp, transforms.jvp), (vjp, transforms.vjp),
                           (jacobian, transforms.jacobian), (hvp, transforms.hvp),
                           (hessian, transforms.hessian)):
    _public.__doc__ = (_original.__doc__ or "") + (
        "\n\n    Arguments may be containers (see adjoint.tree_transforms).")
