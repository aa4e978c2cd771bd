"""TRANSFORM (reverse mode): from a normalized function to its flat adjoint.

The generated function replays the primal (the *forward sweep*), saving a variable's old
value only where the forward sweep overwrites something the backward sweep will read, then
walks the statements in reverse (the *backward sweep*), one rule per statement.

Adjoints are never updated in place: a contribution is ``dx = <value>`` on the first write
and ``dx = dx + <value>`` afterwards. In-place ``+=`` would be unsafe because a first write
such as ``dx = dz`` makes two adjoints share one array.
"""
from __future__ import annotations

import ast
import copy
import inspect
import types
from dataclasses import dataclass, field

from . import optimize
from .analyze import activity
from .errors import ArgumentError, UnsupportedSyntaxError
from .names import Namer, names_in
from .normalize import Normalizer, local_names
from .resolve import Op, Resolver, atom_names
from .source import Source, parse
from .template import instantiate


def comment(text: str) -> ast.stmt:
    """A statement that the emitter prints as ``# text``."""
    node = ast.Expr(value=ast.Constant(value=None))
    node.comment = text
    return node


def name(id_: str, store: bool = False) -> ast.Name:
    return ast.Name(id=id_, ctx=ast.Store() if store else ast.Load())


def assign(target: str | ast.expr, value: ast.expr) -> ast.Assign:
    if isinstance(target, str):
        target = name(target, store=True)
    return ast.Assign(targets=[target], value=value)


@dataclass
class AdjointFunction:
    """One generated function of the adjoint module."""

    name: str
    tree: ast.FunctionDef
    source: Source
    wrt: tuple[str, ...]
    returns_value: bool
    cotangent: str  # the name of its upstream-gradient parameter (dout)


@dataclass
class AdjointModule:
    """The adjoint of a user function, plus adjoints of the user functions it calls."""

    functions: list[AdjointFunction] = field(default_factory=list)
    _by_key: dict = field(default_factory=dict)
    _building: list = field(default_factory=list)
    namer: Namer = field(default_factory=Namer)

    @property
    def main(self) -> AdjointFunction:
        return self.functions[0]

    def adjoint_of(self, fn: types.FunctionType, wrt: tuple[str, ...],
                   returns_value: bool, call_site=None) -> AdjointFunction:
        key = (fn, wrt, returns_value)
        if key in self._by_key:
            return self._by_key[key]
        if fn in self._building:
            raise UnsupportedSyntaxError(
                f"recursive call to {fn.__name__}: recursion is not supported",
                call_site, "write the recursion as a loop")
        self._building.append(fn)
        try:
            src = parse(fn)
            slot = len(self.functions)
            self.functions.append(None)  # keep the caller first in the module
            built = FunctionBuilder(src, wrt, returns_value, self).build()
            self.functions[slot] = built
            self._by_key[key] = built
            return built
        finally:
            self._building.pop()


def build_module(fn: types.FunctionType, wrt: tuple[str, ...]) -> AdjointModule:
    """The adjoint module of ``fn`` with respect to the named parameters."""
    module = AdjointModule()
    module.adjoint_of(fn, wrt, returns_value=True)
    return module


class FunctionBuilder:
    """Builds one adjoint function; see the module docstring for the shape of its output."""

    def __init__(self, src: Source, wrt: tuple[str, ...], returns_value: bool,
                 module: AdjointModule):
        self.src, self.wrt, self.returns_value, self.module = src, wrt, returns_value, module
        from . import runtime  # noqa: I001

        taken = names_in(src.tree) | set(runtime.__all__) | {"np", "math"}
        self.namer = Namer(taken)
        self.params = [a.arg for a in src.tree.args.posonlyargs + src.tree.args.args +
                       src.tree.args.kwonlyargs]
        self.live: set[str] = set()

    # -- pipeline ----------------------------------------------------------------------------
    def build(self) -> AdjointFunction:
        norm = Normalizer(self.src.tree, self.namer, self.src.where).run()
        self.body = norm.body[:-1]
        self.returned = norm.body[-1].value
        self.locals = local_names(norm)
        self.check_wrt()
        resolver = Resolver(self.src, self.locals)
        self.ops = {id(s): resolver.resolve(s) for s in self.body if isinstance(s, ast.Assign)}
        self.facts = activity(self.body, self.ops, list(self.wrt), self.returned)
        self.split_self_updates()
        self.locals = self.locals | {s.targets[0].id for s in self.body
                                     if isinstance(s, ast.Assign)}
        for var in self.params + self.user_variables():
            self.adjoint(var)  # adjoint names in reading order, before anything else is named
        fn_name = self.function_name()
        cotangent = self.namer.fresh("dout")
        tree = self.assemble(fn_name, cotangent)
        tree = optimize.drop_default_arguments(optimize.renumber_temporaries(tree, self.namer))
        return AdjointFunction(fn_name, tree, self.src, self.wrt, self.returns_value, cotangent)

    def user_variables(self) -> list[str]:
        """The user's own local variables, in the order they are first assigned."""
        stores = [n for n in ast.walk(self.src.tree)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        stores.sort(key=lambda n: (n.lineno, n.col_offset))
        return list(dict.fromkeys(n.id for n in stores if n.id not in self.params))

    def function_name(self) -> str:
        """``d<name>``; a second variant of a helper (other wrt) says which it is."""
        base = self.src.name
        candidates = [f"d{base}", f"{base}_adjoint"]
        if self.module.namer.is_taken(f"d{base}") or not self.returns_value:
            candidates.insert(1, f"d{base}_wrt_{'_'.join(self.wrt)}")
        for candidate in candidates:
            if not self.namer.is_taken(candidate) and not self.module.namer.is_taken(candidate):
                self.module.namer.reserve(candidate)
                self.namer.reserve(candidate)
                return candidate
        chosen = self.module.namer.fresh(f"{self.src.name}_adjoint")
        self.namer.reserve(chosen)
        return chosen

    def check_wrt(self) -> None:
        for w in self.wrt:
            if w not in self.params:
                raise ArgumentError(f"{self.src.name} has no parameter named {w!r}",
                                    self.src.where(self.src.tree),
                                    f"choose wrt among {', '.join(self.params)}")

    def split_self_updates(self) -> None:
        """``x = x * 2`` becomes ``t = x * 2; x = t`` when x is active, so each statement's
        rule sees the old operand and the new result under different names."""
        body = []
        for stmt in self.body:
            op = self.ops.get(id(stmt))
            target = stmt.targets[0].id if isinstance(stmt, ast.Assign) else None
            if (op is not None and self.facts.is_active(target) and op.kind != "zero"
                    and target in {n for a in op.differentiable_atoms() for n in atom_names(a)}):
                temp = self.namer.temp()
                first = ast.copy_location(assign(temp, stmt.value), stmt)
                second = ast.copy_location(assign(target, name(temp)), stmt)
                first.origin = second.origin = stmt.origin
                self.ops[id(first)] = op
                self.ops[id(second)] = Resolver(self.src, self.locals).resolve(second)
                body += [first, second]
            else:
                body.append(stmt)
        self.body = body
        self.facts = activity(self.body, self.ops, list(self.wrt), self.returned)

    # -- backward sweep ------------------------------------------------------------------------
    def adjoint(self, var: str) -> str:
        return self.namer.adjoint(var)

    def is_active(self, var: str) -> bool:
        return self.facts.is_active(var)

    def accumulate(self, target: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Add ``value`` to the adjoint of an atom: a first write, a sum, or nothing."""
        if isinstance(target, ast.Name):
            var = target.id
            if not self.is_active(var):
                return []
            dvar = self.adjoint(var)
            if var in self.live:
                value = ast.BinOp(left=name(dvar), op=ast.Add(), right=value)
            self.live.add(var)
            return [assign(dvar, value)]
        if isinstance(target, (ast.Tuple, ast.List)):
            if not any(self.is_active(n) for n in atom_names(target)):
                return []
            parts = [self.namer.temp() for _ in target.elts]
            unpack = ast.Tuple(elts=[name(p, store=True) for p in parts], ctx=ast.Store())
            code = [assign(unpack, value)]
            for elt, part in zip(target.elts, parts):
                code += self.accumulate(elt, name(part))
            return code
        return []  # constants have no adjoint

    def backward_of(self, stmt: ast.stmt) -> list[ast.stmt]:
        if not isinstance(stmt, ast.Assign):
            return []
        target = stmt.targets[0].id
        if not self.is_active(target) or target not in self.live:
            return []
        op = self.ops[id(stmt)]
        upstream = name(self.adjoint(target))
        # Before this assignment the variable held another value, whose adjoint starts at 0.
        self.live.discard(target)
        if op.kind == "rule":
            return self.from_rule(op, upstream)
        if op.kind == "call":
            return self.from_call(op, upstream, stmt)
        if op.kind == "pack":
            raise UnsupportedSyntaxError(
                "a tuple or list holding differentiated values, stored in a variable",
                self.src.where(stmt.value), "pass the values to the function directly")
        return []

    def from_rule(self, op: Op, upstream: ast.expr) -> list[ast.stmt]:
        inst = instantiate(op.rule.template, op.bound, upstream, self.namer.temp)
        code: list[ast.stmt] = []
        for c in inst.contributions:
            code += self.accumulate(c.target, c.value)
        return drop_unused(inst.locals, code)

    def from_call(self, op: Op, upstream: ast.expr, stmt: ast.stmt) -> list[ast.stmt]:
        active = [p for p, atom in op.bound.items()
                  if any(self.is_active(n) for n in atom_names(atom))]
        for p in active:
            if not isinstance(op.bound[p], ast.Name):
                raise UnsupportedSyntaxError(
                    f"passing a tuple of differentiated values to {op.label}",
                    self.src.where(op.call), "pass each value as its own argument")
        if not active:
            return []
        params = list(inspect.signature(op.callee).parameters)
        wrt = tuple(p for p in params if p in active)
        callee = self.module.adjoint_of(op.callee, wrt, returns_value=False,
                                        call_site=self.src.where(op.call))
        call = ast.Call(func=name(callee.name), args=copy.deepcopy(op.call.args),
                        keywords=copy.deepcopy(op.call.keywords) +
                        [ast.keyword(arg=callee.cotangent, value=upstream)])
        atoms = [op.bound[p] for p in wrt]
        if len(atoms) == 1:
            return self.accumulate(atoms[0], call)
        names = [a.id for a in atoms]
        if len(set(names)) == len(names) and not set(names) & self.live:
            # every adjoint is written for the first time: unpack straight into them
            self.live.update(names)
            targets = [name(self.adjoint(n), store=True) for n in names]
            return [assign(ast.Tuple(elts=targets, ctx=ast.Store()), call)]
        return self.accumulate(ast.Tuple(elts=atoms, ctx=ast.Load()), call)

    # -- assembling the function ------------------------------------------------------------------
    def assemble(self, fn_name: str, cotangent: str) -> ast.FunctionDef:
        returned = atom_names(self.returned)
        seed = []
        if returned and self.is_active(returned[0]):
            seed = [assign(self.adjoint(returned[0]), name(cotangent))]
            self.live.add(returned[0])
        chunks = [[] for _ in self.body]
        for k in reversed(range(len(self.body))):
            chunks[k] = self.backward_of(self.body[k])
        epilogue = [assign(self.adjoint(w), ast.Call(func=name("zeros_like"), args=[name(w)],
                                                     keywords=[]))
                    for w in self.wrt if w not in self.live]
        forward, restored = self.forward_with_saves(chunks, epilogue)
        value = self.returned
        if set(returned) & restored:  # the result is rewound by the backward sweep: keep it
            keep = self.namer.fresh("value")
            forward.append(assign(keep, copy.deepcopy(self.returned)))
            value = name(keep)
        grads = [name(self.adjoint(w)) for w in self.wrt]
        grad_expr = grads[0] if len(grads) == 1 else ast.Tuple(elts=grads, ctx=ast.Load())
        out = grad_expr
        if self.returns_value:
            out = ast.Tuple(elts=[value, grad_expr], ctx=ast.Load())
        body = ([comment("forward sweep")] + forward + [comment("backward sweep")] + seed +
                self.grouped_backward(chunks) + epilogue + [ast.Return(value=out)])
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
        return ast.fix_missing_locations(fn)

    def forward_with_saves(self, chunks, epilogue) -> tuple[list[ast.stmt], set[str]]:
        """The forward sweep, saving a variable before an assignment overwrites it only if
        the backward sweep reads it later (that is, in the chunks of earlier statements)."""
        reads_before = [set() for _ in self.body]
        seen = primal_reads(epilogue, self.locals)
        for k in range(len(self.body)):
            reads_before[k] = set(seen)
            seen |= primal_reads(chunks[k], self.locals)
        defined = set(self.params)
        forward, restored, origin = [], set(), None
        for k, stmt in enumerate(self.body):
            if stmt.origin is not origin:
                origin = stmt.origin
                if self.needs_forward_comment(origin):
                    forward.append(comment(self.src.text_of(origin)))
            if isinstance(stmt, ast.Assign):
                var = stmt.targets[0].id
                if var in defined and var in reads_before[k]:
                    saved = self.namer.fresh(f"{var}_saved")
                    forward.append(assign(saved, name(var)))
                    chunks[k].append(assign(var, name(saved)))
                    restored.add(var)
                defined.add(var)
            forward.append(stmt)
        return forward, restored

    def needs_forward_comment(self, origin: ast.stmt) -> bool:
        own = [s for s in self.body if s.origin is origin]
        return len(own) > 1 or ast.unparse(own[0]) != ast.unparse(origin)

    def grouped_backward(self, chunks) -> list[ast.stmt]:
        """Backward code in reverse order, under a comment quoting each user statement."""
        out, k = [], len(self.body) - 1
        while k >= 0:
            origin, group = self.body[k].origin, []
            while k >= 0 and self.body[k].origin is origin:
                group += chunks[k]
                k -= 1
            if group:
                out += [comment(self.src.text_of(origin))] + group
        return out


def primal_reads(stmts: list[ast.stmt], primal_names: set[str]) -> set[str]:
    """Primal variables that backward statements read."""
    return {n.id for s in stmts for n in ast.walk(s)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in primal_names}


def drop_unused(local_assigns: list[ast.Assign], code: list[ast.stmt]) -> list[ast.stmt]:
    """Keep a rule's local assignments only if the emitted contributions use them."""
    used = {n.id for s in code for n in ast.walk(s) if isinstance(n, ast.Name)}
    kept = []
    for stmt in reversed(local_assigns):
        if stmt.targets[0].id in used:
            kept.insert(0, stmt)
            used |= {n.id for n in ast.walk(stmt.value) if isinstance(n, ast.Name)}
    return kept + code


