"""Start the whole portal as real processes on loopback ports: the three simulators, the web server
(gunicorn) and the worker. Used by ``portal run``, ``portal demo`` and the end-to-end tests."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import requests

from app.settings import PROJECT_ROOT

PORT_TOKEN = "demo-operator.snp"  # noqa: S105 - the demo port operator token from config/seed.json


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """A running portal: process handles and the URLs they listen on."""

    database_url: str
    clock: str = "simulated"
    web_port: int = 0
    port_delay: float = 0.2
    web_workers: int = int(os.environ.get("PORTAL_WEB_WORKERS", "2"))
    web_threads: int = int(os.environ.get("PORTAL_WEB_THREADS", "8"))
    extra_env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "PORTAL_DATABASE_URL": self.database_url,
                "PORTAL_CLOCK": self.clock,
                "PORTAL_PORT_URL": self.urls.get("port", ""),
                "PORTAL_CUSTOMS_URL": self.urls.get("customs", ""),
                "PORTAL_PAYMENT_URL": self.urls.get("payment", ""),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        # Every web worker must sign session cookies with the same key.
        env.setdefault("PORTAL_SECRET_KEY", self.secret_key)
        return env

    def start(self) -> Stack:
        try:
            self.web_port = self.web_port or free_port()
            self.urls["web"] = f"http://127.0.0.1:{self.web_port}"
            for kind in ("customs", "payment", "port"):
                self.start_simulator(kind)
            self._spawn(
                "web",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                    "--workers",
                    str(self.web_workers),
                    "--threads",
                    str(self.web_threads),
                    "--worker-class",
                    "gthread",
                    "--graceful-timeout",
                    "5",
                    "--log-level",
                    "warning",
                    "app.wsgi:app",
                ],
            )
            self._wait_http(self.urls["web"] + "/api/v1/health", "web")
            self.start_worker()
        except Exception:
            self.stop()
            raise
        return self

    def start_worker(self, timeout: float = 60.0) -> None:
        """Start the worker and wait until it runs jobs (it has loaded the model and the calendar)."""
        fd, name = tempfile.mkstemp(prefix="portal-worker-ready-")
        os.close(fd)
        ready = Path(name)
        ready.unlink()
        try:
            self._spawn("worker", [sys.executable, "-m", "app.cli", "worker"], PORTAL_WORKER_READY_FILE=name)
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if self.processes["worker"].poll() is not None:
                    raise RuntimeError(f"worker exited with code {self.processes['worker'].returncode}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"worker not ready within {timeout:.0f} s")
                time.sleep(0.05)
        finally:
            ready.unlink(missing_ok=True)

    def start_simulator(self, kind: str, port: int = 0) -> str:
        """Start (or restart, on the same port) one simulator and return its URL."""
        args = [sys.executable, "-m", "app.simulators", kind, "--host", "127.0.0.1", "--port", str(port)]
        if kind == "port":
            args += ["--delay", str(self.port_delay), "--portal-url", self.urls["web"]]
        env = self.env()
        env["SIMULATOR_PORTAL_TOKEN"] = PORT_TOKEN
        proc = subprocess.Popen(
            args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=self._log(kind), text=True
        )
        self.processes[kind] = proc
        line = proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            raise RuntimeError(f"{kind} simulator did not start: {line!r}")
        self.urls[kind] = line.split(" ", 1)[1]
        return self.urls[kind]

    def stop_process(self, name: str) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self) -> None:
        for name in ("worker", "web", "port", "customs", "payment"):
            self.stop_process(name)

    def _spawn(self, name: str, args: list[str], **env: str) -> None:
        self.processes[name] = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env={**self.env(), **env},
            stdout=self._log(name),
            stderr=subprocess.STDOUT,
        )

    def _log(self, name: str):
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process

    def _wait_http(self, url: str, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.processes[name]
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}")
            try:
                if requests.get(url, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not answer at {url} within {timeout:.0f} s")

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
