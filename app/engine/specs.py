"""Our task specs and timer event definitions, extending SpiffWorkflow through its own classes:

* ``PortalUserTask`` — a Camunda user task that also knows its ``candidateGroups`` and ``dueDate``;
* ``ExternalServiceTask`` — ``camunda:type="external"`` with a topic and ``camunda:inputOutput``
  mappings; it parks in STARTED until the worker reports the connector's answer;
* ``Clocked*TimerEventDefinition`` — timers that read the portal's injectable clock instead of
  ``datetime.now`` (SpiffWorkflow 3.2.0 calls the system clock directly in ``timer.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState


class PortalUserTask(UserTask):
    """A user task routed to an organization and role through ``camunda:candidateGroups``."""

    def __init__(self, wf_spec, bpmn_id, form, candidate_groups=None, due_date=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, form, **kwargs)
        self.candidate_groups = candidate_groups
        self.due_date = due_date


class ExternalServiceTask(ServiceTask):
    """A service task carried out by a connector outside the transaction (``camunda:type="external"``)."""

    def __init__(self, wf_spec, bpmn_id, topic=None, input_parameters=None, output_parameters=None, **kwargs):
        super().__init__(wf_spec, bpmn_id, **kwargs)
        self.topic = topic
        self.input_parameters = list(input_parameters or [])
        self.output_parameters = list(output_parameters or [])


def _now(my_task) -> datetime:
    return my_task.workflow.top_workflow.script_engine.now()


class ClockedTimeDateEventDefinition(TimeDateEventDefinition):
    """A timer at a fixed moment, compared with the portal clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            if isinstance(event_value, datetime):
                event_value = event_value.isoformat()
            event_value = TimerEventDefinition.get_datetime(event_value).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= _now(my_task):
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedDurationTimerEventDefinition(DurationTimerEventDefinition):
    """A timer a duration after it starts waiting, measured on the portal clock."""

    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        now = _now(my_task)
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            parsed = TimerEventDefinition.parse_iso_duration(expression)
            event_value = (now + TimerEventDefinition.get_timedelta_from_start(parsed, now)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        if TimerEventDefinition.get_datetime(event_value) <= now:
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)


class ClockedCycleTimerEventDefinition(CycleTimerEventDefinition):
    """A repeating timer (``R3/PT1H``) on the portal clock; a cycle without a start begins now."""

    def cycle_complete(self, my_task):
        now = _now(my_task)
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            event_value = parse_cycle(expression, now)
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready

    def update_task(self, my_task):
        if self.cycle_complete(my_task):
            for output in my_task.task_spec.outputs:
                child = my_task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
                child.task_spec._update(child)


def parse_cycle(expression: str, now: datetime) -> dict:
    parts = expression.upper().replace("--", "/").strip("R").split("/")
    cycles = int(parts[0]) if parts[0] else -1
    if len(parts) == 2 and parts[1].startswith("P"):
        duration = TimerEventDefinition.get_timedelta_from_start(
            TimerEventDefinition.parse_iso_duration(parts[1]), now
        )
        start = now + duration
    else:
        cycles, start, duration = TimerEventDefinition.parse_iso_recurring_interval(expression)
    return {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}


TIMER_CLASSES = {
    TimeDateEventDefinition: ClockedTimeDateEventDefinition,
    DurationTimerEventDefinition: ClockedDurationTimerEventDefinition,
    CycleTimerEventDefinition: ClockedCycleTimerEventDefinition,
}
