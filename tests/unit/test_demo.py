"""The demo: its pace (how long each party takes, drawn from the seed, the declaration and the step only),
its inbox paging and its plain error when the portal cannot be reached."""

from __future__ import annotations

import json

import pytest

from app.demo import DemoError, Player
from app.demo_pace import Pace
from app.settings import PROJECT_ROOT

SEED = json.loads((PROJECT_ROOT / "config" / "seed.json").read_text(encoding="utf-8"))
HOURS_PER_DAY = 9.5


def pace(name: str = "realistic", seed: int = 2016) -> Pace:
    return Pace.from_seed(name, seed, SEED, HOURS_PER_DAY)


def test_instant_parties_act_at_once():
    assert pace("instant").hours("106865793030", "publish_result", "PPSD2", False) == 0.0


def test_the_same_seed_declaration_and_step_always_draw_the_same_hours():
    first, again = pace(), pace()
    numbers = [f"10{n:010d}" for n in range(50)]
    assert [first.hours(n, "record_sampling", "RAHO6", False) for n in numbers] == [
        again.hours(n, "record_sampling", "RAHO6", False) for n in reversed(numbers)
    ][::-1]
    assert pace(seed=7).hours(numbers[0], "record_sampling", "RAHO6", False) != first.hours(
        numbers[0], "record_sampling", "RAHO6", False
    )


def test_agency_results_are_on_time_or_clearly_past_the_agencys_own_deadline():
    p = pace()
    assert p.result_deadline_days["PPSD2"] == 1 and p.result_deadline_days["RAHO6"] == 10  # the legal cap
    for agency in ("PPSD2", "NAFIQAD", "RAHO6"):
        days = p.result_deadline_days[agency]
        draws = [p.hours(f"10{n:010d}", "publish_result", agency, False) for n in range(400)]
        late = [h for h in draws if h > days * HOURS_PER_DAY]
        on_time = [h for h in draws if h <= days * HOURS_PER_DAY]
        # Late means after the end of the n-th working day, however early in its day the task opened.
        assert all(h > (days + 1) * HOURS_PER_DAY for h in late)
        assert all(h <= 0.9 * min(days, 5) * HOURS_PER_DAY for h in on_time)
        assert 0.05 < len(late) / len(draws) < 0.3


def test_some_branch_heads_miss_their_two_working_hours():
    draws = [pace().hours(f"10{n:010d}", "decide_preservation", "02CI", False) for n in range(400)]
    assert {h > 2 for h in draws} == {True, False}
    assert all(h <= 1.8 or h >= 2.1 for h in draws)


def test_an_unknown_pace_is_refused():
    with pytest.raises(ValueError, match="unknown pace 'slow'"):
        pace("slow")


def test_the_demo_says_plainly_when_it_cannot_reach_the_portal():
    import socket

    from click.testing import CliRunner

    from app.cli import main

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = CliRunner().invoke(main, ["demo", "--url", url, "--consignments", "1"])
    assert result.exit_code == 1
    assert f"Error: cannot reach the portal at {url}" in result.output
    assert "Traceback" not in result.output


class _Page:
    def __init__(self, items: list[dict]) -> None:
        self._items = items

    def json(self) -> dict:
        return {"items": self._items}


class _InboxOf(Player):
    """A player whose user's inbox holds ``count`` items, served 200 a page as the API does."""

    def __init__(self, count: int) -> None:
        super().__init__("http://127.0.0.1:9", SEED)
        self.items = [{"id": n} for n in range(1, count + 1)]
        self.pages = 0

    def call(self, method: str, path: str, user: str, body=None):  # noqa: ANN001, ANN201
        query = dict(part.split("=") for part in path.split("?", 1)[1].split("&"))
        offset, limit = int(query.get("offset", 0)), int(query["limit"])
        self.pages += 1
        return _Page(self.items[offset : offset + limit])


def test_the_demo_finds_a_due_task_beyond_the_first_page_of_an_inbox():
    player = _InboxOf(450)
    assert [i["id"] for i in player.find_in_inbox("trader.t01", {3, 420})] == [3, 420]
    assert player.pages == 3
    with pytest.raises(DemoError, match=r"work items \[451\] are not in trader.t01's inbox"):
        player.find_in_inbox("trader.t01", {451})
