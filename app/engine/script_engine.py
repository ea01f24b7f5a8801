"""The script engine SpiffWorkflow uses for every expression: sandboxed, clock-aware, with the
working-time functions analysts may call (``working_hours(n)``, ``working_days(n)``, and
``hours_after(moment, n)`` for round-the-clock deadlines counted from an earlier moment)."""

from __future__ import annotations

import ast
import math
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import sandbox
from .working_time import WorkingCalendar


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Evaluate and execute through the sandbox instead of plain ``eval``/``exec``."""

    def __init__(self, functions: dict[str, Any]) -> None:
        super().__init__({})
        self.functions = functions

    def evaluate(self, expression, context, external_context=None):
        names = dict(context)
        if external_context:
            names.update(external_context)
        return sandbox.evaluate(expression, names, self.functions)

    def execute(self, script, context, external_context=None):
        sandbox.execute(script, context, {**self.functions, **(external_context or {})})
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks run as external jobs, not inline")


SandboxViolation = sandbox.SandboxViolation


@lru_cache(maxsize=4096)
def _syntax_error(expression: str) -> tuple | None:
    """The arguments of the SyntaxError parsing ``expression`` raises, or None; cached by text (the DMN
    engine asks this of every cell of a decision table each time the table runs)."""
    try:
        ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        return exc.args
    return None


def _days_walked(days: float) -> int:
    """The sandbox's price of walking the calendar ``days`` working days ahead: a day costs the calendar
    about as much as a few dozen of the steps the sandbox counts (a year of deadlines stays well within
    one evaluation's budget, ``working_days(10**6)`` does not)."""
    return 20 * max(int(days), 0) + 1 if math.isfinite(days) else sandbox.MAX_WORK + 1


class PortalScriptEngine(PythonScriptEngine):
    """One engine per command: it carries the command's fixed ``now`` and the working calendar."""

    def __init__(self, now: datetime, calendar: WorkingCalendar) -> None:
        self._now = now
        self.calendar = calendar
        functions = {
            "working_hours": self.working_hours,
            "working_days": self.working_days,
            "hours_after": self.hours_after,
        }
        super().__init__(environment=SandboxEnvironment(functions))

    def now(self) -> datetime:
        return self._now

    def working_hours(self, hours: float) -> str:
        """Return the ISO moment ``hours`` working hours from now."""
        sandbox.charge(_days_walked(float(hours) / self.calendar.hours_per_day))
        return self.calendar.add_working_hours(self._now, float(hours)).isoformat()

    def working_days(self, days: int) -> str:
        """Return the ISO moment ``days`` working days from now (end of office hours)."""
        sandbox.charge(_days_walked(int(days)))
        return self.calendar.add_working_days(self._now, int(days)).isoformat()

    @staticmethod
    def hours_after(moment: str, hours: float) -> str:
        """Return the ISO moment ``hours`` clock hours after the ISO moment ``moment`` (for deadlines that
        run round the clock from an earlier event, e.g. the port's 12 hours from registration)."""
        start = datetime.fromisoformat(str(moment))
        if start.tzinfo is None:
            raise ValueError(f"hours_after needs a moment with its time zone, got {moment!r}")
        return (start + timedelta(hours=float(hours))).isoformat()

    def validate(self, expression):
        # SyntaxError must surface as such: the DMN engine relies on it to add an implicit "==".
        error = _syntax_error(expression)
        if error is not None:
            raise SyntaxError(*error)
        sandbox.compile_checked(expression, "eval")

    def call_service(self, task, **kwargs):
        # 3.2.0's version refers to an undefined name on its error path; ours never runs inline.
        raise WorkflowTaskException("service tasks run as external jobs", task=task)

    def evaluate(self, task, expression, external_context=None):
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as exc:
            exc.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as exc:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {exc}", task=task, exception=exc
            ) from exc
