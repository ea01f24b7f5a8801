"""Typed SQLAlchemy 2 models: organizations and people, deployed model versions, process instances,
consignments and the projections every page and API route reads (work items, jobs, timeline, escalations,
audit events), signing certificates and revocation lists."""

from .attachments import Attachment
from .base import Base
from .clock import SimulatedClockState
from .consignments import Consignment, TimelineEvent
from .notifications import Notification, OutboundEmail
from .organizations import ApiToken, Organization, User
from .process import MessageInbox, ModelVersion, ProcessInstance
from .signing import RevocationList, SigningCertificate, SigningPinGuard
from .statistics import ClearanceWeek, SlaCounter, StepDurationBucket
from .studio import ModelDraft
from .work import AuditEvent, AuditHead, Escalation, Job, WorkItem

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "AuditHead",
    "Base",
    "ClearanceWeek",
    "Consignment",
    "Escalation",
    "Job",
    "MessageInbox",
    "ModelDraft",
    "ModelVersion",
    "Notification",
    "Organization",
    "OutboundEmail",
    "ProcessInstance",
    "RevocationList",
    "SigningCertificate",
    "SigningPinGuard",
    "SimulatedClockState",
    "SlaCounter",
    "StepDurationBucket",
    "TimelineEvent",
    "User",
    "WorkItem",
]
