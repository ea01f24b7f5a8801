"""Parse the model bundle: SpiffWorkflow's ``CamundaParser`` extended through its class map for
``candidateGroups``, ``dueDate``, external-topic service tasks with ``inputOutput``, clocked timers, and
``camunda:properties`` on every flow node (the Vietnamese step name ``name_vi`` among them).
XML is read with entities, DTDs and network access disabled."""

from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser, BpmnValidator, full_tag
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent, IntermediateCatchEvent, StartEvent
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import (
    CamundaBoundaryEventParser,
    CamundaIntermediateCatchEventParser,
    CamundaStartEventParser,
)
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, UserTaskParser

from .dmn import PortalDMNEngine
from .specs import TIMER_CLASSES, ExternalServiceTask, PortalUserTask

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
MAX_XML_BYTES = 5 * 1024 * 1024


class UnsafeXml(ValueError):
    """The XML document is malformed, too large, or uses DTDs/entities."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def parse_xml_safely(data: bytes, filename: str = "<bundle>") -> etree._Element:
    """Parse untrusted XML: no DTD, no entity expansion, no network, bounded size.

    Messages do not repeat ``filename``: whoever reports the problem names the file once.

    :raises UnsafeXml: with a message and, where known, the line.
    """
    del filename  # kept in the signature for callers that pass it; the problem names the file
    if len(data) > MAX_XML_BYTES:
        raise UnsafeXml(too_large_message(len(data), MAX_XML_BYTES), 1)
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise UnsafeXml("DOCTYPE and entity declarations are not allowed", 1)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=True
    )
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeXml(f"not well-formed XML: {exc.msg}", exc.lineno or 1) from None
    if root is None:
        raise UnsafeXml("empty document", 1)
    return root


def too_large_message(size: int | None, limit: int) -> str:
    """``file larger than 5 MB (150.5 MB)``: the limit, then the size found when it is known."""
    found = f" ({_megabytes(size)})" if size is not None else ""
    return f"file larger than {_megabytes(limit)}{found}"


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    megabytes = size / (1024 * 1024)
    return f"{megabytes:.0f} MB" if megabytes.is_integer() else f"{megabytes:.1f} MB"


class ClockedTimerMixin:
    """Swap SpiffWorkflow's timer definitions for ones that read the portal clock."""

    def parse_timer_event(self, event):
        definition = super().parse_timer_event(event)
        clocked = TIMER_CLASSES.get(type(definition))
        if clocked is None:
            return definition
        return clocked(definition.name, definition.expression, description=definition.description)


class PortalStartEventParser(ClockedTimerMixin, CamundaStartEventParser):
    pass


class PortalIntermediateCatchEventParser(ClockedTimerMixin, CamundaIntermediateCatchEventParser):
    pass


class PortalBoundaryEventParser(ClockedTimerMixin, CamundaBoundaryEventParser):
    pass


class PortalUserTaskParser(UserTaskParser):
    """Read ``camunda:candidateGroups`` and ``camunda:dueDate`` besides the form."""

    def create_task(self):
        return self.spec_class(
            self.spec,
            self.bpmn_id,
            form=self.get_form(),
            candidate_groups=self.node.get(f"{{{CAMUNDA_NS}}}candidateGroups"),
            due_date=self.node.get(f"{{{CAMUNDA_NS}}}dueDate"),
            **self.bpmn_attributes,
        )


class ExternalServiceTaskParser(CamundaTaskParser):
    """Read ``camunda:type``/``camunda:topic`` and ``camunda:inputOutput`` text parameters."""

    def create_task(self):
        inputs = [
            (n.get("name"), n.text or "") for n in self.xpath(".//camunda:inputOutput/camunda:inputParameter")
        ]
        outputs = [
            (n.get("name"), n.text or "")
            for n in self.xpath(".//camunda:inputOutput/camunda:outputParameter")
        ]
        for node in self.xpath(".//camunda:inputOutput/*/*"):
            self.raise_validation_exception(
                f"parameter '{node.getparent().get('name')}' uses <{etree.QName(node).localname}>; "
                "only text expressions are supported"
            )
        topic = self.node.get(f"{{{CAMUNDA_NS}}}topic")
        return self.spec_class(
            self.spec,
            self.bpmn_id,
            topic=topic,
            input_parameters=inputs,
            output_parameters=outputs,
            **self.bpmn_attributes,
        )


class OwnPropertiesMixin:
    """Read an element's own ``camunda:properties`` into its spec's ``extensions``.

    SpiffWorkflow reads them for tasks only (gateways and events get none), and for a sub-process it also
    collects the properties of every step inside it; analysts give each flow node its own (``name_vi``)."""

    def parse_extensions(self, node=None):
        return {
            prop.get("name"): prop.get("value")
            for prop in self.xpath("./bpmn:extensionElements/camunda:properties/camunda:property")
        }


def _with_own_properties(parser_class: type) -> type:
    return type(parser_class.__name__, (OwnPropertiesMixin, parser_class), {})


_PARSER_CLASSES = {
    **BpmnParser.PARSER_CLASSES,
    **CamundaParser.OVERRIDE_PARSER_CLASSES,
    full_tag("userTask"): (PortalUserTaskParser, PortalUserTask),
    full_tag("serviceTask"): (ExternalServiceTaskParser, ExternalServiceTask),
    full_tag("startEvent"): (PortalStartEventParser, StartEvent),
    full_tag("intermediateCatchEvent"): (PortalIntermediateCatchEventParser, IntermediateCatchEvent),
    full_tag("boundaryEvent"): (PortalBoundaryEventParser, BoundaryEvent),
}


class PortalParser(CamundaParser):
    """The bundle parser the portal deploys and validates with."""

    OVERRIDE_PARSER_CLASSES = {
        tag: (_with_own_properties(parser), spec) for tag, (parser, spec) in _PARSER_CLASSES.items()
    }

    def __init__(self, validate_schema: bool = True) -> None:
        super().__init__(validator=BpmnValidator() if validate_schema else None)

    def get_engine(self, decision_ref, node):
        return PortalDMNEngine(super().get_engine(decision_ref, node).decision_table)
