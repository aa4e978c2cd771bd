"""TRANSFORM (forward mode): from a normalized function to its tangent function.

The tangent function runs the primal once, and after each statement that carries a
derivative it computes the tangent of what the statement assigned: ``y_dot`` for ``y``,
from the tangents of the statement's operands (rules in ``rules/tangents.py``). Branches and
loops stay as they are: a tangent simply travels along with its primal, so forward mode
needs no saves and no reversed control flow.

    def f_jvp(x, w, x_dot):          # returns (value of f, its tangent along x_dot)

The front half (normalizing, resolving, activity, refusing aliasing) is the reverse
builder's; this module only generates code. It also accepts the generated adjoint code of
reverse mode, whose stacks (``s.append(v)`` / ``v = s.pop()``) and runtime helpers have
tangent rules too: forward over reverse gives Hessian-vector products.
"""
from __future__ import annotations

import ast
import copy
import inspect
import types
from dataclasses import dataclass, field

from . import helpers, optimize, runtime_tangent
from .compile import is_generated
from .errors import MissingRuleError
from .names import Namer
from .normalize import GUARD
from .resolve import Op, Resolver, assigned_names, atom_names
from .reverse import (
    ALIASING_OPS,
    FunctionBuilder,
    assign,
    build_once,
    call,
    comment,
    is_element_write,
    is_float_atom,
    name,
    statements,
)
from .rules import tangents
from .source import Source, parse
from .template import bind, fold, instantiate, is_number


class Zero(ast.expr):
    """A tangent known to be zero (a constant, or a value the inputs do not reach).
    Simplified away where the algebra allows, else written as ``zeros_like(like)``."""

    _fields = ()

    def __init__(self, like: ast.expr | None = None):
        super().__init__()
        self.like = like


SEED = "__seed__"  # stands for the upstream adjoint while an elementwise rule is read forwards

# Calls that are zero when the arguments at these positions are: ("any", ...) for functions
# linear in each listed argument, ("all", ...) for functions linear in them jointly.
# The runtime helpers' entries are declared with the helpers (adjoint/helpers.py).
ZERO_WHEN = {
    "np.dot": ("any", 0, 1), "np.outer": ("any", 0, 1), "np.matmul": ("any", 0, 1),
    **helpers.zero_when(),
}


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


class ForwardBuilder(FunctionBuilder):
    """Builds one tangent function: the primal statements, each followed by its tangent."""

    resolver_class = ForwardResolver

    def __init__(self, src: Source, wrt: tuple[str, ...], module: TangentModule,
                 scalars: frozenset[str] = frozenset(), floats: frozenset[str] = frozenset()):
        super().__init__(src, wrt, returns_value=True, module=module, scalars=scalars,
                         floats=floats)
        for extra in runtime_tangent.__all__:
            self.namer.reserve(extra)
        self.tangent_names: dict[str, str] = {}

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
        self.prepare()
        self.mutated = self.written_in_place()
        for var in self.params + self.user_variables():
            if self.is_active(var):
                self.tangent(var)  # tangent names in reading order
        fn_name = self.tangent_function_name()
        body = self.prologue() + self.block(self.body) + [self.return_statement()]
        tree = self.tangent_signature(fn_name, body)
        tree = optimize.renumber_temporaries(ast.fix_missing_locations(tree), self.namer)
        outputs = len(self.returned.elts) if isinstance(self.returned, ast.Tuple) else 1
        return TangentFunction(fn_name, tree, self.src, self.wrt,
                               {w: self.tangent(w) for w in self.wrt}, outputs)

    def written_in_place(self) -> set[str]:
        """Arrays changed in place: element writes, and the adjoints that adjoint code
        updates with add_at/clear_at. Their tangents must be arrays of their own."""
        found = {s.targets[0].value.id for s in statements(self.body) if is_element_write(s)}
        for s in statements(self.body):
            op = self.ops.get(id(s))
            if op is not None and op.kind == "helper" and "adjoint" in op.bound:
                found.update(atom_names(op.bound["adjoint"]))
        return found

    def prologue(self) -> list[ast.stmt]:
        """Parameters that are active but not differentiated start with a zero tangent."""
        return [assign(self.tangent(p), call("zeros_like", name(p)))
                for p in self.params if self.is_active(p) and p not in self.wrt]

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
        value = copy.deepcopy(self.returned)
        tangent = self.materialize(self.tangent_atom(self.returned), self.returned)
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
                code += self.saves_before.get(id(stmts[k]), [])  # runtime aliasing guards
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
        if isinstance(stmt, ast.Assign) and id(stmt) in self.ops:
            op = self.ops[id(stmt)]
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
        return [assign(self.tangent(n), call("zeros_like", name(n))) for n in targets]

    def shares_operand_tangent(self, expr: ast.expr, op: Op, target: str) -> bool:
        """``y = x + c`` (or ``y = x * 1.0``) with only x varying has ``y_dot = x_dot``: the
        same array, where the primal made a new one. Harmless unless y or x is then changed
        in place."""
        if not isinstance(expr, ast.Name) or op.label in ALIASING_OPS:
            return False
        source = next((v for v, t in self.tangent_names.items() if t == expr.id), None)
        return target in self.mutated or source in self.mutated

    def check_aliasing(self) -> None:
        """User code is checked as in reverse mode. Generated adjoint code (hvp) is not: it
        changes in place only adjoint arrays that it alone refers to, and views of them
        have views of their tangents."""
        if not is_generated(self.src.filename):
            super().check_aliasing()

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

    def allowed_effect(self, stmt: ast.Expr) -> bool:
        """Generated adjoint code may drop a list's last entry (``hs.pop()``): forward
        mode follows it on the tangent list."""
        return is_generated(self.src.filename) and popped_list(stmt.value) is not None

    def element_write_tangent(self, stmt: ast.Assign, op: Op) -> list[ast.stmt]:
        var = op.bound["x"].id
        value = self.tangent_atom(op.bound["value"])
        value = ast.Constant(0.0) if isinstance(value, Zero) else self.materialize(value, None)
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
        floats = frozenset(p for p, atom in op.bound.items() if is_float_atom(atom, self.floats))
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

    # -- rules --------------------------------------------------------------------------------
    def rule_tangent(self, stmt: ast.Assign, op: Op) -> tuple[list[ast.stmt], ast.expr]:
        spec = self.spec_of(op, stmt)
        for param, why in getattr(spec, "refused", {}).items():
            atom = op.bound.get(param)
            if atom is not None and any(self.is_active(n) for n in atom_names(atom)):
                raise MissingRuleError(f"{why} are not supported", self.src.where(stmt.value),
                                       "use jvp/grad, or a Hessian by finite differences")
        if isinstance(spec, tangents.Elementwise):
            return [], self.elementwise_tangent(stmt, op)
        if isinstance(spec, tangents.Linear):
            return [], self.linear_tangent(stmt, op, spec.params)
        if isinstance(spec, tangents.Multilinear):
            return [], self.multilinear_tangent(stmt, op, spec.params)
        return self.template_tangent(op, spec)

    def spec_of(self, op: Op, stmt: ast.Assign) -> tangents.Spec:
        if op.kind == "tangent_rule":
            return op.rule.template
        spec = tangents.HELPERS.get(op.func) if op.kind == "helper" else tangents.lookup(
            op.rule.key)
        if spec is None:
            raise MissingRuleError(
                f"no forward-mode (tangent) rule for {op.label}", self.src.where(stmt.value),
                f"register one with @adjoint.register_tangent({op.label})")
        return spec

    def elementwise_tangent(self, stmt: ast.Assign, op: Op) -> ast.expr:
        """The reverse rule read forwards: each ``d[x] += unbroadcast(d[z] * g, x)`` gives
        the term ``t[x] * g``."""
        template = op.rule.template
        inst = instantiate(template, op.bound, name(SEED), self.namer.temp, self.is_scalar)
        terms = []
        for c in inst.contributions:
            t = self.tangent_atom(c.target)
            if isinstance(t, Zero):
                continue
            value = c.value
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and \
                    value.func.id == "unbroadcast":
                value = value.args[0]
            terms.append(replace_seed(value, t))
        expr = simplify(sum_of(terms))
        operands = [op.bound[p] for p in template.targets if p in op.bound]
        # a constant operand absent from every term may have widened the result
        present = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}
        partial = any(not is_number(a) and isinstance(self.tangent_atom(a), Zero)
                      and not set(atom_names(a)) <= present for a in operands)
        if partial and not all(is_number(a) or self.is_scalar(a) for a in operands) \
                and not isinstance(expr, Zero):
            expr = call("broadcast_tangent", expr, copy.deepcopy(stmt.targets[0]))
        return expr

    def linear_tangent(self, stmt: ast.Assign, op: Op, params: tuple[str, ...]) -> ast.expr:
        """The operation applied to the tangents of the parameters it is linear in."""
        present = [p for p in params if p in op.bound]
        dots = {p: self.tangent_atom(op.bound[p]) for p in present}
        if all(isinstance(d, Zero) for d in dots.values()):
            return Zero()
        return replace_nodes(stmt.value, {id(op.bound[p]): self.materialize(d, op.bound[p])
                                          for p, d in dots.items()})

    def multilinear_tangent(self, stmt: ast.Assign, op: Op,
                            params: tuple[str, ...]) -> ast.expr:
        """The sum over the parameters of the operation with that one replaced."""
        terms = []
        for p in params:
            if p not in op.bound:
                continue
            d = self.tangent_atom(op.bound[p])
            if not isinstance(d, Zero):
                terms.append(replace_nodes(stmt.value, {id(op.bound[p]): d}))
        return sum_of(terms)

    def template_tangent(self, op: Op, template: tangents.TangentTemplate
                         ) -> tuple[list[ast.stmt], ast.expr]:
        renamed = {s.targets[0].id: self.namer.temp() for s in template.locals}

        class Fill(ast.NodeTransformer):
            def visit_Subscript(inner, node):  # noqa: N805 - closes over the builder
                if tangents.is_tangent_ref(node):
                    atom = op.bound.get(node.slice.id)
                    return self.tangent_atom(atom) if atom is not None else Zero()
                return inner.generic_visit(node)

            def visit_Name(inner, node):  # noqa: N805
                if node.id in op.bound:
                    return copy.deepcopy(op.bound[node.id])
                if node.id in renamed:
                    return name(renamed[node.id])
                return node

        local_code = [assign(renamed[s.targets[0].id], fold(Fill().visit(copy.deepcopy(s.value))))
                      for s in template.locals]
        return local_code, simplify(fold(Fill().visit(copy.deepcopy(template.value))))

    # -- tangents of atoms -------------------------------------------------------------------
    def tangent_atom(self, atom: ast.expr) -> ast.expr:
        """``x_dot`` for an active name, Zero for constants and values the inputs do not
        reach, element by element for tuples and lists."""
        if isinstance(atom, ast.Name):
            return name(self.tangent(atom.id)) if self.is_active(atom.id) else Zero(atom)
        if isinstance(atom, (ast.Tuple, ast.List)):
            elts = [self.tangent_atom(e) for e in atom.elts]
            if all(isinstance(e, Zero) for e in elts):
                return Zero(atom)
            elts = [self.materialize(t, e) for t, e in zip(elts, atom.elts)]
            return type(atom)(elts=elts, ctx=ast.Load())
        return Zero(atom)

    def materialize(self, expr: ast.expr, like: ast.expr | None) -> ast.expr:
        """Write out the zeros that simplification could not remove."""
        if isinstance(expr, Zero):
            return zero_for(expr.like if expr.like is not None else like)

        class Fill(ast.NodeTransformer):
            def visit_Zero(inner, node):  # noqa: N805
                return zero_for(node.like)

        return Fill().visit(expr)


def popped_list(value: ast.expr) -> str | None:
    """``hs`` for the call ``hs.pop()``."""
    if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
            and value.func.attr == "pop" and isinstance(value.func.value, ast.Name)
            and not value.args and not value.keywords):
        return value.func.value.id
    return None


def zero_for(like: ast.expr | None) -> ast.expr:
    if like is None or is_number(like):
        return ast.Constant(0.0)
    if isinstance(like, (ast.Tuple, ast.List)):
        return type(like)(elts=[zero_for(e) for e in like.elts], ctx=ast.Load())
    return call("zeros_like", copy.deepcopy(like))


def sum_of(terms: list[ast.expr]) -> ast.expr:
    if not terms:
        return Zero()
    total = terms[0]
    for term in terms[1:]:
        if isinstance(term, ast.UnaryOp) and isinstance(term.op, ast.USub):
            total = ast.BinOp(left=total, op=ast.Sub(), right=term.operand)
        else:
            total = ast.BinOp(left=total, op=ast.Add(), right=term)
    return total


def replace_seed(expr: ast.expr, tangent: ast.expr) -> ast.expr:
    class Seed(ast.NodeTransformer):
        def visit_Name(self, node):
            return copy.deepcopy(tangent) if node.id == SEED else node

    return simplify(Seed().visit(copy.deepcopy(expr)))


def replace_nodes(expr: ast.expr, replacements: dict[int, ast.expr]) -> ast.expr:
    """A copy of ``expr`` with the nodes of the given ids replaced (the original, which
    resolution refers to by identity, is left as it is)."""

    def rebuild(node):
        if id(node) in replacements:
            return copy.deepcopy(replacements[id(node)])
        if isinstance(node, list):
            return [rebuild(n) for n in node]
        if not isinstance(node, ast.AST):
            return node
        new = type(node)(**{f: rebuild(getattr(node, f)) for f in node._fields
                            if hasattr(node, f)})
        return ast.copy_location(new, node)

    return rebuild(expr)


def simplify(expr: ast.expr) -> ast.expr:
    """Remove known zeros: ``0 * a``, ``a + 0``, ``-0``, ``np.dot(0, b)``, ``0[i]``, ``0.T``."""

    class Simplify(ast.NodeTransformer):
        def visit_BinOp(self, node):
            self.generic_visit(node)
            left, right = isinstance(node.left, Zero), isinstance(node.right, Zero)
            if isinstance(node.op, ast.Add) and (left or right):
                return node.right if left else node.left
            if isinstance(node.op, ast.Sub) and right:
                return node.left
            if isinstance(node.op, ast.Sub) and left:
                return ast.UnaryOp(op=ast.USub(), operand=node.right)
            if isinstance(node.op, (ast.Mult, ast.MatMult)) and (left or right):
                return Zero()
            if isinstance(node.op, ast.Div) and left:
                return Zero()
            return node

        def visit_UnaryOp(self, node):
            self.generic_visit(node)
            return Zero() if isinstance(node.operand, Zero) else node

        def visit_Subscript(self, node):
            self.generic_visit(node)
            return Zero() if isinstance(node.value, Zero) else node

        def visit_Attribute(self, node):
            self.generic_visit(node)
            return Zero() if isinstance(node.value, Zero) else node

        def visit_Call(self, node):
            self.generic_visit(node)
            if isinstance(node.func, Zero):  # a method of a zero: 0.reshape(...)
                return Zero()
            rule = ZERO_WHEN.get(_dotted(node.func))
            if rule:
                how, *positions = rule
                zeros = [p < len(node.args) and isinstance(node.args[p], Zero)
                         for p in positions]
                if (any(zeros) if how == "any" else all(zeros)):
                    return Zero()
            return node

    return Simplify().visit(expr)


def _dotted(node: ast.expr) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - a Zero inside cannot be printed
        return ""

