"""Deploy a model bundle as a new immutable version (the spec is stored once, here)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from app.models import ModelVersion

from ..bundle import Bundle, compile_bundle
from ..executor import CommandContext
from .messages import KNOWN_MESSAGES

# PostgreSQL advisory lock held by a deploy from the version number's read to its commit ("CLDV").
DEPLOY_LOCK = 0x434C4456


@dataclass
class DeployBundle:
    bundle: Bundle
    note: str = ""
    known_topics: frozenset[str] | None = None
    only_if_changed: bool = False
    known_messages: frozenset[str] | None = frozenset(KNOWN_MESSAGES)

    def execute(self, ctx: CommandContext) -> ModelVersion:
        compiled = compile_bundle(
            self.bundle, known_topics=self.known_topics, known_messages=self.known_messages
        )
        if ctx.session.bind.dialect.name == "postgresql":
            # Deploys (studio, CLI, init-db) take turns from here to their commit, so two at once become
            # consecutive versions instead of both taking the same next number. SQLite's write
            # transaction holds the whole database already.
            ctx.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DEPLOY_LOCK})
        latest = ctx.session.scalar(select(ModelVersion).order_by(ModelVersion.version.desc()).limit(1))
        if self.only_if_changed and latest is not None and latest.checksum == self.bundle.checksum:
            return latest
        number = (ctx.session.scalar(select(func.max(ModelVersion.version))) or 0) + 1
        version = ModelVersion(
            version=number,
            process_id=compiled.process_id,
            checksum=self.bundle.checksum,
            spec_json=ctx.runtime.codec.dump_specs(compiled.specs.spec, compiled.specs.subprocess_specs),
            files={name: data.decode("utf-8") for name, data in self.bundle.files.items()},
            forms=compiled.forms,
            note=self.note,
            deployed_by=ctx.actor.username,
            deployed_at=ctx.now,
        )
        ctx.session.add(version)
        ctx.session.flush()
        ctx.record(
            None, "model_deployed", {"version": number, "checksum": version.checksum, "note": self.note}
        )
        specs, forms, version_id = compiled.specs, compiled.forms, version.id
        ctx.after_commit.append(lambda: ctx.runtime.remember(version_id, specs, forms))
        return version
