"""The analysts' working copy of the model bundle: edited in the studio, validated on every save, and
deployed as a new immutable model version when it is valid. ``revision`` counts the changes of the whole
copy (deploy checks it); each file's own revision is the hash of its text (``drafts.file_revision``)."""

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

    # Every UPDATE of the row checks the revision it read (the commands set the next one themselves): of
    # two saves that read the same row, the second finds it changed and runs again on the newer copy.
    __mapper_args__ = {"version_id_col": revision, "version_id_generator": False}
