"""TRANSFORM (forward mode): from a normalized function to its tangent function.

The tangent function runs the primal once, and after each statement that carries a
derivative it computes the tangent of what the statement assigned: ``y_dot`` for ``y``,
from the tangents of the statement's operands (rules in ``rules/tangents.py``). Branches and
loops stay as they are: a tangent simply travels along with its primal, so forward mode
needs no saves and no reversed control flow.

    def f_jvp(x, w, x_dot):          # returns (value of f, its tangent along x_dot)

The front half (normalizing, resolving, activity, refusing aliasing) is ``prepare``
(prepare.py), shared with reverse mode; this module only generates code. It also accepts
the generated adjoint code of reverse mode, whose stacks (``s.append(v)`` /
``v = s.pop()``) and runtime helpers have tangent rules too: forward over reverse gives
Hessian-vector products.
"""
from __future__ import annotations

import ast
import copy
import inspect
import types
from dataclasses import dataclass, field

from . import optimize, runtime_tangent
from .aliasing import ALIASING_OPS
from .errors import MissingRuleError
from .float_arrays import known_float_arrays
from .ir import (
    assign,
    call,
    comment,
    is_element_write,
    is_float_atom,
    name,
    popped_list,
    statements,
)
from .names import Namer
from .prepare import make_namer, prepare
from .resolve import Op, Resolver, assigned_names, atom_names
from .reverse import build_once
from .rules import tangents
from .source import Source, parse
from .syntax import GUARD
from .tangent_algebra import Zero
from .tangent_rules import TangentRules
from .template import bind, is_number


@dataclass
class TangentFunction:
    """One generated function of the tangent module."""

    name: str
    tree: ast.FunctionDef
    source: Source
    wrt: tuple[str, ...]
    tangents: dict[str, str]  # parameter -> the name of its tangent parameter
    outputs: int = 1

    def describe(self) -> str:
        args = self.tree.args
        names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        return (f"{self.name}({', '.join(names)}) returns (value of {self.source.name}, "
                "its tangent)")


@dataclass
class TangentModule:
    """The tangent function of a user function, plus those of the functions it calls."""

    functions: list[TangentFunction] = field(default_factory=list)
    dependencies: list = field(default_factory=list)
    kind: str = "Tangent (forward mode)"
    _by_key: dict = field(default_factory=dict)
    _building: list = field(default_factory=list)
    namer: Namer = field(default_factory=Namer)

    @property
    def main(self) -> TangentFunction:
        return self.functions[0]

    def tangent_of(self, fn: types.FunctionType, wrt: tuple[str, ...], call_site=None,
                   src: Source | None = None, scalars: frozenset[str] = frozenset(),
                   floats: frozenset[str] = frozenset()) -> TangentFunction:
        return build_once(self, (fn, wrt, scalars, floats), fn, call_site,
                          lambda: ForwardBuilder(src or parse_any(fn), wrt, self, scalars,
                                                 floats).build_tangent())


def parse_any(fn: types.FunctionType) -> Source:
    """``parse``, also for generated functions: their globals are a namespace that falls
    back to the user's module, which a plain ``in`` test would not see."""
    src = parse(fn)
    fallback = getattr(src.globals, "fallback", None)
    if fallback is not None:
        src.globals = {**fallback, **src.globals}
    return src


def build_tangent_module(fn: types.FunctionType, wrt: tuple[str, ...],
                         src: Source | None = None, scalars: frozenset[str] = frozenset(),
                         floats: frozenset[str] = frozenset()) -> TangentModule:
    """The tangent function of ``fn`` with respect to the named parameters, plus those of
    the functions it calls. ``src``: an already parsed source (generated code);
    ``scalars``/``floats``: the parameters the call passes scalars/floats for."""
    module = TangentModule()
    module.tangent_of(fn, wrt, src=src, scalars=scalars, floats=floats)
    return module


class ForwardResolver(Resolver):
    """Resolves, besides user code, ``v = stack.pop()`` and the runtime helpers that
    generated adjoint code calls, and calls to functions with a user tangent rule."""

    def call(self, stmt, call_node: ast.Call, result) -> Op:
        func = call_node.func
        if isinstance(func, ast.Attribute) and not self.is_global_path(func):
            if func.attr == "pop" and isinstance(func.value, ast.Name) and not call_node.args:
                return Op("pop", ".pop()", bound={"x": func.value})
            return super().call(stmt, call_node, result)
        obj = self.evaluate_path(func)
        try:
            if obj in tangents.ZERO_HELPERS:
                return Op("zero", ast.unparse(func), func=obj)
            user_rule, helper = tangents.TANGENTS.get(obj), tangents.HELPERS.get(obj)
        except TypeError:  # unhashable: no rule of ours
            return super().call(stmt, call_node, result)
        if isinstance(user_rule, tangents.TangentTemplate) and isinstance(
                obj, types.FunctionType):
            return self.user_rule(call_node, obj, user_rule, result)
        if helper is not None:
            return self.helper(call_node, obj, helper, result)
        return super().call(stmt, call_node, result)

    def user_rule(self, call_node: ast.Call, fn, template, result) -> Op:
        """A call to a function with a ``register_tangent`` rule: the rule, not its body."""
        args, keywords = list(call_node.args), {k.arg: k.value for k in call_node.keywords}
        try:
            bound = bind(template, result, args, keywords)
        except TypeError as exc:
            raise MissingRuleError(
                f"the tangent rule {template.name} does not accept the call "
                f"{ast.unparse(call_node)!r}: {exc}", self.src.where(call_node),
                "make the rule's parameters match the function's") from None
        rule = types.SimpleNamespace(template=template, key=fn, result=template.result)
        return Op("tangent_rule", ast.unparse(call_node.func), rule=rule, func=fn,
                  call=call_node, bound=bound)

    def helper(self, call_node: ast.Call, fn, spec, result) -> Op:
        """A runtime helper of generated adjoint code (forward over reverse)."""
        args, keywords = list(call_node.args), {k.arg: k.value for k in call_node.keywords}
        if isinstance(spec, tangents.TangentTemplate):
            bound = bind(spec, result, args, keywords)
        else:
            bound = dict(inspect.signature(fn).bind(*args, **keywords).arguments)
        return Op("helper", ast.unparse(call_node.func), func=fn, bound=bound, call=call_node)


class ForwardBuilder(TangentRules):
    """Builds one tangent function: the primal statements, each followed by its tangent."""

    def __init__(self, src: Source, wrt: tuple[str, ...], module: TangentModule,
                 scalars: frozenset[str] = frozenset(), floats: frozenset[str] = frozenset()):
        self.src, self.wrt, self.module = src, wrt, module
        self.scalars, self.floats = scalars, floats
        self.namer = make_namer(src, runtime_tangent.__all__)
        self.tangent_names: dict[str, str] = {}

    def is_active(self, var: str | None) -> bool:
        return self.p.is_active(var)

    def is_scalar(self, atom: ast.expr) -> bool:
        return self.p.is_scalar(atom)

    # -- names -----------------------------------------------------------------------------
    def tangent(self, var: str) -> str:
        if var not in self.tangent_names:
            self.tangent_names[var] = self.namer.fresh(f"{var}_dot", f"{var}_dot_",
                                                       f"{var}_tangent")
        return self.tangent_names[var]

    def tangent_function_name(self) -> str:
        base = self.src.name
        candidates = [f"{base}_jvp", f"{base}_jvp_wrt_{'_'.join(self.wrt)}"]
        if self.module.namer.is_taken(candidates[0]):
            candidates.reverse()
        chosen = self.module.namer.fresh(*candidates)
        self.namer.reserve(chosen)
        return chosen

    # -- pipeline ----------------------------------------------------------------------------
    def build_tangent(self) -> TangentFunction:
        self.p = prepare(self.src, self.wrt, self.namer, self.module.dependencies,
                         resolver_class=ForwardResolver, forward=True, scalars=self.scalars,
                         floats=self.floats)
        self.mutated = self.written_in_place()
        for var in self.p.params + self.p.user_variables():
            if self.is_active(var):
                self.tangent(var)  # tangent names in reading order
        fn_name = self.tangent_function_name()
        body = self.prologue() + self.block(self.p.body) + [self.return_statement()]
        tree = self.tangent_signature(fn_name, body)
        tree = optimize.renumber_temporaries(ast.fix_missing_locations(tree), self.namer)
        outputs = len(self.p.returned.elts) if isinstance(self.p.returned, ast.Tuple) else 1
        return TangentFunction(fn_name, tree, self.src, self.wrt,
                               {w: self.tangent(w) for w in self.wrt}, outputs)

    def written_in_place(self) -> set[str]:
        """Arrays changed in place: element writes, and the adjoints that adjoint code
        updates with add_at/clear_at. Their tangents must be arrays of their own."""
        found = {s.targets[0].value.id for s in statements(self.p.body) if is_element_write(s)}
        for s in statements(self.p.body):
            op = self.p.ops.get(s)
            if op is not None and op.kind == "helper" and "adjoint" in op.bound:
                found.update(atom_names(op.bound["adjoint"]))
        return found

    def prologue(self) -> list[ast.stmt]:
        """Parameters that are active but not differentiated start with a zero tangent."""
        return [assign(self.tangent(p), call("zeros_like", name(p)))
                for p in self.p.params if self.is_active(p) and p not in self.wrt]

    def tangent_signature(self, fn_name: str, body: list[ast.stmt]) -> ast.FunctionDef:
        args = copy.deepcopy(self.src.tree.args)
        extra = [ast.arg(arg=self.tangent(w)) for w in self.wrt]
        if args.kwonlyargs:
            args.kwonlyargs += extra
            args.kw_defaults += [ast.Constant(None)] * len(extra)
        else:
            args.args += extra
            if args.defaults:  # parameters after one with a default need a default too
                args.defaults += [ast.Constant(None)] * len(extra)
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            a.annotation = None
        fn = ast.FunctionDef(name=fn_name, args=args, body=body, decorator_list=[],
                             returns=None, type_comment=None)
        if hasattr(fn, "type_params"):
            fn.type_params = []
        return fn

    def return_statement(self) -> ast.Return:
        value = copy.deepcopy(self.p.returned)
        tangent = self.materialize(self.tangent_atom(self.p.returned), self.p.returned)
        return ast.Return(value=ast.Tuple(elts=[value, tangent], ctx=ast.Load()))

    # -- blocks ------------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """Each statement followed by its tangent code, under a comment quoting the user's
        statement wherever it became more than itself."""
        out, k = [], 0
        while k < len(stmts):
            origin, group, code = stmts[k].origin, [], []
            while k < len(stmts) and stmts[k].origin is origin:
                group.append(stmts[k])
                code += self.statement(stmts[k])
                k += 1
            compound = len(group) == 1 and isinstance(group[0], (ast.If, ast.For, ast.While))
            simple = compound or len(code) == 1 and ast.unparse(code[0]) == ast.unparse(origin)
            if origin is not GUARD and origin is not self.src.tree and not simple:
                out.append(comment(self.src.text_of(origin)))
            out += code
        return out

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.If):
            return [ast.If(test=stmt.test, body=self.block(stmt.body) or [ast.Pass()],
                           orelse=self.block(stmt.orelse))]
        if isinstance(stmt, ast.For):
            return [ast.For(target=stmt.target, iter=stmt.iter, orelse=[], type_comment=None,
                            body=self.block(stmt.body) or [ast.Pass()])]
        if isinstance(stmt, ast.While):
            return [ast.While(test=stmt.test, body=self.block(stmt.body) or [ast.Pass()],
                              orelse=[])]
        if isinstance(stmt, ast.Expr) and hasattr(stmt, "appends_to"):
            return [stmt] + self.append_tangent(stmt)
        if isinstance(stmt, ast.Expr) and popped_list(stmt.value):
            return [stmt] + self.discarded_pop_tangent(popped_list(stmt.value))
        if isinstance(stmt, ast.Assign) and stmt in self.p.ops:
            op = self.p.ops[stmt]
            if op.kind == "call" and self.active_parameters(op) and any(
                    self.is_active(n) for n in assigned_names(stmt)):
                return self.call_tangent(stmt, op)  # the tangent function returns the value too
            return [stmt] + self.assignment_tangent(stmt, op)
        return [stmt]

    def active_parameters(self, op: Op) -> list[str]:
        return [p for p, atom in op.bound.items()
                if any(self.is_active(n) for n in atom_names(atom))]

    def append_tangent(self, stmt: ast.Expr) -> list[ast.stmt]:
        lst = stmt.appends_to
        if not self.is_active(lst):
            return []
        value = stmt.value.args[0]
        tangent = self.materialize(self.tangent_atom(value), value)
        method = ast.Attribute(value=name(self.tangent(lst)), attr="append", ctx=ast.Load())
        return [ast.Expr(value=ast.Call(func=method, args=[tangent], keywords=[]))]

    # -- one assignment ------------------------------------------------------------------------
    def assignment_tangent(self, stmt: ast.Assign, op: Op) -> list[ast.stmt]:
        if op.kind == "pop":
            return self.pop_tangent(stmt, op)
        targets = [n for n in assigned_names(stmt) if self.is_active(n)]
        if not targets:
            return []
        if op.kind == "setitem":
            return self.element_write_tangent(stmt, op)
        if op.kind == "pack":
            value = stmt.value
            elts = [self.materialize(self.tangent_atom(e), e) for e in value.elts]
            kind = ast.List if isinstance(value, ast.List) else ast.Tuple
            return [assign(self.tangent(targets[0]), kind(elts=elts, ctx=ast.Load()))]
        if op.kind in ("rule", "helper", "tangent_rule"):
            local_code, expr = self.rule_tangent(stmt, op)
            target = targets[0]
            if isinstance(expr, Zero):
                return [assign(self.tangent(target), call("zeros_like", name(target)))]
            expr = self.materialize(expr, None)
            if self.shares_operand_tangent(expr, op, target):
                expr = ast.Call(func=ast.Attribute(value=name("np"), attr="copy",
                                                   ctx=ast.Load()), args=[expr], keywords=[])
            return local_code + [assign(self.tangent(target), expr)]
        # "zero": a value the inputs do not reach, bound to a name that elsewhere carries one
        if is_number(stmt.value):
            return [assign(self.tangent(targets[0]), ast.Constant(0.0))]
        if isinstance(stmt.value, ast.Constant) and stmt.value.value is None:
            # the adjoint's pre-binding of a saved variable: its tangent is pre-bound too
            # (zeros_like(None) is no value Numba can type)
            return [assign(self.tangent(targets[0]), ast.Constant(None))]
        return [assign(self.tangent(n), call("zeros_like", name(n))) for n in targets]

    def shares_operand_tangent(self, expr: ast.expr, op: Op, target: str) -> bool:
        """``y = x + c`` (or ``y = x * 1.0``) with only x varying has ``y_dot = x_dot``: the
        same array, where the primal made a new one. Harmless unless y or x, or an array x
        is a view of (``x = m[1]``, then ``m[1] = v``), is then changed in place."""
        if not isinstance(expr, ast.Name) or op.label in ALIASING_OPS:
            return False
        source = next((v for v, t in self.tangent_names.items() if t == expr.id), None)
        names = {target} | ({source} if source else set())
        return bool(self.p.sharing(names) & self.mutated) or bool(names & self.mutated)

    def pop_tangent(self, stmt: ast.Assign, op: Op) -> list[ast.stmt]:
        """``v = stack.pop()``: the tangent stack is popped in step, used or not."""
        lst = op.bound["x"].id
        if not self.is_active(lst):
            return []
        popped = ast.Call(func=ast.Attribute(value=name(self.tangent(lst)), attr="pop",
                                             ctx=ast.Load()), args=[], keywords=[])
        target = assigned_names(stmt)[0]
        if self.is_active(target):
            return [assign(self.tangent(target), popped)]
        return [ast.Expr(value=popped)]

    def discarded_pop_tangent(self, lst: str) -> list[ast.stmt]:
        """``stack.pop()`` for its effect (adjoint code shrinking a list): the tangent
        stack shrinks with it."""
        if not self.is_active(lst):
            return []
        pop = ast.Attribute(value=name(self.tangent(lst)), attr="pop", ctx=ast.Load())
        return [ast.Expr(value=ast.Call(func=pop, args=[], keywords=[]))]

    def float_arrays(self) -> set[str]:
        """The arrays made as floats, whose writes need no kept_if (float_arrays.py)."""
        if not hasattr(self, "_float_arrays"):
            self._float_arrays = known_float_arrays(self.p.body, self.p.params)
        return self._float_arrays

    def element_write_tangent(self, stmt: ast.Assign, op: Op) -> list[ast.stmt]:
        var = op.bound["x"].id
        value = self.tangent_atom(op.bound["value"])
        if isinstance(value, Zero):
            value = ast.Constant(0.0)
        else:
            value = self.materialize(value, None)
            if var not in self.float_arrays():
                # an array of integers truncates what is written into it: no derivative
                value = call("kept_if", value, call("is_inexact", name(var)))
        target = ast.Subscript(value=name(self.tangent(var)),
                               slice=copy.deepcopy(stmt.targets[0].slice), ctx=ast.Store())
        return [assign(target, value)]

    def call_tangent(self, stmt: ast.Assign, op: Op) -> list[ast.stmt]:
        """``z = helper(a, b)`` becomes ``z, z_dot = helper_jvp(a, b, a_dot=a_dot)``."""
        active = self.active_parameters(op)
        params = list(inspect.signature(op.callee).parameters)
        wrt = tuple(p for p in params if p in active)
        scalars = frozenset(p for p, atom in op.bound.items()
                            if is_number(atom) or self.is_scalar(atom))
        floats = frozenset(p for p, atom in op.bound.items() if is_float_atom(atom, self.p.floats))
        callee = self.module.tangent_of(op.callee, wrt, call_site=self.src.where(op.call),
                                        scalars=scalars, floats=floats)
        keywords = copy.deepcopy(op.call.keywords) + [
            ast.keyword(arg=callee.tangents[p],
                        value=self.materialize(self.tangent_atom(op.bound[p]), op.bound[p]))
            for p in wrt]
        invocation = ast.Call(func=name(callee.name), args=copy.deepcopy(op.call.args),
                              keywords=keywords)
        target = stmt.targets[0]
        if isinstance(target, ast.Tuple):
            dots = ast.Tuple(elts=[name(self.tangent(e.id), store=True) for e in target.elts],
                             ctx=ast.Store())
        else:
            dots = name(self.tangent(target.id), store=True)
        both = ast.Tuple(elts=[copy.deepcopy(target), dots], ctx=ast.Store())
        code = [ast.copy_location(assign(both, invocation), stmt)]
        # the helper's tangent may be a view of an argument's (``return u[:2] * 1.0`` has
        # the tangent ``u_dot[:2]``): a result later written in place needs its own
        for result in assigned_names(stmt):
            if result in self.mutated:
                tangent = self.tangent(result)
                fresh = ast.Call(func=ast.Attribute(value=name("np"), attr="array",
                                                    ctx=ast.Load()),
                                 args=[name(tangent)], keywords=[])
                code.append(ast.copy_location(assign(tangent, fresh), stmt))
        return code

