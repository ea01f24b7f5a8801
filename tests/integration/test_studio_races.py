"""Analysts changing the working copy at the same moment: deploys and resets take turns on the copy's row,
and every deploy (studio or command line) on the version number, so two deploys become two versions
(not an error), and a save that lost to a reset runs again holding the write lock and is kept. Both
databases: SQLite's write transaction and PostgreSQL's advisory write lock serialize the writes, the row
locks order the reads."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.engine.commands import DeployBundle
from app.engine.commands.studio import DeployDraft, DiscardDraft, OpenDraft, SaveDraftFile
from app.engine.executor import Actor
from app.models import AuditEvent, ModelVersion
from app.models.studio import ModelDraft
from app.tasks import KNOWN_TOPICS
from tests.concurrency import at_once, meet_before
from tests.model_versions import version_2
from tests.procedure import actor

pytestmark = pytest.mark.timeout(120)

BPMN = "specialized_inspection.bpmn"


def versions(portal) -> list[int]:
    with portal.db.session() as session:
        return list(session.scalars(select(ModelVersion.version).order_by(ModelVersion.version)))


def audit_count(portal, action: str) -> int:
    with portal.db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


@pytest.fixture
def deploys_meet_after_reading_the_copy(monkeypatch):
    """Make two deploys meet once they have read the copy (up to 2 s each): without the row lock both get
    there and go on together, so both would take the same next version number; with it, the second one
    waits for the first to commit before it reads, and the first goes on alone after the 2 s."""
    from app.engine.commands import studio

    meet_before(monkeypatch, studio, "bundle_of")


def test_two_analysts_deploying_at_once_get_two_versions(portal, deploys_meet_after_reading_the_copy):
    analyst, admin = actor(portal, "analyst"), actor(portal, "admin")
    revision = portal.execute(OpenDraft(), analyst).revision
    deployed_before = audit_count(portal, "model_deployed")

    outcomes = at_once(
        lambda: portal.execute(DeployDraft("Checked by the analyst", expected_revision=revision), analyst),
        lambda: portal.execute(DeployDraft("Checked by the admin", expected_revision=revision), admin),
    )

    assert all(isinstance(o, ModelVersion) for o in outcomes), outcomes
    assert sorted(o.version for o in outcomes) == [2, 3]
    assert versions(portal) == [1, 2, 3]
    assert audit_count(portal, "model_deployed") == deployed_before + 2


def test_two_bundle_deploys_at_once_from_the_command_line_get_two_versions(portal, monkeypatch):
    """``portal model deploy`` (DeployBundle, no working copy involved) takes turns the same way: both
    deploys are made to meet once they know their version number (up to 2 s each)."""
    meet_before(monkeypatch, portal.runtime.codec, "dump_specs")  # made once the number is known
    cli = Actor("cli", None, "analyst")
    deployed_before = audit_count(portal, "model_deployed")

    outcomes = at_once(
        lambda: portal.execute(DeployBundle(version_2(), note="v2", known_topics=KNOWN_TOPICS), cli),
        lambda: portal.execute(DeployBundle(version_2(), note="v2 again", known_topics=KNOWN_TOPICS), cli),
    )

    assert all(isinstance(o, ModelVersion) for o in outcomes), outcomes
    assert sorted(o.version for o in outcomes) == [2, 3]
    assert audit_count(portal, "model_deployed") == deployed_before + 2


def test_a_reset_and_a_deploy_at_once_both_take_effect_one_after_the_other(portal):
    analyst, admin = actor(portal, "analyst"), actor(portal, "admin")
    revision = portal.execute(OpenDraft(), analyst).revision

    outcomes = at_once(
        lambda: portal.execute(DeployDraft("Checked", expected_revision=revision), analyst),
        lambda: portal.execute(DiscardDraft(version=1), admin),
    )

    deployed, reset = outcomes
    assert isinstance(reset, ModelDraft), reset
    # The deploy either ran first or saw the reset (a new revision) and refused: never a half of each.
    if isinstance(deployed, ModelVersion):
        assert versions(portal) == [1, 2]
    else:
        assert "the model changed since you checked it" in str(deployed)
        assert versions(portal) == [1]
    assert audit_count(portal, "model_draft_reset") == 1


@pytest.fixture
def reset_before_each_write(portal, monkeypatch):
    """Another analyst resets the copy while a save runs, between its read and its write, ``times``
    times (the save's validation is the moment); the reset copies' revisions, in order."""
    from app.engine.commands import studio

    def arrange(times: int) -> list[int]:
        original, revisions = studio.problems_of, []

        def problems_of(bundle, topics):
            if len(revisions) < times:
                revisions.append(portal.execute(DiscardDraft(version=1), actor(portal, "admin")).revision)
            return original(bundle, topics)

        monkeypatch.setattr(studio, "problems_of", problems_of)
        return revisions

    return arrange


def test_a_save_that_lost_once_runs_again_holding_the_lock_and_is_kept(portal, reset_before_each_write):
    """A reset lands between the save's read and its write; the save's revision-checked write sees it and
    the save runs again holding the write lock (SQLite's, or the portal's advisory lock on PostgreSQL), so
    no one can change the copy under it a second time: it is saved on top of the reset."""
    analyst = actor(portal, "analyst")
    before_text = portal.execute(OpenDraft(), analyst).files[BPMN]
    meanwhile = reset_before_each_write(times=1)
    edited = before_text.replace("Record the sampling", "Record it")
    assert edited != before_text

    saved = portal.execute(SaveDraftFile(BPMN, edited), analyst)

    assert len(meanwhile) == 1
    assert saved["revision"] == meanwhile[0] + 1  # on top of the reset
    with portal.db.session() as session:
        assert session.scalar(select(ModelDraft)).files[BPMN] == edited
    assert audit_count(portal, "model_draft_saved") == 1
