"""Serialization of workflow state and of deployed specs.

The spec is stored once per deployed version; an instance's state holds only its task tree and data
(compressed JSON). Restoring an instance reuses the spec objects already built for its version.

A finished workflow is stored as a compact final record instead: its end event and its final process
variables (what the task tree would still tell once nothing can run any more is in the timeline, the work
items, the jobs and the audit trail). Its ``serializer_version`` ends in ``FINAL_SUFFIX``; it cannot be
restored to a running workflow.

States are compressed with a preset dictionary (``zlib`` ``zdict``) of the words every state repeats: the
serializer's keys and the model's variable names. The dictionary's checksum is in each compressed value's
header, so values written with another dictionary, or with none, still read back.

Tasks are written and read by ``task_converter.FastTaskConverter``: SpiffWorkflow's format, in less time.
"""

from __future__ import annotations

import json
import zlib
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

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
from SpiffWorkflow.task import Task

from .dmn import PortalDMNEngine
from .specs import (
    ClockedCycleTimerEventDefinition,
    ClockedDurationTimerEventDefinition,
    ClockedTimeDateEventDefinition,
    ExternalServiceTask,
    PortalUserTask,
)
from .task_converter import FastTaskConverter, task_uuid


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
        restore = self.registry.restore
        workflow.tasks = {task_uuid(k): restore(v, workflow=workflow) for k, v in dct["tasks"].items()}
        workflow.task_tree = workflow.tasks.get(task_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _build_registries(task_converter=FastTaskConverter):
    spec_config = deepcopy(CAMUNDA_CONFIG)
    spec_config[Task] = task_converter
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


# Words that every stored state repeats. Never change a dictionary that has been used: add a new one to
# _DICTIONARIES and point _ZDICT at it (values name their dictionary by its Adler-32 checksum).
_ZDICT_1 = (
    b'"delta":{"updates":{},"deletions":[]},"typename":"Task"},"internal_data":{},"data":{},'
    b'"triggered":false,"last_state_change":1,"state":64,"task_spec":"","children":["","parent":"",'
    b'"id":"","correlations":{},"last_task":"","success":true,"completed":false,"tasks":{},"root":"",'
    b'"subprocesses":{},"bpmn_events":[],"typename":"BpmnWorkflow","event_fired":true,"payload":{},'
    b'"result_var":"","end":"","final":1,'
    b'"declaration_no":"","declaration_type":"","customs_branch":"","trader_org":"","goods":"",'
    b'"hs_codes":[""],"hs":"","containers":[""],"container_count":1,"awb":null,"bill_of_lading":"",'
    b'"sampling_place":"","request_preservation":false,"declaration_status":"accepted","lead_agency":"",'
    b'"co_agencies":[""],"result_deadline_wd":10,"port_move_ref":"","container_positions":{"move_ref":"",'
    b'"positions":[{"container_no":"","position":""}]},"nominated_containers":[""],"nomination_note":"",'
    b'"sampled_at":"","sample_count":1,"seal_numbers":"","trader_representative":"",'
    b'"customs_supervised":true,"notes":"","result":"pass","certificate_no":"","conclusion":"",'
    b'"issued_at":"","fee_vnd":0,"payment_method":"bank_transfer","payer_account":"","payment_ref":"",'
    b'"clearance_no":"","warehouse_address":"","proof_of_premises_ref":"","reason":"",'
    b'"undertaking_accepted":true,"preservation_approved":true,"decision_note":"","measure":"re_export",'
    b'"penalty_vnd":0,"note":"","action":"","comment":"","new_due_at":"","T00:00:00+07:00"'
)
_DICTIONARIES = {zlib.adler32(d): d for d in (_ZDICT_1,)}
_ZDICT = _ZDICT_1
FINAL_SUFFIX = "/final"


class FinishedWorkflow(Exception):
    """The stored state is a finished workflow's final record: there is nothing left to run."""


def compress(text: bytes, level: int = 6) -> bytes:
    packer = zlib.compressobj(level, zdict=_ZDICT)
    return packer.compress(text) + packer.flush()


def decompress(data: bytes) -> bytes:
    """Inflate a stored state, with the preset dictionary its header names (if any)."""
    if len(data) >= 6 and data[1] & 0x20:  # FDICT: the next four bytes are the dictionary's Adler-32
        dictionary = _DICTIONARIES.get(int.from_bytes(data[2:6], "big"))
        if dictionary is None:
            raise ValueError("the state was compressed with an unknown dictionary")
        unpacker = zlib.decompressobj(zdict=dictionary)
        return unpacker.decompress(data) + unpacker.flush()
    return zlib.decompress(data)


@dataclass(frozen=True)
class DeployedSpecs:
    """The parsed process spec of one deployed version with its embedded subprocess specs."""

    spec: Any
    subprocess_specs: dict[str, Any]


class WorkflowCodec:
    """Turn specs and workflow states into bytes and back."""

    version = VERSION

    def __init__(self, task_converter=FastTaskConverter) -> None:
        """:param task_converter: how tasks are written and read (SpiffWorkflow's own ``TaskConverter``
        writes the same format, more slowly: the tests compare the two)."""
        spec_registry, state_registry = _build_registries(task_converter)
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

    final_version = VERSION + FINAL_SUFFIX

    def dump_state(self, workflow: BpmnWorkflow) -> bytes:
        text = json.dumps(self._states.to_dict(workflow), separators=(",", ":"))
        # A running state is rewritten by every command: the fastest level (with the dictionary it is
        # as small as level 6 without one). A final record is written once, at level 9.
        return compress(text.encode(), 1)

    def dump_final(self, workflow: BpmnWorkflow, end: str | None) -> bytes:
        """The final record of a finished workflow: its end event and its final process variables."""
        record = {"final": 1, "end": end, "data": self._states.registry.convert(workflow.data)}
        return compress(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode(), 9)

    def load_final(self, data: bytes) -> dict[str, Any]:
        """Read a final record back: ``{"end": ..., "data": {...}}``."""
        record = json.loads(decompress(data))
        return {"end": record["end"], "data": self._states.registry.restore(record["data"])}

    def load_state(self, data: bytes, serializer_version: str, specs: DeployedSpecs) -> BpmnWorkflow:
        if serializer_version.endswith(FINAL_SUFFIX):
            raise FinishedWorkflow("the workflow has finished; only its final record is kept")
        dct = json.loads(decompress(data))
        if serializer_version in MIGRATIONS:
            dct["spec"] = {}
            MIGRATIONS[serializer_version](dct)
        return self._states.from_dict(dct, spec=specs.spec, subprocess_specs=specs.subprocess_specs)
