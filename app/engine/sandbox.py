"""Sandbox for analyst-authored expressions and scripts (gateway conditions, DMN cells, timers,
service-task input mappings, script tasks).

Code is checked against an allow-list of syntax before it runs: no imports, no attribute or name that
starts with an underscore, no function or class definitions, no loops other than comprehensions, and
only a small set of harmless builtins; ``**`` unpacking is refused. Exponents of ``**`` and ``<<`` must be
small constants.

Then the checked tree is rewritten so that every operation whose cost grows with its operands (each item
a comprehension draws, repetition, concatenation, builtins, methods, slices, comparisons, f-strings)
charges the evaluation's work meter (``sandbox_work``): an evaluation does at most ``MAX_WORK`` steps and
a couple of seconds of CPU, whatever the expression and the task data.
"""

from __future__ import annotations

import ast
import copy as copy_module
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from . import sandbox_work as work
from .sandbox_work import MAX_RESULT_BITS, MAX_WORK, SandboxViolation, WorkLimitExceeded, charge

__all__ = [
    "MAX_RESULT_BITS",
    "MAX_WORK",
    "SAFE_BUILTINS",
    "SandboxViolation",
    "WorkLimitExceeded",
    "charge",
    "compile_checked",
    "evaluate",
    "execute",
]


_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Module,
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.If,
    ast.Pass,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Del,
    ast.Constant,
    ast.JoinedStr,
    ast.FormattedValue,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Invert,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.BitAnd,
    ast.BitOr,
    ast.BitXor,
    ast.LShift,
    ast.RShift,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.comprehension,
)

_SAFE_METHODS = frozenset(
    {
        "get",
        "keys",
        "values",
        "items",
        "startswith",
        "endswith",
        "upper",
        "lower",
        "strip",
        "split",
        "count",
        "index",
        "isdigit",
    }
)

MAX_POWER_EXPONENT = 64
MAX_REPEAT = 10_000  # longest range(); one repetition may build ten times that (sandbox_work.MAX_SEQUENCE)
MAX_SCRIPT_CHARS = 20_000


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_REPEAT:
        raise SandboxViolation(f"range() larger than {MAX_REPEAT} elements")
    return r


_WALKING = (min, max, sum, any, all, int, float, list, dict, set, tuple, sorted)  # cost grows with the input
SAFE_BUILTINS: dict[str, Any] = {
    "len": len,
    "abs": abs,
    "round": round,
    "bool": bool,
    **{function.__name__: work.metered_builtin(function) for function in _WALKING},
    "str": work.metered_builtin(str, result_charged=True),  # str(x) of nested data is longer than len(x)
    "range": work.metered_builtin(_bounded_range),
    "enumerate": work.metered_builtin(enumerate),
    "zip": work.metered_builtin(zip),
    "True": True,
    "False": False,
    "None": None,
}


class _Checker(ast.NodeVisitor):
    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, _ALLOWED_NODES):
            where = f" (line {getattr(node, 'lineno', '?')})"
            raise SandboxViolation(f"{type(node).__name__} is not allowed in expressions{where}")
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise SandboxViolation(f"name {node.id!r} is not allowed")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Attribute):
            self.generic_visit(node)
            return
        method = node.func  # obj.method(...): the only place an attribute may appear
        if method.attr.startswith("_") or method.attr not in _SAFE_METHODS:
            raise SandboxViolation(f"attribute {method.attr!r} is not allowed")
        for child in (method.value, *node.args, *node.keywords):
            self.visit(child)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # Not called on the spot: a method kept as a value would escape the work meter when called later.
        if node.attr.startswith("_") or node.attr not in _SAFE_METHODS:
            raise SandboxViolation(f"attribute {node.attr!r} is not allowed")
        raise SandboxViolation(f"a method must be called where it is named ({node.attr!r})")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, (ast.Pow, ast.LShift)) and not (
            isinstance(node.right, ast.Constant)
            and isinstance(node.right.value, int)
            and abs(node.right.value) <= MAX_POWER_EXPONENT
        ):
            raise SandboxViolation(f"'**' and '<<' need a constant exponent of at most {MAX_POWER_EXPONENT}")
        self.generic_visit(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            raise SandboxViolation("'**' unpacking in a dict is not allowed")
        self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is None:
            raise SandboxViolation("'**' unpacking of arguments is not allowed")
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.format_spec is not None:
            raise SandboxViolation("format specifications (f'{x:...}') are not allowed")
        self.generic_visit(node)


_GUARDED_OPS = {
    ast.Mult: "__sandbox_mul__",
    ast.Pow: "__sandbox_pow__",
    ast.LShift: "__sandbox_lshift__",
    ast.Add: "__sandbox_add__",
    ast.Mod: "__sandbox_mod__",
}


def _guard(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _as_load(target: ast.expr) -> ast.expr:
    """A copy of an assignment target that reads it (``d[k]`` of ``d[k] += 1``)."""
    copy = copy_module.deepcopy(target)
    for node in ast.walk(copy):
        if hasattr(node, "ctx"):
            node.ctx = ast.Load()
    return copy


class _GuardWork(ast.NodeTransformer):
    """Route every operation whose cost grows with its operands through a guard of ``sandbox_work``, which
    charges the evaluation's work meter: ``"x" * 10**9``, a tower of powers, three nested comprehensions
    over ``range(10000)`` or a script doubling a string forty times stop with a clear error instead of
    taking the process's memory or CPU."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARDED_OPS.get(type(node.op))
        return ast.copy_location(_guard(guard, node.left, node.right), node) if guard else node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        # target op= value  ->  target = __sandbox_in_place__("Op", target, value)
        read = _as_load(node.target)
        self.generic_visit(node)
        operands = (ast.Constant(type(node.op).__name__), self.visit(read), node.value)
        assign = ast.Assign(targets=[node.target], value=_guard("__sandbox_in_place__", *operands))
        return ast.fix_missing_locations(ast.copy_location(assign, node))

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.left, ast.Constant):
            node.left = _guard("__sandbox_operand__", node.left)
        comparators = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            if not isinstance(right, ast.Constant):
                kind = (
                    "__sandbox_container__" if isinstance(op, (ast.In, ast.NotIn)) else "__sandbox_operand__"
                )
                right = _guard(kind, right)
            comparators.append(right)
        node.comparators = comparators
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Attribute):  # obj.method(...) -> __sandbox_method__(obj, "method", ...)
            method = node.func
            node.func = ast.Name(id="__sandbox_method__", ctx=ast.Load())
            node.args = [method.value, ast.Constant(method.attr), *node.args]
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            return node
        if isinstance(node.slice, ast.Slice):  # a copy: charged its length
            return ast.copy_location(_guard("__sandbox_sized__", node), node)
        if not isinstance(node.slice, ast.Constant):  # a key is hashed or compared
            node.slice = _guard("__sandbox_operand__", node.slice)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        node.value = _guard("__sandbox_text__", node.value, ast.Constant(node.conversion))
        node.conversion = -1
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        self.generic_visit(node)
        node.iter = _guard("__sandbox_draw__", node.iter)
        return node


_INTERNALS: dict[str, Any] = {
    "__sandbox_mul__": work.multiply,
    "__sandbox_pow__": work.power,
    "__sandbox_lshift__": work.shift_left,
    "__sandbox_add__": work.add,
    "__sandbox_mod__": work.modulo,
    "__sandbox_operand__": work.operand,
    "__sandbox_container__": work.container,
    "__sandbox_method__": work.call_method,
    "__sandbox_sized__": work.sized,
    "__sandbox_text__": work.text,
    "__sandbox_draw__": work.draw,
    "__sandbox_in_place__": work.in_place,
}


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str = "eval") -> Any:
    """Parse, check and compile ``source``; the result is cached by text.

    :raises SandboxViolation: for syntax the sandbox refuses (also for syntax errors).
    """
    if len(source) > MAX_SCRIPT_CHARS:
        raise SandboxViolation(f"expression longer than {MAX_SCRIPT_CHARS} characters")
    try:
        # An analyst's "\d" or "x is 1" is not the server log's business (the model check reports errors).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
            _Checker().visit(tree)
            tree = ast.fix_missing_locations(_GuardWork().visit(tree))
            return compile(tree, "<expression>", mode)
    except SyntaxError as exc:
        raise SandboxViolation(f"syntax error: {exc.msg} (line {exc.lineno})") from None
    except (RecursionError, MemoryError):
        raise SandboxViolation("expression too deeply nested") from None


def evaluate(
    source: str, names: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None
) -> Any:
    """Evaluate a checked expression over ``names`` (task data) and extra ``functions``."""
    code = compile_checked(source, "eval")
    # One namespace so names stay visible inside comprehensions.
    scope = {**names, **(functions or {}), **_INTERNALS, "__builtins__": SAFE_BUILTINS}
    meter = work.begin()
    try:
        return eval(code, scope)  # noqa: S307 - checked by the allow-list above
    finally:
        work.end(meter)


def execute(
    source: str, data: dict[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None
) -> None:
    """Run a checked script that reads and assigns variables in ``data``."""
    code = compile_checked(source, "exec")
    helpers = dict(functions or {})
    scope: dict[str, Any] = {**data, **helpers, **_INTERNALS, "__builtins__": SAFE_BUILTINS}
    meter = work.begin()
    try:
        exec(code, scope)  # noqa: S102 - checked by the allow-list above
    finally:
        work.end(meter)
    for key, value in scope.items():
        if key.startswith("__") or key in helpers or callable(value):
            continue
        data[key] = value
