"""A trader registers a consignment: validate, start its process on the latest model version, run it."""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from app.consignments.registration import Registration
from app.models import Consignment, ModelVersion, Organization, ProcessInstance

from ..errors import Conflict, Forbidden, PortalError, ValidationFailed
from ..executor import CommandContext, LoadedInstance


@dataclass
class RegisterConsignment:
    # Runs the engine before taking the write lock; a concurrent registration of the same declaration
    # number trips the unique constraint and the executor runs this again under the lock.
    optimistic = True

    registration: Registration

    def execute(self, ctx: CommandContext) -> Consignment:
        reg, session = self.registration, ctx.session
        trader = self._trader(ctx)
        if session.scalar(select(Consignment.id).where(Consignment.declaration_no == reg.declaration_no)):
            raise Conflict(
                "a consignment with this declaration number is already registered", field="declaration_no"
            )
        version = session.scalar(select(ModelVersion).order_by(ModelVersion.version.desc()).limit(1))
        if version is None:
            raise PortalError("no process model is deployed yet (run `portal model deploy bpmn`)")
        specs = ctx.runtime.specs(session, version.id)
        workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=ctx.engine)
        variables = reg.process_variables(trader.code, ctx.now)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(variables)

        instance = ProcessInstance(
            model_version_id=version.id,
            revision=1,
            state=b"",
            serializer_version=ctx.runtime.codec.version,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        consignment = Consignment(
            declaration_no=reg.declaration_no,
            declaration_type=reg.declaration_type,
            customs_branch=reg.customs_branch,
            trader_org_id=trader.id,
            goods=reg.goods,
            hs_codes=reg.hs_codes,
            containers=reg.containers,
            awb=reg.awb,
            bill_of_lading=reg.bill_of_lading,
            sampling_place=reg.sampling_place,
            status="registered",
            registered_at=ctx.now,
            last_activity_at=ctx.now,
        )
        loaded = LoadedInstance(instance, consignment, workflow, trader.code)
        ctx.loaded.append(loaded)
        # The engine's work first (nothing written yet, so no write lock held); then the rows.
        ctx.run_engine(loaded)
        state = ctx.serialize(loaded)
        session.add(instance)
        session.flush()
        consignment.instance_id = instance.id
        session.add(consignment)
        session.flush()
        ctx.timeline(consignment, "registered", "registered", "Consignment registered")
        ctx.record(consignment, "consignment_registered", variables)
        ctx.save(loaded, state=state)
        return consignment

    def _trader(self, ctx: CommandContext) -> Organization:
        actor, session = ctx.actor, ctx.session
        if actor.role == "trader":
            if self.registration.trader not in (None, actor.organization):
                raise Forbidden(
                    "a trader registers consignments for its own organization only", field="trader"
                )
            code = actor.organization
        elif actor.role in ("admin", "system"):
            code = self.registration.trader
            if not code:
                raise ValidationFailed(
                    [{"field": "trader", "reason": "is required when an operator registers"}]
                )
        else:
            raise Forbidden("only traders register consignments", field="role")
        trader = session.scalar(
            select(Organization).where(Organization.code == code, Organization.kind == "trader")
        )
        if trader is None:
            raise ValidationFailed([{"field": "trader", "reason": f"unknown trader organization {code!r}"}])
        return trader
