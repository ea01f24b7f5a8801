"""Messages from outside systems, correlated to a consignment by its declaration number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.models import Consignment

from ..errors import Conflict, NotFound
from ..executor import CommandContext

# The callbacks the portal knows: message name -> the process variable its payload lands in.
KNOWN_MESSAGES = {"ContainerPositioned": "container_positions"}


@dataclass
class CorrelateMessage:
    retry_on_conflict = True
    optimistic = True  # see app.engine.executor: the instance's revision check guards what it read

    declaration_no: str
    name: str
    payload: dict[str, Any]

    def execute(self, ctx: CommandContext) -> bool:
        if self.name not in KNOWN_MESSAGES:
            raise NotFound(f"unknown message {self.name!r}", field="name")
        consignment = ctx.session.scalar(
            select(Consignment).where(Consignment.declaration_no == self.declaration_no)
        )
        if consignment is None:
            raise NotFound("no consignment with this declaration number", field="declaration_no")
        if consignment.finished_at is not None:
            raise Conflict(f"the consignment is already {consignment.status}", field="declaration_no")
        loaded = ctx.load(consignment)
        delivered = ctx.send_message(loaded, self.name, self.payload, KNOWN_MESSAGES[self.name])
        ctx.record(
            consignment,
            "message_received",
            {"name": self.name, "payload": self.payload, "delivered": delivered},
        )
        # Save even when the message was only kept in the inbox: bumping the revision makes a concurrent
        # command on this instance (e.g. the job that starts the wait) retry and then see the message.
        ctx.save(loaded)
        return delivered
