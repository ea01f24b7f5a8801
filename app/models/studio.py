"""The analysts' working copy of the model bundle: edited in the studio, validated on every save, and
deployed as a new immutable model version when it is valid."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ModelDraft(Base):
    __tablename__ = "model_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    files: Mapped[dict[str, Any]]  # bundle file name -> text (BPMN/DMN XML, form JSON)
    base_version: Mapped[int | None]  # the deployed version the draft started from
    revision: Mapped[int] = mapped_column(default=1)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
