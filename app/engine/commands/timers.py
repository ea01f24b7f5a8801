"""Time-driven commands: fire the BPMN timers that are due, and escalate consignments where nothing has
happened for longer than the configured working hours (telling the managers who read them on their
dashboard: the customs branch's and the lead agency's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.models import Consignment, Escalation, ProcessInstance

from .. import notifications, stalling
from ..executor import CommandContext


@dataclass
class FireDueTimers:
    retry_on_conflict = True
    optimistic = True  # see app.engine.executor: the instance's revision check guards what it read

    instance_id: int

    def execute(self, ctx: CommandContext) -> bool:
        # Claimed like a job: a worker passes over an instance another worker is firing (PostgreSQL; on
        # SQLite the clause is not rendered and the revision check settles it). Its timer stays due, so
        # the next pass fires it if that worker failed.
        claim = select(ProcessInstance).where(ProcessInstance.id == self.instance_id)
        row = ctx.session.scalar(claim.with_for_update(skip_locked=True))
        if row is None or row.next_timer_at is None or row.next_timer_at > ctx.now:
            return False
        consignment = ctx.session.scalar(select(Consignment).where(Consignment.instance_id == row.id))
        loaded = ctx.load(consignment)
        loaded.workflow.refresh_timers()
        ctx.run_engine(loaded)
        ctx.save(loaded, activity=False)
        return True


@dataclass
class DetectStalledConsignments:
    """Raise a "stalled" escalation for each running consignment idle past the threshold (the rule, and
    from when idle time counts, is ``app.engine.stalling``)."""

    limit: int = 500

    def execute(self, ctx: CommandContext) -> int:
        threshold = ctx.settings.stalled_after_working_hours
        # Working hours never outrun wall-clock hours, so the cutoff loses no candidate. Idle working hours
        # only shrink as ``since`` grows, so taking the oldest first, no batch is filled by consignments
        # that turn out not to be stalled while stalled ones wait behind them.
        cutoff = ctx.now - timedelta(hours=threshold)
        already = select(Escalation.consignment_id).where(
            Escalation.kind == stalling.STALLED, Escalation.resolved_at.is_(None)
        )
        since = stalling.idle_since()
        candidates = ctx.session.execute(
            select(Consignment, since)
            .join(ProcessInstance, ProcessInstance.id == Consignment.instance_id)
            .where(
                Consignment.status.in_(("registered", "in_progress")),
                Consignment.last_activity_at < cutoff,
                since < cutoff,
                Consignment.id.not_in(already),
            )
            .order_by(since, Consignment.id)
            .limit(self.limit)
        ).all()
        raised = 0
        for consignment, idle_from in candidates:
            idle = ctx.runtime.calendar.working_hours_between(idle_from, ctx.now)
            if idle < threshold:
                break  # the rest were idle for less
            ctx.session.add(
                Escalation(
                    consignment_id=consignment.id,
                    kind=stalling.STALLED,
                    organization=consignment.customs_branch,
                    raised_at=ctx.now,
                )
            )
            consignment.escalated = True
            ctx.timeline(
                consignment,
                "escalation",
                "stalled",
                "Consignment stalled",
                actor="system",
                detail={"idle_working_hours": round(idle, 1)},
            )
            ctx.record(
                consignment, "escalation_raised", {"kind": "stalled", "idle_working_hours": round(idle, 1)}
            )
            for organization in dict.fromkeys(
                filter(None, (consignment.customs_branch, consignment.lead_agency))
            ):
                notifications.notify(
                    ctx,
                    now=ctx.now,
                    kind="stalled",
                    organization=organization,
                    role="manager",
                    consignment=consignment,
                    step_name=consignment.current_step or "",
                    email=bool(ctx.settings.smtp_host),
                )
            raised += 1
        return raised
