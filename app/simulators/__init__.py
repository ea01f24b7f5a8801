"""Simulated outside systems: small real HTTP services the portal's connectors talk to in dev and tests.

Run one with ``python -m app.simulators port|customs|payment --port N`` (see `__main__`).

- `base`: routes, idempotency keys, fail mode and the ``/_sim`` control endpoints every simulator shares
- `server`: the threading HTTP server, `build_simulator` and `start_in_thread`
- `callback`: background delivery of a callback to the portal, with retries
- `port`, `customs`, `payment`: one module per outside system
"""

from __future__ import annotations

from app.simulators.server import KINDS, SimulatorServer, build_simulator, start_in_thread

__all__ = ["KINDS", "SimulatorServer", "build_simulator", "start_in_thread"]
