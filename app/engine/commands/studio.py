"""The analysts' studio: open the working copy, save one file of it (validated, kept even when it has
problems so work is never lost), and deploy it as a new model version when it is valid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.i18n import N_
from app.models import ModelVersion
from app.models.studio import ModelDraft
from app.tasks import KNOWN_TOPICS

from ..bundle import BundleInvalid
from ..drafts import MAX_FILE_CHARS, bundle_of, file_revision, files_of, problems_of
from ..errors import Conflict, Forbidden, NotFound, PortalError
from ..executor import CommandContext
from .deployment import DeployBundle

STUDIO_ROLES = ("analyst", "admin")
# What a studio command says when another one changed the working copy between its read and its write
# (the executor's default speaks of a consignment).
COPY_CHANGED = N_("someone changed the working copy at the same time; reload it and try again")


def _require_analyst(ctx: CommandContext) -> None:
    if ctx.actor.role not in STUDIO_ROLES and ctx.actor.role != "system":
        raise Forbidden("only process analysts change the model", field="role")


def _latest(ctx: CommandContext) -> ModelVersion | None:
    return ctx.session.scalar(select(ModelVersion).order_by(ModelVersion.version.desc()).limit(1))


def _draft(ctx: CommandContext, *, lock: bool = False) -> ModelDraft:
    """The working copy. ``lock``: hold its row until the command ends (PostgreSQL; SQLite's write
    transaction holds the whole database already), so that deploys and resets of the copy run one after
    the other: a deploy after a reset sees its new revision, instead of one failing on the other's write.
    (Deploys take turns on the version number in ``DeployBundle``.)"""
    query = select(ModelDraft).order_by(ModelDraft.id).limit(1)
    draft = ctx.session.scalar(query.with_for_update() if lock else query)
    if draft is None:
        latest = _latest(ctx)
        if latest is None:
            raise NotFound("nothing deployed yet to start from", field="version")
        draft = ModelDraft(
            files=files_of(latest),
            base_version=latest.version,
            updated_by=ctx.actor.username,
            updated_at=ctx.now,
        )
        ctx.session.add(draft)
        ctx.session.flush()
    return draft


@dataclass
class OpenDraft:
    """The working copy (created from the newest version the first time)."""

    def execute(self, ctx: CommandContext) -> ModelDraft:
        _require_analyst(ctx)
        return _draft(ctx)


@dataclass
class SaveDraftFile:
    """Save one file of the working copy. ``expected_file_revision`` is the file's revision the editor read
    (``drafts.file_revision``): the save is refused only when that file changed since, so editors of other
    files never get in each other's way. A page that sends only the copy's ``expected_revision`` gets the
    whole-copy check instead.

    Race-safe without holding the write lock while validating: the row's UPDATE checks the revision it
    read, and a run that lost the race runs again on the newer copy, where the file check decides."""

    name: str
    text: str
    expected_revision: int | None = None
    expected_file_revision: str | None = None
    optimistic = True  # reads and validation first, the write lock only for the revision-checked UPDATE
    retry_on_conflict = True  # a lost race on the row is re-run: the file check is made again on it
    stale_message = COPY_CHANGED

    def execute(self, ctx: CommandContext) -> dict[str, Any]:
        _require_analyst(ctx)
        draft = _draft(ctx)
        if self.expected_file_revision is not None:
            if self.expected_file_revision != file_revision(draft.files.get(self.name)):
                raise Conflict(
                    "someone saved this file since you opened it; reload it", field="file_revision"
                )
        elif self.expected_revision is not None and self.expected_revision != draft.revision:
            raise Conflict("someone saved the model since you opened it; reload it", field="revision")
        if self.name not in draft.files and not (
            self.name.startswith("forms/") and self.name.endswith(".json")
        ):
            raise PortalError(f"{self.name!r} is not a file of the bundle", field="name")
        if "/" in self.name.removeprefix("forms/") or ".." in self.name:
            raise PortalError("file names are plain names (or forms/<key>.json)", field="name")
        if len(self.text) > MAX_FILE_CHARS:
            raise PortalError(f"the file is larger than {MAX_FILE_CHARS // 1024 // 1024} MB", field="xml")
        files = dict(draft.files)
        files[self.name] = self.text
        draft.files, draft.revision = files, draft.revision + 1
        draft.updated_by, draft.updated_at = ctx.actor.username, ctx.now
        problems = problems_of(bundle_of(draft), KNOWN_TOPICS)
        ctx.record(None, "model_draft_saved", {"file": self.name, "problems": len(problems)})
        return {
            "revision": draft.revision,
            "file_revision": file_revision(self.text),
            "problems": [p.as_dict() for p in problems],
        }


@dataclass
class DiscardDraft:
    """Start the working copy again from a deployed version (the newest when none is given)."""

    version: int | None = None
    stale_message = COPY_CHANGED

    def execute(self, ctx: CommandContext) -> ModelDraft:
        _require_analyst(ctx)
        source = (
            ctx.session.scalar(select(ModelVersion).where(ModelVersion.version == self.version))
            if self.version is not None
            else _latest(ctx)
        )
        if source is None:
            raise NotFound(f"no version {self.version}", field="version")
        draft = _draft(ctx, lock=True)
        draft.files, draft.base_version = files_of(source), source.version
        draft.revision += 1
        draft.updated_by, draft.updated_at = ctx.actor.username, ctx.now
        ctx.record(None, "model_draft_reset", {"version": source.version})
        return draft


@dataclass
class DeployDraft:
    note: str
    expected_revision: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    stale_message = COPY_CHANGED

    def execute(self, ctx: CommandContext) -> ModelVersion:
        _require_analyst(ctx)
        if not self.note.strip():
            raise PortalError("say what changed in a change note", field="note")
        draft = _draft(ctx, lock=True)
        if self.expected_revision is not None and self.expected_revision != draft.revision:
            raise Conflict("the model changed since you checked it; review it again", field="revision")
        try:
            version = DeployBundle(
                bundle_of(draft), note=self.note.strip(), known_topics=KNOWN_TOPICS
            ).execute(ctx)
        except BundleInvalid as exc:
            raise PortalError(
                f"the model has {len(exc.problems)} problem(s); fix them before deploying", field="model"
            ) from None
        draft.base_version = version.version
        return version
