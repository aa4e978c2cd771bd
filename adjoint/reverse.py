"""TRANSFORM (reverse mode): from a normalized function to its flat adjoint.

The generated function replays the primal (the *forward sweep*), saving a variable's old
value only where the forward sweep overwrites something the backward sweep will read, then
walks the statements in reverse (the *backward sweep*), one rule per statement. Branches
are re-taken from their recorded conditions; loops run backwards over the same indices
(or a recorded trip count); values overwritten inside a loop go on one stack per variable.

The work is split by stage: ``prepare`` (prepare.py) normalizes and analyzes, the backward
sweep (backward.py for statements, control.py for blocks) generates adjoint code, the save
planner (saves.py) decides what the forward sweep keeps, and the assembler (assemble.py)
lays both sweeps out. This module runs them for one function and collects the functions of
one adjoint module.
"""
from __future__ import annotations

import ast
import copy
import types
from dataclasses import dataclass, field

from . import checkpoint, optimize
from .assemble import Assembler
from .control import BackwardSweep
from .errors import UnsupportedSyntaxError
from .ir import assign, assigned_in, call, comment, name, primal_reads
from .kinds import keep_kinds_only
from .names import Namer
from .prepare import make_namer, prepare
from .resolve import Op, atom_names
from .saves import SavePlanner
from .shapes import keep_shapes_only
from .source import Source, parse


@dataclass
class AdjointFunction:
    """One generated function of the adjoint module."""

    name: str
    tree: ast.FunctionDef
    source: Source
    wrt: tuple[str, ...]
    returns_value: bool
    cotangent: str  # the name of its upstream-gradient parameter (dout)
    outputs: int = 1  # a function returning a tuple takes a tuple of cotangents


@dataclass
class AdjointModule:
    """The adjoint of a user function, plus adjoints of the user functions it calls."""

    functions: list[AdjointFunction] = field(default_factory=list)
    # (source, dotted name, function) for every user function the code calls by name
    dependencies: list = field(default_factory=list)
    _by_key: dict = field(default_factory=dict)
    _building: list = field(default_factory=list)
    namer: Namer = field(default_factory=Namer)
    # built for jit=True: indices pre-bound to None are read through ``assigned``
    jit: bool = False

    @property
    def main(self) -> AdjointFunction:
        return self.functions[0]

    def adjoint_of(self, fn: types.FunctionType, wrt: tuple[str, ...],
                   returns_value: bool, call_site=None,
                   scalars: frozenset[str] = frozenset(),
                   floats: frozenset[str] = frozenset()) -> AdjointFunction:
        return build_once(self, (fn, wrt, returns_value, scalars, floats), fn, call_site,
                          lambda: ReverseBuilder(parse(fn), wrt, returns_value, self, scalars,
                                                  floats).build())


def build_once(module, key, fn: types.FunctionType, call_site, make):
    """The generated function for ``key`` in ``module`` (an adjoint or a tangent module),
    made by ``make()`` the first time. Callers come before callees in the module, and a
    function that reaches itself again while being built is recursion: refused."""
    if key in module._by_key:
        return module._by_key[key]
    if fn in module._building:
        raise UnsupportedSyntaxError(
            f"recursive call to {fn.__name__}: recursion is not supported",
            call_site, "write the recursion as a loop")
    module._building.append(fn)
    try:
        slot = len(module.functions)
        module.functions.append(None)  # keep the caller first in the module
        built = make()
        module.functions[slot] = built
        module._by_key[key] = built
        return built
    finally:
        module._building.pop()


def build_module(fn: types.FunctionType, wrt: tuple[str, ...],
                 scalars: frozenset[str] = frozenset(),
                 floats: frozenset[str] = frozenset(), jit: bool = False) -> AdjointModule:
    """The adjoint module of ``fn`` with respect to the named parameters; ``scalars``
    names parameters known to be scalars; ``jit``: the text is for Numba."""
    module = AdjointModule(jit=jit)
    module.adjoint_of(fn, wrt, returns_value=True, scalars=scalars, floats=floats)
    return module


class ReverseBuilder:
    """Builds one adjoint function: prepare (prepare.py), then the backward chunks
    (control.py), the saves they need (saves.py), and both sweeps laid out (assemble.py)."""

    def __init__(self, src: Source, wrt: tuple[str, ...], returns_value: bool,
                 module: AdjointModule, scalars: frozenset[str] = frozenset(),
                 floats: frozenset[str] = frozenset()):
        self.src, self.wrt, self.returns_value, self.module = src, wrt, returns_value, module
        self.scalars, self.floats = scalars, floats

    # -- pipeline ----------------------------------------------------------------------------
    def build(self) -> AdjointFunction:
        namer = make_namer(self.src, [])
        self.p = p = prepare(self.src, self.wrt, namer, self.module.dependencies,
                             scalars=self.scalars, floats=self.floats)
        self.split_checkpointed_loops()
        self.planner = SavePlanner(p)
        self.assembler = Assembler(p, self.planner)
        self.sweep = BackwardSweep(p, self.module, self.assembler.rerun_block,
                                   self.planner.rerun_arrays)
        for var in p.params + p.user_variables():
            self.sweep.adjoint(var)  # adjoint names in reading order, before anything else
        fn_name = self.function_name()
        cotangent = namer.fresh("dout")
        tree = self.assemble(fn_name, cotangent)
        tree = optimize.propagate_copies(tree, namer.adjoint_names())
        tree = optimize.drop_unread_saves(tree, set(self.planner.stacks))
        tree = optimize.drop_default_arguments(optimize.renumber_temporaries(tree, namer))
        outputs = len(p.returned.elts) if isinstance(p.returned, ast.Tuple) else 1
        return AdjointFunction(fn_name, tree, self.src, self.wrt, self.returns_value, cotangent,
                               outputs)

    def split_checkpointed_loops(self) -> None:
        """Each checkpointed loop becomes a loop over segments whose body runs one segment
        (see checkpoint.py); its loop bounds carry no derivative."""
        p = self.p
        p.body, added = checkpoint.expand(p.body, p.namer, p.src)
        for stmt in added:
            p.ops[stmt] = Op("zero", "checkpoint bounds")
        p.locals |= assigned_in(p.body)

    def function_name(self) -> str:
        """``d<name>``; a second variant of a helper (other wrt) says which it is."""
        base, namer = self.src.name, self.p.namer
        candidates = [f"d{base}", f"{base}_adjoint"]
        if self.module.namer.is_taken(f"d{base}") or not self.returns_value:
            candidates.insert(1, f"d{base}_wrt_{'_'.join(self.wrt)}")
        for candidate in candidates:
            if not namer.is_taken(candidate) and not self.module.namer.is_taken(candidate):
                self.module.namer.reserve(candidate)
                namer.reserve(candidate)
                return candidate
        chosen = self.module.namer.fresh(f"{base}_adjoint")
        namer.reserve(chosen)
        return chosen

    # -- assembling the function -------------------------------------------------------------
    def assemble(self, fn_name: str, cotangent: str) -> ast.FunctionDef:
        p, sweep, planner = self.p, self.sweep, self.planner
        seed = self.seed(cotangent)
        chunks = sweep.gen_block(p.body)
        keep_shapes_only(p, chunks)
        keep_kinds_only(p, chunks)
        epilogue = [assign(sweep.adjoint(w), call("zeros_like", name(w)))
                    for w in p.wrt if w not in sweep.live]
        planner.plan_block(chunks, primal_reads(epilogue, p.locals), None, set(p.params), 0)
        forward = [assign(s, ast.List(elts=[], ctx=ast.Load())) for s in planner.stacks]
        forward += [assign(v, ast.Constant(None)) for v in sorted(planner.unbound)]
        forward += self.assembler.forward_block(p.body)
        chunks_code = self.assembler.backward_block(chunks)
        if self.module.jit and planner.unbound:
            forward, chunks_code = (read_assigned(code, planner.unbound)
                                    for code in (forward, chunks_code))
        value = p.returned
        if set(atom_names(p.returned)) & planner.restored:
            keep = p.namer.fresh("value")  # the backward sweep rewinds the result: keep it
            forward.append(assign(keep, copy.deepcopy(p.returned)))
            value = name(keep)
        grads = [name(sweep.adjoint(w)) for w in self.p.wrt]
        grad_expr = grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        out = grad_expr
        if self.returns_value:
            out = ast.Tuple(elts=[value, grad_expr], ctx=ast.Load())
        body = ([comment("forward sweep")] + forward + [comment("backward sweep")] + seed +
                chunks_code + epilogue + [ast.Return(value=out)])
        return ast.fix_missing_locations(self.signature(fn_name, cotangent, body))

    def seed(self, cotangent: str) -> list[ast.stmt]:
        """The adjoint of the returned value is the cotangent (one per element of a tuple)."""
        if isinstance(self.p.returned, ast.Tuple):
            names = [e.id if isinstance(e, ast.Name) else None for e in self.p.returned.elts]
            if None not in names and len(set(names)) == len(names) and all(
                    self.p.is_active(n) for n in names):
                self.sweep.live.update(names)
                targets = [name(self.sweep.adjoint(n), store=True) for n in names]
                return [assign(ast.Tuple(elts=targets, ctx=ast.Store()), name(cotangent))]
        return self.sweep.accumulate(copy.deepcopy(self.p.returned), name(cotangent))

    def signature(self, fn_name: str, cotangent: str, body: list[ast.stmt]) -> ast.FunctionDef:
        args = copy.deepcopy(self.src.tree.args)
        if args.kwonlyargs:
            args.kwonlyargs.append(ast.arg(arg=cotangent))
            args.kw_defaults.append(ast.Constant(1.0))
        else:
            args.args.append(ast.arg(arg=cotangent))
            args.defaults.append(ast.Constant(1.0))
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            a.annotation = None
        fn = ast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[], returns=None,
                             type_comment=None)
        if hasattr(fn, "type_params"):
            fn.type_params = []
        return fn


class _AssignedIndices(ast.NodeTransformer):
    """``dout[t1]`` -> ``dout[assigned(t1)]`` for the names in ``unbound``, in indices
    (subscripts, and tuples: the indices passed to helpers), and ``t1 == m`` ->
    ``assigned(t1) == m`` in comparisons (Numba types ``==`` and ``!=`` on an Optional
    as a test for None, a bool, which does not unify with an array's comparison)."""

    def __init__(self, unbound: set[str]):
        self.unbound = unbound
        self.in_index = 0

    def visit_Compare(self, node: ast.Compare) -> ast.Compare:
        ordering = all(isinstance(op, (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE))
                       for op in node.ops)
        self.in_index += ordering  # (``is None`` tests keep the Optional)
        node = self.generic_visit(node)
        self.in_index -= ordering
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.Subscript:
        node.value = self.visit(node.value)
        self.in_index += 1
        node.slice = self.visit(node.slice)
        self.in_index -= 1
        return node

    def visit_Tuple(self, node: ast.Tuple) -> ast.Tuple:
        # an index passed to a helper: ``clear_at(dout, (i, col))``
        self.in_index += isinstance(node.ctx, ast.Load)
        node.elts = [self.visit(e) for e in node.elts]
        self.in_index -= isinstance(node.ctx, ast.Load)
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if self.in_index and node.id in self.unbound and isinstance(node.ctx, ast.Load):
            return call("assigned", node)
        return node


def read_assigned(code: list[ast.stmt], unbound: set[str]) -> list[ast.stmt]:
    """Under jit, index reads and comparisons of variables pre-bound to None go through
    ``assigned`` (runtime.py): Numba types such a variable ``Optional`` and has no array
    indexing at an Optional; NumPy would take a None index as a new axis, never reached
    here. Such reads happen where the variable has been assigned."""
    transformer = _AssignedIndices(unbound)
    return [transformer.visit(stmt) for stmt in code]
