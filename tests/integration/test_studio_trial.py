"""The studio's trial run tests a candidate model on the sample consignments of the domain reference
(``../shared/domain/consignments.json``), each registered by its trader (the code found in the seed), and
predicts each one's path and clearance time from the step medians it is given. When the reference file is
missing or unusable the trial runs the portal's copy and says why."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale

from app import create_app
from app.engine.bundle import compile_bundle, load_bundle
from app.engine.specs import PortalUserTask
from app.settings import PROJECT_ROOT, Settings
from app.tasks import KNOWN_TOPICS
from app.trial import DEFAULT_STEP_HOURS, MAX_SAMPLES, run_trial, trial_samples

pytestmark = pytest.mark.timeout(120)

REFERENCE = PROJECT_ROOT.parent / "shared" / "domain" / "consignments.json"
COPY = PROJECT_ROOT / "config" / "demo_consignments.json"
BUNDLE = load_bundle(PROJECT_ROOT / "bpmn")
MONDAY_MORNING = datetime(2026, 12, 7, 7, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
# What the dashboard would say the steps take; steps not named here take DEFAULT_STEP_HOURS.
MEDIANS = {"record_sampling": 2.5, "publish_result": 6.25, "pay_fees": 0.75, "decide_preservation": 3.0}
TERMINAL = {"cleared", "non_compliance_handled"}


def reference() -> list[dict]:
    if not REFERENCE.exists():
        pytest.skip(f"the domain reference {REFERENCE} is not next to the project")
    return json.loads(REFERENCE.read_text(encoding="utf-8"))


def user_step_names() -> dict[str, str]:
    """Step name → step id of every user task of the real model."""
    spec = compile_bundle(BUNDLE, known_topics=KNOWN_TOPICS).specs.spec
    return {t.bpmn_name: t.bpmn_id for t in spec.task_specs.values() if isinstance(t, PortalUserTask)}


def test_the_default_setting_points_at_the_domain_reference():
    assert Settings().sample_consignments.resolve() == (
        PROJECT_ROOT / ".." / "shared" / "domain"
    ).resolve() / ("consignments.json")
    assert Settings.from_env({"PORTAL_SAMPLE_CONSIGNMENTS": "/srv/samples.json"}).sample_consignments == Path(
        "/srv/samples.json"
    )


def test_the_trial_runs_the_reference_consignments_and_predicts_from_the_medians():
    expected = reference()
    samples = trial_samples(len(expected), Settings())
    assert (samples.source, samples.fallback_reason) == (Settings().sample_consignments, None)

    run = run_trial(BUNDLE, samples, MEDIANS, start=MONDAY_MORNING)

    assert run.samples_source == Settings().sample_consignments and run.samples_fallback_reason is None
    assert [(c.declaration_no, c.goods) for c in run.consignments] == [
        (e["declaration_no"], e["goods"]) for e in expected
    ]
    steps_by_name = user_step_names()
    for result in run.consignments:
        assert result.problem is None, (result.declaration_no, result.problem)
        assert result.outcome in TERMINAL, (result.declaration_no, result.outcome)
        assert result.path[0] == "Consignment registered" and "Record the sampling" in result.path
        done_by_people = [steps_by_name[name] for name in result.path if name in steps_by_name]
        assert [step for step, _hours in result.steps] == done_by_people
        assumed = [MEDIANS.get(step, DEFAULT_STEP_HOURS) for step in done_by_people]
        assert [hours for _step, hours in result.steps] == assumed
        assert result.predicted_hours > 0
        assert result.predicted_hours == pytest.approx(sum(assumed), abs=0.01)
    beef = run.consignments[0]  # C01: sampling, the trader's countersignature, result and payment only
    countersign = MEDIANS.get("countersign_sampling", DEFAULT_STEP_HOURS)
    assert beef.outcome == "cleared"
    assert beef.predicted_hours == pytest.approx(2.5 + countersign + 6.25 + 0.75)
    assert run.mean_hours == pytest.approx(
        sum(c.predicted_hours for c in run.consignments) / len(run.consignments), abs=0.01
    )


def test_each_reference_consignment_is_registered_by_its_trader_from_the_seed():
    expected = reference()
    samples = trial_samples(len(expected), Settings()).samples
    # The reference file writes the traders' Vietnamese names without diacritics ("Cong ty TNHH Thuc pham
    # Dong Nam A"); the seed has them with ("Công ty TNHH Thực phẩm Đông Nam Á", T01), in the same order.
    assert [s["trader"] for s in samples] == [f"T{n:02d}" for n in range(1, len(expected) + 1)]
    seed = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
    names = {o["code"]: o["name_vi"] for o in seed["organizations"] if o["kind"] == "trader"}
    assert names["T01"] == "Công ty TNHH Thực phẩm Đông Nam Á" and expected[0]["trader"].startswith("Cong ty")
    assert [s["payload"]["containers"] for s in samples] == [e.get("containers") or [] for e in expected]
    # the portal's copy adds nothing else: the same traders, derived instead of written down
    copy = json.loads(COPY.read_text(encoding="utf-8"))
    assert [c["trader_code"] for c in copy] == [s["trader"] for s in samples]
    assert [{k: v for k, v in c.items() if k != "trader_code"} for c in copy] == expected


def test_the_trial_reads_the_file_the_setting_names(tmp_path):
    edited = reference()[:2]
    edited[1] = {**edited[1], "goods": "Fresh pears (New Zealand)"}
    samples_file = tmp_path / "samples.json"
    samples_file.write_text(json.dumps(edited), encoding="utf-8")
    samples = trial_samples(2, Settings(sample_consignments=samples_file))
    assert samples.source == samples_file and samples.fallback_reason is None

    run = run_trial(BUNDLE, samples, MEDIANS, start=MONDAY_MORNING)

    assert [c.goods for c in run.consignments] == [edited[0]["goods"], "Fresh pears (New Zealand)"]
    assert all(c.outcome == "cleared" and c.predicted_hours > 0 for c in run.consignments)


def test_more_samples_than_the_file_holds_are_generated_like_them_up_to_the_limit():
    expected = reference()
    samples = trial_samples(100, Settings()).samples
    assert len(samples) == MAX_SAMPLES
    numbers = [s["payload"]["declaration_no"] for s in samples]
    assert numbers[: len(expected)] == [e["declaration_no"] for e in expected]
    assert len(set(numbers)) == MAX_SAMPLES


def _fallback(tmp_path: Path, content: str | None) -> tuple[str, str]:
    target = tmp_path / "consignments.json"
    if content is not None:
        target.write_text(content, encoding="utf-8")
    samples = trial_samples(3, Settings(sample_consignments=target))
    assert samples.source == COPY
    copy = json.loads(COPY.read_text(encoding="utf-8"))
    assert [s["payload"]["declaration_no"] for s in samples.samples] == [
        c["declaration_no"] for c in copy[:3]
    ]
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'page.db'}"))
    with app.test_request_context(), force_locale("vi"):
        vietnamese = str(samples.fallback_reason)
    return str(samples.fallback_reason), vietnamese


def test_a_missing_reference_file_falls_back_to_the_copy_and_says_so(tmp_path):
    english, vietnamese = _fallback(tmp_path, None)
    missing = tmp_path / "consignments.json"
    assert (
        english
        == f"{missing} is missing: the trial runs the portal's copy config/demo_consignments.json instead."
    )
    assert vietnamese.startswith(f"Không tìm thấy {missing}")


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[{", "not valid JSON"),
        ('{"C01": {}}', "not a list of consignments"),
        ('[{"id": "C01", "goods": "beef"}]', "consignment C01 lacks trader, hs8"),
        (None, "trader 'Cong ty Ma' of C01 is not an organization of the seed"),
    ],
    ids=["broken JSON", "not a list", "missing fields", "unknown trader"],
)
def test_an_unusable_reference_file_falls_back_to_the_copy_and_says_why(tmp_path, content, why):
    if content is None:
        content = json.dumps([{**reference()[0], "trader": "Cong ty Ma"}])
    english, vietnamese = _fallback(tmp_path, content)
    assert english.startswith(f"{tmp_path / 'consignments.json'} cannot be used (")
    assert why in english and "config/demo_consignments.json" in english
    assert vietnamese.startswith("Không dùng được")
