"""Command line: ``python -m app.simulators port|customs|payment --host H --port N [options]``.

Prints ``LISTENING http://HOST:PORT`` on stdout once the socket is bound; SIGTERM or SIGINT stop it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from app.simulators.server import KINDS, build_simulator, make_server

log = logging.getLogger("app.simulators")

TOKEN_ENV = "SIMULATOR_PORTAL_TOKEN"  # noqa: S105 (the name of a variable, not a secret)


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m app.simulators", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS, help="which outside system to simulate")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--delay",
        type=_non_negative,
        default=0.5,
        help="port: seconds before the position callback (default 0.5)",
    )
    parser.add_argument("--portal-url", help="port: portal base URL receiving the position callback")
    parser.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV),
        help=f"port: bearer token for the callback (default: ${TOKEN_ENV})",
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one simulator until SIGTERM or SIGINT; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        simulator = build_simulator(args.kind, delay=args.delay, portal_url=args.portal_url, token=args.token)
        server = make_server(simulator, args.host, args.port)
    except (OSError, ValueError) as exc:
        log.error("cannot start the %s simulator: %s", args.kind, exc)
        return 2

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stopping.set())
    thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    thread.start()
    sys.stdout.write(f"LISTENING {server.base_url}\n")
    sys.stdout.flush()
    log.info("%s simulator listening on %s", args.kind, server.base_url)

    stopping.wait()
    log.info("%s simulator stopping", args.kind)
    server.stop()
    thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
