"""Sandbox for analyst-authored expressions and scripts (gateway conditions, DMN cells, timers,
service-task input mappings, script tasks).

Code is checked against an allow-list of syntax before it runs: no imports, no attribute or name that
starts with an underscore, no function or class definitions, no loops other than comprehensions, and
only a small set of harmless builtins. Exponents of ``**`` and ``<<`` must be small constants and every
``*`` is checked at run time, so an expression cannot allocate without limit; ``range`` is capped.
Not bounded: CPU time of a long comprehension over large task data (no process-level timeout yet).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any


class SandboxViolation(ValueError):
    """The expression uses something the sandbox does not allow."""


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
MAX_REPEAT = 10_000
MAX_SCRIPT_CHARS = 20_000


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_REPEAT:
        raise SandboxViolation(f"range() larger than {MAX_REPEAT} elements")
    return r


SAFE_BUILTINS: dict[str, Any] = {
    "len": len,
    "min": min,
    "max": max,
    "sum": sum,
    "any": any,
    "all": all,
    "abs": abs,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "sorted": sorted,
    "range": _bounded_range,
    "enumerate": enumerate,
    "zip": zip,
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

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_") or node.attr not in _SAFE_METHODS:
            raise SandboxViolation(f"attribute {node.attr!r} is not allowed")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, (ast.Pow, ast.LShift)) and not (
            isinstance(node.right, ast.Constant)
            and isinstance(node.right.value, int)
            and abs(node.right.value) <= MAX_POWER_EXPONENT
        ):
            raise SandboxViolation(f"'**' and '<<' need a constant exponent of at most {MAX_POWER_EXPONENT}")
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.format_spec is not None:
            raise SandboxViolation("format specifications (f'{x:...}') are not allowed")
        self.generic_visit(node)


_GUARDED_OPS = {ast.Mult: "__sandbox_mul__", ast.Pow: "__sandbox_pow__", ast.LShift: "__sandbox_lshift__"}


class _GuardRepetition(ast.NodeTransformer):
    """Route ``*``, ``**`` and ``<<`` through checked functions so ``"x" * 10**9`` or a tower of powers
    cannot exhaust memory or CPU."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARDED_OPS.get(type(node.op))
        if guard:
            call = ast.Call(
                func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right], keywords=[]
            )
            return ast.copy_location(call, node)
        return node


def _checked_mul(a: Any, b: Any) -> Any:
    for seq, times in ((a, b), (b, a)):
        if (
            isinstance(seq, (str, bytes, list, tuple))
            and isinstance(times, int)
            and len(seq) * times > MAX_REPEAT * 10
        ):
            raise SandboxViolation(f"repetition longer than {MAX_REPEAT * 10} elements")
    return a * b


MAX_RESULT_BITS = 4096


def _checked_pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and abs(a) > 1 and b * abs(a).bit_length() > MAX_RESULT_BITS:
        raise SandboxViolation(f"power result larger than {MAX_RESULT_BITS} bits")
    return a**b


def _checked_lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and abs(a).bit_length() + b > MAX_RESULT_BITS:
        raise SandboxViolation(f"shift result larger than {MAX_RESULT_BITS} bits")
    return a << b


_INTERNALS: dict[str, Any] = {
    "__sandbox_mul__": _checked_mul,
    "__sandbox_pow__": _checked_pow,
    "__sandbox_lshift__": _checked_lshift,
}


@lru_cache(maxsize=4096)
def compile_checked(source: str, mode: str = "eval") -> Any:
    """Parse, check and compile ``source``; the result is cached by text.

    :raises SandboxViolation: for syntax the sandbox refuses (also for syntax errors).
    """
    if len(source) > MAX_SCRIPT_CHARS:
        raise SandboxViolation(f"expression longer than {MAX_SCRIPT_CHARS} characters")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
        _Checker().visit(tree)
        tree = ast.fix_missing_locations(_GuardRepetition().visit(tree))
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
    return eval(code, scope)  # noqa: S307 - checked by the allow-list above


def execute(
    source: str, data: dict[str, Any], functions: Mapping[str, Callable[..., Any]] | None = None
) -> None:
    """Run a checked script that reads and assigns variables in ``data``."""
    code = compile_checked(source, "exec")
    helpers = dict(functions or {})
    scope: dict[str, Any] = {**data, **helpers, **_INTERNALS, "__builtins__": SAFE_BUILTINS}
    exec(code, scope)  # noqa: S102 - checked by the allow-list above
    for key, value in scope.items():
        if key.startswith("__") or key in helpers or callable(value):
            continue
        data[key] = value
