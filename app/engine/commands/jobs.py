"""Service-task jobs: the worker claims due jobs, then reports each result or failure through a command.
After the last failed attempt a job becomes an incident that an operator can retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, or_, select

from app.models import Consignment, Job, ProcessInstance
from app.signing.service import seal_system_decision

from ..errors import Conflict, NotFound
from ..executor import CommandContext, LoadedInstance
from ..runtime import evaluate_template, find_task

BACKOFF_CAP_SECONDS = 3600.0


@dataclass(frozen=True)
class JobTicket:
    """What the worker needs to call a connector, detached from any session."""

    id: int
    topic: str
    inputs: dict[str, Any]
    idempotency_key: str
    attempts: int


@dataclass
class ClaimDueJobs:
    owner: str
    limit: int = 10

    def execute(self, ctx: CommandContext) -> list[JobTicket]:
        query = (
            select(Job)
            .where(
                or_(
                    (Job.state == "pending") & (Job.next_run_at <= ctx.now),
                    (Job.state == "locked") & (Job.lock_expires_at < ctx.now),
                )
            )
            .order_by(Job.next_run_at)
            .limit(self.limit)
        )
        if ctx.session.bind.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        tickets = []
        lock_until = ctx.now + timedelta(seconds=ctx.settings.job_lock_seconds)
        for job in ctx.session.scalars(query):
            job.state, job.lock_owner, job.lock_expires_at = "locked", self.owner, lock_until
            tickets.append(JobTicket(job.id, job.topic, dict(job.inputs), job.idempotency_key, job.attempts))
        return tickets


_JOB_WITH_INSTANCE = (
    select(Job, Consignment, ProcessInstance)
    .join(Consignment, Consignment.id == Job.consignment_id)
    .join(ProcessInstance, ProcessInstance.id == Consignment.instance_id)
    .where(Job.id == bindparam("id"))
)


def _locked_job(ctx: CommandContext, job_id: int, owner: str) -> Job:
    # One query for the job, its consignment and its process instance (see work_items._load_item).
    job = ctx.load_held(_JOB_WITH_INSTANCE, {"id": job_id})
    if job is None:
        raise NotFound("no such job")
    if job.state != "locked" or job.lock_owner != owner:
        raise Conflict("job lock lost (another worker took it over)")
    return job


@dataclass
class CompleteJob:
    retry_on_conflict = True
    optimistic = True  # see app.engine.executor: the instance's revision check guards what it read

    job_id: int
    owner: str
    result: dict[str, Any]

    def execute(self, ctx: CommandContext) -> Job:
        job = _locked_job(ctx, self.job_id, self.owner)
        consignment = ctx.session.get(Consignment, job.consignment_id)
        job.attempts += 1
        job.state, job.result, job.finished_at = "done", self.result, ctx.now
        job.lock_owner, job.lock_expires_at = None, None
        if consignment.finished_at is not None:
            job.state = "cancelled"  # the process ended (e.g. terminated) while the job ran
            return job
        loaded = ctx.load(consignment)
        task = find_task(loaded.workflow, job.task_id)
        if task is None or task.state != TaskState.STARTED:
            job.state = "cancelled"  # the process moved on (e.g. terminated) while the job ran
            return job
        finish_service_task(ctx, loaded, job, task, self.result)
        ctx.save(loaded)
        return job


def finish_service_task(
    ctx: CommandContext,
    loaded: LoadedInstance,
    job: Job,
    task,
    result: dict[str, Any],
    *,
    actor: str = "system",
    organization: str | None = None,
    action: str = "job_completed",
) -> None:
    """Complete the job's service task with ``result`` and run the engine on: the outputs mapped into the
    process, a system decision sealed, the timeline row and the audit event. Both the worker's result and a
    person's report that the outside system's work was done another way (``commands.port``) end here."""
    consignment = loaded.consignment
    spec = task.task_spec
    if spec.output_parameters:
        scope = {**task.data, **result}
        for name, expr in spec.output_parameters:
            task.data[name] = evaluate_template(ctx.engine, expr, scope)
    else:
        task.data.update(result)
    signature = None
    if (spec.extensions or {}).get("signature") == "required":  # sealed by the portal (clearance)
        name = spec.bpmn_name or spec.bpmn_id
        signature = seal_system_decision(ctx, consignment, job.task_id, spec.bpmn_id, name, result)
    task.complete()
    ctx.run_engine(loaded)
    ctx.timeline(
        consignment,
        "service",
        spec.bpmn_id,
        spec.bpmn_name or spec.bpmn_id,
        actor=actor,
        organization=organization or job.topic.split(".")[0],
        started_at=job.created_at,
        detail={"result": result, "attempts": job.attempts, "key": job.idempotency_key},
    )
    ctx.record(
        consignment,
        action,
        {"topic": job.topic, "result": result},
        task_id=job.task_id,
        signature=signature,
    )


@dataclass
class FailJob:
    job_id: int
    owner: str
    error: str
    business: bool = False

    def execute(self, ctx: CommandContext) -> Job:
        job = _locked_job(ctx, self.job_id, self.owner)
        job.attempts += 1
        job.last_error = self.error[:2000]
        job.lock_owner, job.lock_expires_at = None, None
        if self.business or job.attempts >= ctx.settings.job_max_attempts:
            job.state = "incident"
            consignment = ctx.session.get(Consignment, job.consignment_id)
            ctx.timeline(
                consignment,
                "incident",
                job.step_id,
                f"Incident: {job.topic}",
                actor="system",
                detail={"error": job.last_error, "attempts": job.attempts},
            )
            ctx.record(
                consignment,
                "incident_raised",
                {"topic": job.topic, "error": job.last_error},
                task_id=job.task_id,
            )
        else:
            delay = min(ctx.settings.job_backoff_seconds * 2 ** (job.attempts - 1), BACKOFF_CAP_SECONDS)
            job.state, job.next_run_at = "pending", ctx.now + timedelta(seconds=delay)
        return job


@dataclass
class RetryIncident:
    job_id: int

    def execute(self, ctx: CommandContext) -> Job:
        job = ctx.session.get(Job, self.job_id)
        if job is None:
            raise NotFound("no such incident", field="job_id")
        if job.state != "incident":
            raise Conflict("job is %(state)s, not an incident", field="job_id", params={"state": job.state})
        job.state, job.attempts, job.next_run_at, job.last_error = "pending", 0, ctx.now, job.last_error
        consignment = ctx.session.get(Consignment, job.consignment_id)
        ctx.record(consignment, "incident_retried", {"job": job.id, "topic": job.topic}, task_id=job.task_id)
        ctx.after_commit.append(ctx.wake_worker)
        return job
