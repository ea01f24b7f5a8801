"""The worker: runs service-task jobs through their connectors (outside any transaction), fires due
BPMN timers, raises "stalled consignment" escalations and sends queued e-mails. APScheduler drives it;
each step is also callable directly (``run_once``) so tests and the demo can drive it deterministically."""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import or_, select

from app.engine.commands import ClaimDueJobs, CompleteJob, DetectStalledConsignments, FailJob, FireDueTimers
from app.engine.commands.jobs import JobTicket
from app.engine.errors import PortalError
from app.mail import send_pending_emails
from app.models import Job, ProcessInstance
from app.services import Portal
from app.tasks import BusinessError, Connector, ConnectorError

log = logging.getLogger(__name__)


class Worker:
    """One worker process (or thread); several may run against the same database."""

    def __init__(
        self,
        portal: Portal,
        connectors: dict[str, Connector],
        name: str | None = None,
        parallel_calls: int = 4,
    ) -> None:
        self.portal = portal
        self.connectors = connectors
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._pool = ThreadPoolExecutor(max_workers=parallel_calls, thread_name_prefix="connector")
        self._scheduler: BackgroundScheduler | None = None
        self._busy = threading.Lock()
        # On the portal's clock, not the machine's: when the simulated clock jumps a day, the next pass
        # scans at once rather than up to ten real seconds later (the demo may have acted by then).
        self._last_stalled_scan: datetime | None = None
        self.stalled_scan_interval = timedelta(seconds=10)

    # -- one pass ----------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Run due jobs, fire due timers, detect stalled consignments; return how much work was done."""
        if not self._busy.acquire(blocking=False):
            return 0
        try:
            done = self.run_due_jobs()
            done += self.fire_due_timers()
            done += send_pending_emails(self.portal)
            now = self.portal.clock.now()
            if self._last_stalled_scan is None or now - self._last_stalled_scan >= self.stalled_scan_interval:
                self._last_stalled_scan = now
                done += self.portal.execute(DetectStalledConsignments())
            return done
        finally:
            self._busy.release()

    def run_due_jobs(self) -> int:
        if not self._jobs_due():
            return 0  # a cheap read, so an idle worker never takes the write lock
        tickets: list[JobTicket] = self.portal.execute(ClaimDueJobs(self.name, limit=20))
        for future in [self._pool.submit(self._run_job, t) for t in tickets]:
            future.result()
        return len(tickets)

    def _jobs_due(self) -> bool:
        now = self.portal.clock.now()
        with self.portal.db.session() as session:
            return (
                session.scalar(
                    select(Job.id)
                    .where(
                        or_(
                            (Job.state == "pending") & (Job.next_run_at <= now),
                            (Job.state == "locked") & (Job.lock_expires_at < now),
                        )
                    )
                    .limit(1)
                )
                is not None
            )

    def _run_job(self, ticket: JobTicket) -> None:
        connector = self.connectors.get(ticket.topic)
        try:
            if connector is None:
                raise BusinessError("no_connector", f"no connector registered for topic {ticket.topic}")
            result = connector.call(ticket.inputs, ticket.idempotency_key)
        except ConnectorError as exc:
            self._fail(ticket, f"{ticket.topic}: {exc}", business=False)
            return
        except BusinessError as exc:
            self._fail(ticket, f"{ticket.topic}: {exc.code}: {exc.message}", business=True)
            return
        except Exception as exc:  # a connector bug or a model giving bad inputs: an incident, not a crash
            log.exception("connector for %s failed unexpectedly", ticket.topic)
            self._fail(ticket, f"{ticket.topic}: {type(exc).__name__}: {exc}", business=True)
            return
        try:
            self.portal.execute(CompleteJob(ticket.id, self.name, result))
        except PortalError as exc:
            log.warning("could not complete job %s: %s", ticket.id, exc.message)
            self._fail(ticket, f"completing the task failed: {exc.message}", business=False)

    def _fail(self, ticket: JobTicket, error: str, business: bool) -> None:
        try:
            self.portal.execute(FailJob(ticket.id, self.name, error, business=business))
        except PortalError as exc:
            log.warning("could not record failure of job %s: %s", ticket.id, exc.message)

    def fire_due_timers(self, limit: int = 100) -> int:
        now = self.portal.clock.now()
        with self.portal.db.session() as session:
            due = session.scalars(
                select(ProcessInstance.id)
                .where(ProcessInstance.next_timer_at <= now)
                .order_by(ProcessInstance.next_timer_at)
                .limit(limit)
            ).all()
        fired = 0
        for instance_id in due:
            try:
                fired += bool(self.portal.execute(FireDueTimers(instance_id)))
            except PortalError as exc:  # a lost race: the next pass sees the new state
                log.info("timer for instance %s not fired: %s", instance_id, exc.message)
        return fired

    # -- scheduling --------------------------------------------------------------------------------
    def start(self) -> None:
        """Run ``run_once`` every poll interval in the background (APScheduler)."""
        # A pass keeps going while there is work, so ticks that find it still running are skipped on
        # purpose; APScheduler would log each skip as a warning.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(daemon=True)
        self._scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.portal.settings.worker_poll_seconds,
            max_instances=1,
            coalesce=True,
            id="worker",
        )
        self._scheduler.start()

    def _tick(self) -> None:
        try:
            # Keep going while there is work so a chain of service tasks does not wait a poll per step.
            for _ in range(50):
                if not self.run_once():
                    break
        except Exception:
            log.exception("worker pass failed")

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
        self._pool.shutdown(wait=True)
