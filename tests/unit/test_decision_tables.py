"""The deployed decision tables route every demo consignment and compute fees, and an input entry such
as ``in [...]`` works after any input expression (a SpiffWorkflow 3.2.0 quirk we fix in app/engine/dmn.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from app.engine.dmn import PortalDMNEngine
from app.engine.parser import PortalParser, parse_xml_safely
from app.engine.script_engine import PortalScriptEngine
from app.engine.working_time import WorkingCalendar

ROOT = Path(__file__).resolve().parents[2]
DEMO = json.loads((ROOT / "config" / "demo_consignments.json").read_text(encoding="utf-8"))


def decide(table: str, data: dict) -> dict:
    parser = PortalParser()
    parser.add_dmn_xml(
        parse_xml_safely((ROOT / "bpmn" / f"{table}.dmn").read_bytes()), filename=f"{table}.dmn"
    )
    engine = parser.get_engine(table, None)
    assert isinstance(engine, PortalDMNEngine)
    task = SimpleNamespace(
        data=data,
        workflow=SimpleNamespace(script_engine=PortalScriptEngine(datetime.now(UTC), WorkingCalendar())),
    )
    return engine.result(task)


@pytest.mark.parametrize("consignment", DEMO, ids=[c["id"] for c in DEMO])
def test_each_demo_consignment_is_routed_to_its_lead_agency(consignment):
    hs = consignment["hs8"]
    outcome = decide("lead_agency", {"hs": hs, "hs_codes": [hs]})
    assert outcome["lead_agency"] == consignment["agencies"].split("+")[0]
    assert isinstance(outcome["result_deadline_wd"], int)


def test_food_safety_fees_are_per_item_and_capped():
    assert (
        decide("fees", {"lead_agency": "NAFIQAD", "co_agencies": [], "hs_codes": ["03031300"] * 3})["fee_vnd"]
        == 300_000
    )
    capped = decide("fees", {"lead_agency": "NAFIQAD", "co_agencies": [], "hs_codes": ["03031300"] * 150})
    assert capped["fee_vnd"] == 10_000_000


def test_an_in_list_entry_works_after_a_bare_variable():
    task = SimpleNamespace(
        data={"lead_agency": "RAHO6"},
        workflow=SimpleNamespace(script_engine=PortalScriptEngine(datetime.now(UTC), WorkingCalendar())),
    )
    engine = PortalDMNEngine.__new__(PortalDMNEngine)
    assert engine.evaluate("lead_agency", 'in ["RAHO6", "PPSD2"]', task)
    assert engine.evaluate("lead_agency", '"RAHO6"', task)
    assert not engine.evaluate("lead_agency", 'not in ["RAHO6"]', task)
