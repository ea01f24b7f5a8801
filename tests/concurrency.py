"""Races staged by the tests: calls released at the same moment from their own threads, and a point in
the code where two of them meet before going on."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any


def at_once(*calls: Callable[[], Any], timeout: float = 60.0) -> list[Any]:
    """Run each call in its own thread, all released together; return each one's result, or the
    exception it raised, in the order of ``calls``."""
    start = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            start.wait(timeout=10)
            outcomes[index] = call()
        except BaseException as exc:  # the test's assertion reports it
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return outcomes


def meet_before(monkeypatch, owner: object, name: str, parties: int = 2, wait: float = 2.0) -> None:
    """Make ``parties`` callers of ``owner.name`` wait for each other there, each for at most ``wait``
    seconds: callers that can all get there go on together, a caller held back elsewhere (by a lock)
    lets the others go on alone once the wait is over."""
    original, rendezvous = getattr(owner, name), threading.Barrier(parties)

    def met(*args: Any, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):
            rendezvous.wait(timeout=wait)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, met)
