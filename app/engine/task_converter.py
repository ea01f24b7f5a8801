"""SpiffWorkflow's task converter with fast paths: the same stored format, written and read in less time.

Every command writes the whole task tree of its workflow and most commands read one (when the warm cache
of the process does not hold it), so this converter runs for every task of every state. SpiffWorkflow's
own ``TaskConverter`` (3.2.0) stores each task's data as its changes against its parent's data and
restores it by merging the parent's data in again. This class writes and reads exactly that format (the
tests compare both converters' output), with the common cases done directly:

- a task whose data equals its parent's (most of them) is compared once, in C, instead of key by key;
- restoring a task copies its parent's data with one comprehension that does what ``DeepMerge.merge``
  does into an empty dict (a shallow copy of each dict, list and set value);
- empty ``internal_data`` and empty delta updates are not walked by the registry;
- task ids are parsed into ``UUID`` objects through a cache: each id is read three or four times in one
  state (as the task's key, its id, its parent's child and its children's parent) and again in the next
  state of the same instance.
"""

from __future__ import annotations

from copy import copy
from functools import lru_cache
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import TaskConverter
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState

_MUTABLE = (dict, list, set)
_PLAIN = frozenset(_MUTABLE)

# UUIDs are immutable, so one object can stand for every occurrence of an id, and its text is the same.
task_uuid = lru_cache(maxsize=16384)(UUID)
uuid_text = lru_cache(maxsize=16384)(str)


def _copy_value(value):
    return value.copy() if type(value) in _PLAIN else copy(value)


def _copy_data(parent_data: dict) -> dict:
    """What ``DeepMerge.merge({}, parent_data)`` returns, without its per-key bookkeeping: the same keys,
    each dict, list or set value copied one level deep (``copy.copy``; ``.copy()`` for the plain types)."""
    return {k: _copy_value(v) if isinstance(v, _MUTABLE) else v for k, v in parent_data.items()}


class FastTaskConverter(TaskConverter):
    """Write and read a task exactly as ``TaskConverter`` does, with the common cases done directly."""

    def to_dict(self, task):
        parent = task.workflow.tasks.get(task._parent) if task._parent is not None else None
        if parent is None:
            data, delta = task.data, {}
        else:
            data, before, after = {}, parent.data, task.data
            if before == after:
                delta = {"updates": {}, "deletions": []}  # what the key-by-key comparison would give
            else:
                delta = {
                    "updates": {k: v for k, v in after.items() if k not in before or v != before[k]},
                    "deletions": [k for k in before if k not in after],
                }
        internal = task.internal_data
        return {
            "id": uuid_text(task.id),
            "parent": uuid_text(task._parent) if parent is not None else None,
            "children": [uuid_text(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(internal) if internal else {},
            "data": data,
            "delta": delta,
        }

    def from_dict(self, dct, workflow):
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=task_uuid(dct["id"]))
        parent_id = dct["parent"]
        task._parent = task_uuid(parent_id) if parent_id is not None else None
        task._children = [task_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        internal = dct["internal_data"]
        task.internal_data = self.registry.restore(internal) if internal else {}
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)

        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if delta and task._parent is not None else None
        if parent is not None:
            data = _copy_data(parent.data)
            updates = delta.get("updates")
            if updates:
                data.update(self.registry.restore(updates))
            for key in delta.get("deletions", ()):
                data.pop(key, None)
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task
