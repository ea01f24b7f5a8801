"""What ``portal run`` prints about the demo consignments it staged (app/demo_stages.py)."""

from __future__ import annotations

from app.demo_stages import STAGES, Staged


def test_the_summary_counts_the_cleared_and_names_each_waiting_step():
    staged = Staged(reached={"1": "cleared", "2": "cleared", "3": "pay_fees", "4": "record_sampling"})
    assert staged.render() == (
        "Demo consignments: 4 registered, 2 cleared; waiting at: pay_fees 1, record_sampling 1"
    )


def test_a_consignment_that_missed_its_step_is_named_with_where_it_stood_and_the_incidents():
    staged = Staged(
        reached={"1": "cleared"},
        missed={"2": "cleared, at Payment (last refusal: pay_fees: changed meanwhile)"},
        incidents=["2: payment.capture: cannot reach http://127.0.0.1:9/fees (ConnectionError)"],
    )
    lines = staged.render().splitlines()
    assert lines[1] == (
        "  not at their stage in time: 2 for cleared, at Payment (last refusal: pay_fees: changed meanwhile)"
    )
    assert lines[2].startswith("  incidents (retry them on /incidents): 2: payment.capture: cannot reach")


def test_a_database_with_consignments_is_left_as_it_is():
    assert "left as they are" in Staged(skipped=True).render()


def test_every_party_gets_a_step_and_three_consignments_clear():
    assert len(STAGES) == 10
    assert STAGES.count("cleared") == 3
    assert len(set(STAGES) - {"cleared"}) == 7  # seven different steps waiting for seven parties
