"""The stored state of the simulated clock shared by the portal, the worker and the demo driver."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SimulatedClockState(Base):
    """Simulated time = ``simulated_anchor + (real now - real_anchor)``; advancing moves the anchor."""

    __tablename__ = "simulated_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    simulated_anchor: Mapped[datetime]
    real_anchor: Mapped[datetime]
