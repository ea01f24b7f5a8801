"""Serialization of workflow state and of deployed specs.

The spec is stored once per deployed version; an instance's state holds only its task tree and data
(compressed JSON). Restoring an instance reuses the spec objects already built for its version.
"""

from __future__ import annotations

import json
import zlib
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.spec import TaskSpecConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.serializer.task_spec import UserTaskConverter
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.camunda.specs.user_task import Form
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter

from .dmn import PortalDMNEngine
from .specs import (
    ClockedCycleTimerEventDefinition,
    ClockedDurationTimerEventDefinition,
    ClockedTimeDateEventDefinition,
    ExternalServiceTask,
    PortalUserTask,
)


class PortalUserTaskConverter(UserTaskConverter):
    def to_dict(self, spec):
        dct = super().to_dict(spec)
        dct["candidate_groups"] = spec.candidate_groups
        dct["due_date"] = spec.due_date
        return dct

    def from_dict(self, dct):
        dct["form"] = Form(init=dct["form"])
        return self.task_spec_from_dict(dct)


class PortalBusinessRuleTaskConverter(BaseBusinessRuleTaskConverter):
    def from_dict(self, dct):
        spec = super().from_dict(dct)
        spec.dmnEngine = PortalDMNEngine(spec.dmnEngine.decision_table)
        return spec


class ExternalServiceTaskConverter(TaskSpecConverter):
    def to_dict(self, spec):
        dct = self.get_default_attributes(spec)
        dct["topic"] = spec.topic
        dct["input_parameters"] = [list(p) for p in spec.input_parameters]
        dct["output_parameters"] = [list(p) for p in spec.output_parameters]
        return dct

    def from_dict(self, dct):
        dct["input_parameters"] = [tuple(p) for p in dct["input_parameters"]]
        dct["output_parameters"] = [tuple(p) for p in dct["output_parameters"]]
        return self.task_spec_from_dict(dct)


class StatelessSpecWorkflowConverter(BpmnWorkflowConverter):
    """Write a workflow without its spec; restore it onto spec objects the caller already holds."""

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            raise ValueError("restoring an instance needs its deployed spec")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _build_registries():
    spec_config = deepcopy(CAMUNDA_CONFIG)
    spec_config[PortalUserTask] = PortalUserTaskConverter
    spec_config[ExternalServiceTask] = ExternalServiceTaskConverter
    spec_config[BusinessRuleTask] = PortalBusinessRuleTaskConverter
    for timer in (
        ClockedTimeDateEventDefinition,
        ClockedDurationTimerEventDefinition,
        ClockedCycleTimerEventDefinition,
    ):
        spec_config[timer] = TimerConditionalEventDefinitionConverter
    spec_registry = BpmnWorkflowSerializer.configure(spec_config)
    state_config = dict(spec_config)
    state_config[BpmnWorkflow] = StatelessSpecWorkflowConverter
    state_registry = BpmnWorkflowSerializer.configure(state_config)
    return spec_registry, state_registry


@dataclass(frozen=True)
class DeployedSpecs:
    """The parsed process spec of one deployed version with its embedded subprocess specs."""

    spec: Any
    subprocess_specs: dict[str, Any]


class WorkflowCodec:
    """Turn specs and workflow states into bytes and back."""

    version = VERSION

    def __init__(self) -> None:
        spec_registry, state_registry = _build_registries()
        self._specs = BpmnWorkflowSerializer(spec_registry)
        self._states = BpmnWorkflowSerializer(state_registry)

    @property
    def spec_registry(self):
        """The converter registry for specs (what SpiffWorkflow's diff compares specs with)."""
        return self._specs.registry

    def dump_specs(self, spec, subprocess_specs: dict[str, Any]) -> str:
        return json.dumps(
            {
                "spec": self._specs.to_dict(spec),
                "subprocess_specs": {name: self._specs.to_dict(s) for name, s in subprocess_specs.items()},
            },
            separators=(",", ":"),
        )

    def load_specs(self, text: str) -> DeployedSpecs:
        dct = json.loads(text)
        return DeployedSpecs(
            spec=self._specs.from_dict(dct["spec"]),
            subprocess_specs={name: self._specs.from_dict(s) for name, s in dct["subprocess_specs"].items()},
        )

    def dump_state(self, workflow: BpmnWorkflow) -> bytes:
        text = json.dumps(self._states.to_dict(workflow), separators=(",", ":"))
        return zlib.compress(text.encode(), 6)

    def load_state(self, data: bytes, serializer_version: str, specs: DeployedSpecs) -> BpmnWorkflow:
        dct = json.loads(zlib.decompress(data))
        if serializer_version in MIGRATIONS:
            dct["spec"] = {}
            MIGRATIONS[serializer_version](dct)
        return self._states.from_dict(dct, spec=specs.spec, subprocess_specs=specs.subprocess_specs)
