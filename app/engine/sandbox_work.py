"""The work meter of the sandbox: how much an analyst's expression or script may do in one evaluation.

Every operation whose cost grows with the size of its operands is routed, by the sandbox's AST rewrite,
through a guard here that charges its size to the evaluation's meter before or right after it runs:
each item a comprehension draws, each element a builtin or a method walks or builds, the length of a
repeated or concatenated sequence, the text an f-string or ``str()`` produces, a sliced copy, the
operands of a comparison. The budget (``MAX_WORK`` steps) is deterministic: the same expression over
the same data passes or fails the same way on any machine. A CPU-time backstop (``MAX_CPU_SECONDS`` of
the thread's CPU, checked every ``_CHECK_EVERY`` charges) catches what the size model underprices, such as
deep equality of nested structures: it is generous, so a legitimate expression never comes near it.

No single guarded operation costs more than the size of the task data (request bodies are capped), so the
budget bounds both the time and the memory an evaluation can take.
"""

from __future__ import annotations

import operator
import threading
import time
from typing import Any

MAX_WORK = 1_000_000  # steps per evaluation: an item drawn, an element walked, a character produced
MAX_CPU_SECONDS = 2.0  # the backstop, in CPU seconds of the evaluating thread
MAX_RESULT_BITS = 4096
MAX_SEQUENCE = 100_000  # longest sequence one repetition may build
_CHECK_EVERY = 256  # charges between two looks at the thread's CPU clock
_SEQUENCES = (str, bytes, list, tuple)
_SCANNED = (str, bytes, list, tuple, type({}.values()))  # what `in` searches item by item
_COLLECTIONS = (
    str,
    bytes,
    list,
    tuple,
    dict,
    set,
    frozenset,
    range,
    type({}.keys()),
    type({}.values()),
    type({}.items()),
)


class SandboxViolation(ValueError):
    """The expression uses something the sandbox does not allow."""


class WorkLimitExceeded(SandboxViolation):
    """The evaluation did more work than the sandbox allows."""


class Meter:
    """The work left to the evaluation running on one thread (see ``begin``)."""

    __slots__ = ("left", "charges", "cpu_deadline", "depth")

    def __init__(self) -> None:
        self.depth = 0
        self.reset()

    def reset(self) -> None:
        self.left = MAX_WORK
        self.charges = 0
        self.cpu_deadline: float | None = None  # set at the first look at the clock (reading it costs)


_local = threading.local()


def begin() -> Meter:
    """Start metering an evaluation on this thread (an evaluation inside another shares its budget)."""
    meter = getattr(_local, "meter", None)
    if meter is None:
        meter = _local.meter = Meter()
    if meter.depth == 0:
        meter.reset()
    meter.depth += 1
    return meter


def end(meter: Meter) -> None:
    meter.depth -= 1


def charge(units: int) -> None:
    """Spend ``units`` steps of the current evaluation's budget (nothing outside an evaluation).

    Functions offered to expressions (working-time helpers) call this for work that grows with their
    arguments."""
    meter: Meter | None = getattr(_local, "meter", None)
    if meter is None or not meter.depth:
        return
    meter.left -= units
    if meter.left < 0:
        raise WorkLimitExceeded(
            f"the expression does too much work (more than {MAX_WORK:,} steps: items drawn, elements "
            "walked or built); work on less data or split it into several steps"
        )
    meter.charges += 1
    if meter.charges % _CHECK_EVERY == 0:
        now = time.thread_time()
        if meter.cpu_deadline is None:
            meter.cpu_deadline = now + MAX_CPU_SECONDS
        elif now > meter.cpu_deadline:
            raise WorkLimitExceeded(f"the expression ran longer than {MAX_CPU_SECONDS:g} s of CPU time")


def size_of(value: Any) -> int:
    """The steps walking ``value`` costs: its length for a collection or text, else one."""
    return len(value) if isinstance(value, _COLLECTIONS) else 1


# -- guards the AST rewrite calls -----------------------------------------------------------------------
def draw(iterable: Any) -> Any:
    """The iterable of a comprehension: a sized one is charged its length at once, any other per item."""
    if isinstance(iterable, _COLLECTIONS):
        charge(len(iterable) + 1)
        return iterable
    return _counted(iterable)


def _counted(iterable: Any) -> Any:
    for item in iterable:
        charge(1)
        yield item


def operand(value: Any) -> Any:
    """An operand of a comparison, or a key: equality, order and hashing walk a collection."""
    if isinstance(value, _COLLECTIONS):
        charge(len(value))
    return value


def container(value: Any) -> Any:
    """The right side of ``in`` / ``not in``: a scan for sequences and text, a look-up for dicts and sets."""
    if isinstance(value, _SCANNED):
        charge(len(value))
    return value


def sized(value: Any) -> Any:
    """A value just built (a slice): charged its size."""
    if isinstance(value, _COLLECTIONS):
        charge(len(value))
    return value


def text(value: Any, conversion: int) -> str:
    """The text of an f-string's ``{value}`` (``!r``/``!s``/``!a`` applied here), charged its length."""
    if conversion == ord("r"):
        out = repr(value)
    elif conversion == ord("a"):
        out = ascii(value)
    else:
        out = format(value, "")
    charge(len(out) + 1)
    return out


def call_method(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``obj.name(...)`` for a method on the sandbox's allow-list: charged the receiver's length when the
    method walks it (text, lists), one step for dict look-ups, and the sizes of the arguments."""
    units = len(obj) if isinstance(obj, _SEQUENCES) else 0  # dict look-ups and views cost no walk
    for arg in args:
        if isinstance(arg, _COLLECTIONS):
            units += len(arg)
    if units:
        charge(units)
    result = getattr(obj, name)(*args, **kwargs)
    if isinstance(result, _COLLECTIONS):  # split() and friends build a new collection
        charge(len(result))
    return result


def _check_multiply(a: Any, b: Any) -> None:
    for seq, times in ((a, b), (b, a)):
        if isinstance(seq, _SEQUENCES) and isinstance(times, int):
            length = len(seq) * times
            if length > MAX_SEQUENCE:
                raise SandboxViolation(f"repetition longer than {MAX_SEQUENCE} elements")
            charge(max(length, 1))
            return
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_RESULT_BITS:
        raise SandboxViolation(f"product larger than {MAX_RESULT_BITS} bits")


def _check_add(a: Any, b: Any) -> None:
    if isinstance(a, _COLLECTIONS) and isinstance(b, _COLLECTIONS):  # list += dict extends by its keys
        charge(len(a) + len(b) + 1)


def _check_modulo(a: Any, b: Any) -> None:
    if isinstance(a, (str, bytes)):
        raise SandboxViolation("'%' formatting of text is not allowed; use an f-string")


def _check_power(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and abs(a) > 1 and b * abs(a).bit_length() > MAX_RESULT_BITS:
        raise SandboxViolation(f"power result larger than {MAX_RESULT_BITS} bits")


def _check_shift_left(a: Any, b: Any) -> None:
    if isinstance(a, int) and isinstance(b, int) and a and abs(a).bit_length() + b > MAX_RESULT_BITS:
        raise SandboxViolation(f"shift result larger than {MAX_RESULT_BITS} bits")


def multiply(a: Any, b: Any) -> Any:
    _check_multiply(a, b)
    return a * b


def add(a: Any, b: Any) -> Any:
    _check_add(a, b)
    return a + b


def modulo(a: Any, b: Any) -> Any:
    _check_modulo(a, b)
    return a % b


def power(a: Any, b: Any) -> Any:
    _check_power(a, b)
    return a**b


def shift_left(a: Any, b: Any) -> Any:
    _check_shift_left(a, b)
    return a << b


_CHECKS = {
    "Mult": _check_multiply,
    "Add": _check_add,
    "Mod": _check_modulo,
    "Pow": _check_power,
    "LShift": _check_shift_left,
}
_IN_PLACE = {
    "Add": operator.iadd,
    "Sub": operator.isub,
    "Mult": operator.imul,
    "Div": operator.itruediv,
    "FloorDiv": operator.ifloordiv,
    "Mod": operator.imod,
    "Pow": operator.ipow,
    "LShift": operator.ilshift,
    "RShift": operator.irshift,
    "BitAnd": operator.iand,
    "BitOr": operator.ior,
    "BitXor": operator.ixor,
}


def in_place(op: str, a: Any, b: Any) -> Any:
    """``a op= b`` as Python does it (a list's ``+=`` extends the same list by any iterable), after the
    checks and charges of the binary operator."""
    check = _CHECKS.get(op)
    if check is not None:
        check(a, b)
    return _IN_PLACE[op](a, b)


def metered_builtin(function: Any, result_charged: bool = False) -> Any:
    """Wrap a builtin offered to expressions: charged the sizes of the collections it is given (and, for
    those that build text, the length of its result). Builtins that cost the same whatever their
    arguments (``len``, ``abs``, ``bool``) are offered unwrapped."""

    def call(*args: Any, **kwargs: Any) -> Any:
        units = len(kwargs)
        for arg in args:
            if isinstance(arg, _COLLECTIONS):
                units += len(arg)
        if units:
            charge(units)
        result = function(*args, **kwargs)
        if result_charged and isinstance(result, _COLLECTIONS):
            charge(len(result))
        return result

    call.__name__ = function.__name__
    call.__doc__ = function.__doc__
    return call
