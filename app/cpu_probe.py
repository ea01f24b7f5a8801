"""The CPU probe: how much CPU each command and each HTTP request of a process used, for measuring where
a running stack's time goes (``bench/throughput.py`` prints it).

Off unless ``PORTAL_CPU_PROBE_DIR`` names a folder; then every process that builds the portal keeps one
event per outermost command and per request — its start (``time.monotonic``, the same clock in every
process), kind, name and the CPU time of the thread that ran it (``time.thread_time``) — and writes them
to ``<folder>/cpu-<pid>.json`` when it exits. A command run inside another command, or inside a
request, is part of the outer one's time and is recorded under its own kind only once. A request is
timed from the WSGI call until the application returns its response (the API's bodies are built by
then; a streamed download's iteration is not counted). Costs two clock reads per event when on and
nothing when off.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

_NUMBER = re.compile(r"/\d+(?=/|$)")
_probes: dict[str, CpuProbe] = {}
_probes_lock = threading.Lock()


class CpuProbe:
    """One process's record of command and request CPU times."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.events: list[tuple[float, str, str, float]] = []
        self._depth = threading.local()

    @contextmanager
    def measure(self, kind: str, name: str, detail: Callable[[], str | None] | None = None):
        """Time the block as one event of ``kind`` unless the thread is already inside one of that kind;
        ``detail``, asked at the end, may add a word to the event's name (``CompleteJob (warm)``)."""
        if getattr(self._depth, kind, 0):
            yield
            return
        setattr(self._depth, kind, 1)
        started, cpu = time.monotonic(), time.thread_time()
        try:
            yield
        finally:
            used = time.thread_time() - cpu
            word = detail() if detail is not None else None
            self.events.append((started, kind, f"{name} ({word})" if word else name, used))
            setattr(self._depth, kind, 0)

    def timed_commands(
        self, execute: Callable[..., Any], outcome: Callable[..., str | None] | None = None
    ) -> Callable[..., Any]:
        """Wrap ``CommandExecutor.execute``: one ``command`` event named by the command's class, and by
        ``outcome(forget=...)`` (the warm workflow cache's: ``warm`` or ``restored``) when the command
        loaded a workflow."""

        detail = partial(outcome, forget=True) if outcome is not None else None

        def timed(command: Any, *args: Any, **kwargs: Any) -> Any:
            if detail is not None:
                detail()  # forget what an earlier command of this thread found
            with self.measure("command", type(command).__name__, detail):
                return execute(command, *args, **kwargs)

        return timed

    def timed_requests(self, wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        """Wrap a WSGI application: one ``request`` event named ``METHOD /path`` (numbers as ``<id>``)."""

        def timed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            name = f"{environ.get('REQUEST_METHOD', '')} {_NUMBER.sub('/<id>', environ.get('PATH_INFO', ''))}"
            with self.measure("request", name):
                return wsgi_app(environ, start_response)

        return timed

    def write(self) -> Path | None:
        """Write this process's events to ``<folder>/cpu-<pid>.json`` (again at exit, with any newer);
        nothing when the folder is gone (whoever made it is done measuring)."""
        if not self.directory.is_dir():
            return None
        path = self.directory / f"cpu-{os.getpid()}.json"
        path.write_text(json.dumps({"pid": os.getpid(), "events": list(self.events)}), encoding="utf-8")
        return path


def probe_for(directory: str) -> CpuProbe | None:
    """The process's probe writing into ``directory`` (created here), or None when it is empty."""
    if not directory:
        return None
    with _probes_lock:
        probe = _probes.get(directory)
        if probe is None:
            Path(directory).mkdir(parents=True, exist_ok=True)
            probe = _probes[directory] = CpuProbe(Path(directory))
            atexit.register(probe.write)
        return probe


def read_events(directory: Path) -> dict[int, list[tuple[float, str, str, float]]]:
    """Every process's events from a probe folder, by process id."""
    found: dict[int, list[tuple[float, str, str, float]]] = {}
    for path in sorted(directory.glob("cpu-*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        found[int(record["pid"])] = [tuple(event) for event in record["events"]]
    return found
