"""Commands: every change of state the portal makes, each run by the command executor in one transaction.

* ``registration`` — a trader registers a consignment (starts its process instance);
* ``work_items`` — claim, release and complete the user tasks officers and traders work;
* ``jobs`` — the worker claims service-task jobs, reports their results or failures; incidents are retried;
* ``messages`` — callbacks from outside systems (the port's ``ContainerPositioned``);
* ``port`` — the port operator reports container positions on the portal when the port's system cannot;
* ``timers`` — fire due BPMN timers; raise "stalled consignment" escalations;
* ``profile`` — a person's language and notifications read;
* ``deployment`` — deploy a model bundle as a new immutable version;
* ``migration`` — move a running consignment to another deployed version;
* ``pki`` — the PKI administrator's actions: issue, register and revoke signing certificates, load CRLs.
"""

from .deployment import DeployBundle
from .jobs import ClaimDueJobs, CompleteJob, FailJob, RetryIncident
from .messages import CorrelateMessage
from .migration import MigrateConsignment
from .pki import IssueCertificate, LoadCrl, RegisterCertificate, RevokeCertificate
from .port import ReportContainersPositioned
from .profile import MarkNotificationsRead, SetLanguage
from .registration import RegisterConsignment
from .timers import DetectStalledConsignments, FireDueTimers
from .work_items import ClaimWorkItem, CompleteWorkItem, ReassignWorkItem, ReleaseWorkItem

__all__ = [
    "ClaimDueJobs",
    "ClaimWorkItem",
    "CompleteJob",
    "CompleteWorkItem",
    "CorrelateMessage",
    "DeployBundle",
    "DetectStalledConsignments",
    "FailJob",
    "FireDueTimers",
    "IssueCertificate",
    "LoadCrl",
    "MarkNotificationsRead",
    "MigrateConsignment",
    "ReassignWorkItem",
    "RegisterCertificate",
    "RegisterConsignment",
    "ReportContainersPositioned",
    "ReleaseWorkItem",
    "RetryIncident",
    "RevokeCertificate",
    "SetLanguage",
]
