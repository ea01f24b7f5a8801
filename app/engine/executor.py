"""The command executor: every change of state runs here, in one transaction.

For each command it opens a write session, fixes "now" from the injected clock, lets the command load
instances and change them, runs the engine until the workflow waits, writes all projections, appends
audit events, and commits with an optimistic revision check. A lost race raises ``StaleRevision``
(HTTP 409); side effects registered with ``after_commit`` run only once the commit succeeded.

Commands marked ``optimistic`` (those whose every decision rests on rows the revision check covers) do
their reads and CPU work (load, engine steps, projections, serialization) before the database's write
lock is taken: the session does not autoflush while the command runs, so the first write is the
revision-checked UPDATE in ``save``, and the lock covers only the writes and the audit append. If that
check, a work item's state check or a unique constraint then finds that another command got there first,
the command runs again with the write lock held from the start, exactly as a pessimistic command would.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.db import Database, is_sqlite
from app.models import Consignment, Job, MessageInbox, Organization, ProcessInstance, TimelineEvent, WorkItem

from . import audit, projections, statistics
from .clock import Clock
from .errors import Conflict, EngineFailure, LostRace, PortalError, StaleRevision
from .late_rows import LateRow, column_values, insert_rows, write_changes
from .runtime import Runtime
from .script_engine import PortalScriptEngine
from .serializer import FinishedWorkflow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who runs a command: a signed-in user, an API client, or the system (worker, timers)."""

    username: str
    organization: str | None
    role: str
    user_id: int | None = None


SYSTEM = Actor("system", None, "system")
_STALE = "the consignment was changed by someone else; reload and try again"
_WRITTEN_IN_CORE = (Consignment, WorkItem, Job)  # what nearly every command changes (see late_rows)
_INSTANCES = ProcessInstance.__table__
_ADD_TIMELINE = insert(TimelineEvent.__table__)
_SAVE_STATE = (
    update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("instance_id"), _INSTANCES.c.revision == bindparam("read_revision"))
    .values(
        state=bindparam("state"),
        revision=bindparam("revision"),
        serializer_version=bindparam("serializer_version"),
        completed=bindparam("completed"),
        next_timer_at=bindparam("next_timer_at"),
        updated_at=bindparam("updated_at"),
    )
)


class Command(Protocol):
    def execute(self, ctx: CommandContext) -> Any: ...


@dataclass
class LoadedInstance:
    row: ProcessInstance
    consignment: Consignment
    workflow: BpmnWorkflow
    trader_code: str
    engine_steps: list[projections.EngineStep] = field(default_factory=list)


class CommandContext:
    """What a command sees: the session, the fixed moment, the engine runtime and the actor."""

    def __init__(self, executor: CommandExecutor, session: Session, now: datetime, actor: Actor) -> None:
        self.executor = executor
        self.session = session
        self.now = now
        self.actor = actor
        self.runtime: Runtime = executor.runtime
        self.settings = executor.settings
        self.engine: PortalScriptEngine = executor.runtime.script_engine(now)
        self.after_commit: list[Callable[[], None]] = []
        self.loaded: list[LoadedInstance] = []
        self.audit_events: list[audit.PendingEvent] = []
        self.counter_writes: list[Callable[[], None]] = []
        self.timeline_rows: list[tuple[Consignment, dict[str, Any]]] = []
        self.late_rows: list[LateRow] = []
        self._held: list[Any] = []

    def load_held(self, statement: Any, params: dict[str, Any]) -> Any:
        """Run a joined query for rows the command loads together (a work item, its consignment and
        process instance) and return the first entity of its first row, or None. The rows are kept in the
        session for the command's whole run: the session's identity map holds its objects only weakly, and
        the command's later ``Session.get`` calls should find them there rather than query again."""
        row = self.session.execute(statement, params).first()
        if row is None:
            return None
        self._held.extend(row)
        return row[0]

    def count_later(self, write: Callable[[], None]) -> None:
        """Queue a dashboard counter update (an UPSERT) for the end of the command, after its own writes:
        an optimistic command then takes the write lock only when it saves, not in the middle of its run."""
        self.counter_writes.append(write)

    def add_later(self, obj: Any) -> None:
        """Insert a new row at the end of the command, in Core: ``obj`` is a new ORM object that is *not*
        added to the session; the columns set on it are the row (its attributes can be read meanwhile, and
        its ``id`` is set once inserted).

        For the rows every command writes (work items, notifications, jobs): the ORM's unit of work costs
        more than the INSERT, and it would also take the write lock of an optimistic command early."""
        self.late_rows.append(LateRow(type(obj).__table__, column_values(obj), obj))

    def insert_later(self, table: Table, **values: Any) -> None:
        """Like ``add_later`` for a row nobody reads back in this command (no object, no id). An
        ``IdOf(obj)`` value becomes the id of an object queued before it."""
        self.late_rows.append(LateRow(table, values))

    def write_late_rows(self) -> None:
        """At the end of the command, after its own writes: the rows queued with ``add_later``, the timeline
        rows (append-only, so one Core INSERT rather than the ORM's unit of work) and the dashboard
        counters."""
        write_changes(self.session, self.session.connection(), _WRITTEN_IN_CORE)
        if not (self.timeline_rows or self.counter_writes or self.late_rows):
            return
        self.session.flush()
        if self.late_rows:
            rows, self.late_rows = self.late_rows, []
            insert_rows(self.session.connection(), rows)
        if self.timeline_rows:
            rows = [{**row, "consignment_id": consignment.id} for consignment, row in self.timeline_rows]
            self.session.connection().execute(_ADD_TIMELINE, rows)
            self.timeline_rows.clear()
        for write in self.counter_writes:
            write()
        self.counter_writes.clear()

    # -- instances -------------------------------------------------------------------------------
    def load(self, consignment: Consignment) -> LoadedInstance:
        """Load the consignment's workflow (from the warm cache when its revision still matches)."""
        row = self.session.get(ProcessInstance, consignment.instance_id)
        if row is None:
            raise PortalError("consignment has no process instance")
        workflow = self.runtime.workflows.take(row.id, row.revision)
        if workflow is None:
            specs = self.runtime.specs(self.session, row.model_version_id)
            try:
                workflow = self.runtime.codec.load_state(row.state, row.serializer_version, specs)
            except FinishedWorkflow:
                raise Conflict(f"the consignment is already {consignment.status}") from None
        workflow.script_engine = self.engine
        loaded = LoadedInstance(row, consignment, workflow, self.organization_code(consignment.trader_org_id))
        self.loaded.append(loaded)
        return loaded

    def organization_code(self, organization_id: int) -> str:
        """An organization's code (codes never change, so each process looks each one up once)."""
        codes = self.runtime.organization_codes
        if organization_id not in codes:
            organization = self.session.get(Organization, organization_id)
            if organization is None:
                return ""
            codes[organization_id] = organization.code
        return codes[organization_id]

    def run_engine(self, loaded: LoadedInstance) -> None:
        """Run engine steps until the workflow waits, delivering any message that arrived early."""

        def did_complete(task) -> None:
            step = projections.describe_engine_step(task)
            if step is not None:
                loaded.engine_steps.append(step)
            if "lead_agency" in task.data and not loaded.consignment.lead_agency:
                loaded.consignment.lead_agency = str(task.data["lead_agency"])

        try:
            loaded.workflow.do_engine_steps(did_complete_task=did_complete)
            while self._deliver_inbox(loaded):
                loaded.workflow.do_engine_steps(did_complete_task=did_complete)
        except SpiffWorkflowException as exc:
            raise EngineFailure(f"the process model failed: {exc}") from exc

    def send_message(
        self, loaded: LoadedInstance, name: str, payload: dict[str, Any], result_var: str
    ) -> bool:
        """Deliver a message if the workflow waits for it; otherwise keep it in the inbox for later."""
        if self._waiting_for(loaded, name):
            self._throw(loaded, name, payload, result_var)
            self.run_engine(loaded)
            return True
        self.session.add(
            MessageInbox(
                instance_id=loaded.row.id,
                name=name,
                payload=payload,
                result_var=result_var,
                received_at=self.now,
            )
        )
        return False

    def _waiting_for(self, loaded: LoadedInstance, name: str) -> bool:
        return any(e.name == name and "Message" in e.event_type for e in loaded.workflow.waiting_events())

    def _throw(self, loaded: LoadedInstance, name: str, payload: dict[str, Any], result_var: str) -> None:
        event = BpmnEvent(MessageEventDefinition(name), {"payload": payload, "result_var": result_var})
        loaded.workflow.send_event(event)
        loaded.engine_steps.append(projections.EngineStep("message", name, name, {}))

    def _deliver_inbox(self, loaded: LoadedInstance) -> bool:
        waiting = {e.name for e in loaded.workflow.waiting_events() if "Message" in e.event_type}
        if not waiting or loaded.row.id is None:
            return False  # nothing kept in the inbox could be delivered now: no need to look
        pending = self.session.scalars(
            select(MessageInbox)
            .where(MessageInbox.instance_id == loaded.row.id, MessageInbox.delivered_at.is_(None))
            .order_by(MessageInbox.id)
        ).all()
        for message in pending:
            if message.name in waiting:
                self._throw(loaded, message.name, message.payload, message.result_var)
                # Delivered: the inbox is a waiting room, not a record (the audit event and the workflow's
                # data keep the message).
                self.session.delete(message)
                return True
        return False

    def save(self, loaded: LoadedInstance, activity: bool = True, state: bytes | None = None) -> None:
        """Write projections, timeline and state; fail with StaleRevision if someone saved first.

        :param state: the workflow already serialized by ``serialize``, when nothing changed it since.
        """
        consignment = loaded.consignment
        for step in loaded.engine_steps:
            self.timeline(
                consignment, step.kind, step.step_id, step.step_name, detail=step.detail, actor="system"
            )
        loaded.engine_steps.clear()
        next_timer = projections.sync(self, loaded)
        if activity:
            consignment.last_activity_at = self.now
            projections.resolve_stalled(self.session, consignment, self.now)
        codec, finished = self.runtime.codec, loaded.workflow.completed
        if finished:  # keep a compact final record, not the task tree: nothing can run any more
            state = codec.dump_final(loaded.workflow, projections.end_event(loaded.workflow))
        elif state is None:
            state = self.serialize(loaded)
        new_revision = loaded.row.revision + 1
        # In Core on the session's connection: the ORM's bulk-update machinery costs more than the UPDATE.
        result = self.session.connection().execute(
            _SAVE_STATE,
            {
                "instance_id": loaded.row.id,
                "read_revision": loaded.row.revision,
                "state": state,
                "revision": new_revision,
                "serializer_version": codec.final_version if finished else codec.version,
                "completed": loaded.workflow.completed,
                "next_timer_at": next_timer,
                "updated_at": self.now,
            },
        )
        if result.rowcount != 1:
            raise LostRace("the consignment was changed by someone else; reload and try again")
        if not finished:
            workflow, instance_id = loaded.workflow, loaded.row.id
            self.after_commit.append(lambda: self.runtime.workflows.put(instance_id, new_revision, workflow))

    def serialize(self, loaded: LoadedInstance) -> bytes:
        return self.runtime.codec.dump_state(loaded.workflow)

    # -- read-side helpers -----------------------------------------------------------------------
    def timeline(
        self,
        consignment: Consignment,
        kind: str,
        step_id: str,
        step_name: str,
        *,
        actor: str | None = None,
        organization: str | None = None,
        started_at: datetime | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        hours = None
        if started_at is not None:
            hours = round(self.runtime.calendar.working_hours_between(started_at, self.now), 2)
            if kind in statistics.MEASURED_KINDS:
                session = self.session
                self.count_later(
                    lambda: statistics.step_measured(session, consignment, step_id, step_name, hours)
                )
        self.timeline_rows.append(
            (
                consignment,
                {
                    "at": self.now,
                    "kind": kind,
                    "step_id": step_id,
                    "step_name": step_name,
                    "actor": actor if actor is not None else self.actor.username,
                    "organization": organization if organization is not None else self.actor.organization,
                    "working_hours": hours,
                    "detail": detail or {},
                },
            )
        )

    def record(
        self,
        consignment: Consignment | None,
        action: str,
        data: Any,
        task_id: str | None = None,
        signature: audit.EventSignature | None = None,
    ) -> None:
        """Add an audit event for this command; the executor seals the command's events at its end."""
        self.audit_events.append(
            audit.pending(
                at=self.now,
                actor=self.actor.username,
                organization=self.actor.organization,
                action=action,
                data=data,
                consignment_id=consignment.id if consignment is not None else None,
                task_id=task_id,
                signature=signature,
            )
        )

    def wake_worker(self) -> None:
        self.executor.wake_worker()


class CommandExecutor:
    """Run commands; retry the audit-chain race, and lost revision races of system commands."""

    def __init__(self, db: Database, runtime: Runtime, clock: Clock, settings, wake_worker=None) -> None:
        self.db = db
        self.runtime = runtime
        self.clock = clock
        self.settings = settings
        self._wake = wake_worker
        # On SQLite a process runs its commands one at a time. In CPython they could not run in parallel
        # anyway (the GIL), and interleaved they stretch the time each one holds SQLite's single write
        # lock, which the other processes then wait for: measured with bench/throughput.py, the slowest
        # completion calls took a third as long (p95 -25 %, same median and throughput). Reads (pages,
        # inboxes) are not commands and still run side by side. PostgreSQL overlaps commands' round trips.
        # Re-entrant: a command may run another one from inside (tests do, to stage races).
        self._one_at_a_time = threading.RLock() if is_sqlite(db.engine) else None

    def execute(self, command: Command, actor: Actor = SYSTEM) -> Any:
        if self._one_at_a_time is None:
            return self._execute(command, actor)
        with self._one_at_a_time:
            return self._execute(command, actor)

    def _execute(self, command: Command, actor: Actor) -> Any:
        optimistic = bool(getattr(command, "optimistic", False))
        for attempt in range(5):
            now = self.clock.now()
            factory = self.db.late_lock_session if optimistic else self.db.write_session
            session = factory()
            ctx = CommandContext(self, session, now, actor)
            try:
                with session.begin():
                    if optimistic:
                        with session.no_autoflush:  # no write (and so no write lock) until the end
                            result = command.execute(ctx)
                    else:
                        result = command.execute(ctx)
                    ctx.write_late_rows()
                    audit.seal(session, ctx.audit_events)
                    session.flush()
            except audit.AuditChainRace:
                if attempt < 4:
                    log.info("audit chain race, retrying %s", type(command).__name__)
                    continue
                raise StaleRevision("too much contention on the audit trail; try again") from None
            except (StaleRevision, StaleDataError, IntegrityError) as exc:
                if optimistic and isinstance(exc, (LostRace, StaleDataError, IntegrityError)):
                    # Another command wrote first what this run had read: run it again holding the write
                    # lock throughout, so the outcome is the one a pessimistic run would have had.
                    log.info("optimistic run of %s lost a race, running it locked", type(command).__name__)
                    optimistic = False
                    continue
                if isinstance(exc, IntegrityError):
                    raise
                # System commands (job results, callbacks, timers) are re-run on a lost race: they decide
                # nothing a person would need to reconsider.
                if getattr(command, "retry_on_conflict", False) and attempt < 4:
                    log.info("lost a race, retrying %s", type(command).__name__)
                    continue
                if isinstance(exc, StaleDataError):  # a row changed under a concurrent command
                    raise StaleRevision(getattr(command, "stale_message", _STALE)) from None
                raise
            finally:
                session.close()
            for hook in ctx.after_commit:
                try:
                    hook()
                except Exception:  # an after-commit effect must never undo a committed command
                    log.exception("after-commit hook failed")
            return result
        raise StaleRevision("too much contention on the audit trail; try again")

    def wake_worker(self) -> None:
        if self._wake is not None:
            self._wake()
