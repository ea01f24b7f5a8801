"""The customs system (VNACCS): declaration lookups and clearances."""

from __future__ import annotations

from app.simulators.base import Body, Reply, Simulator, error, missing_strings

STATUSES = ("accepted", "cancelled", "not_found")


class CustomsSimulator(Simulator):
    """Every declaration is ``accepted`` unless ``POST /_sim/declarations`` says otherwise."""

    kind = "customs"

    def __init__(self) -> None:
        super().__init__()
        self._statuses: dict[str, str] = {}
        self._clearances: dict[str, str] = {}
        self.add_route("POST", "/declarations/lookup", self._lookup)
        self.add_route("POST", "/clearances", self._clear, mutating=True)
        self.add_route("POST", "/_sim/declarations", self._set_status, business=False)

    def status_of(self, declaration_no: str) -> str:
        """Return the declaration's status as customs sees it."""
        with self.lock:
            return self._statuses.get(declaration_no, "accepted")

    def _lookup(self, body: Body) -> Reply:
        invalid = missing_strings(body, "declaration_no")
        if invalid is not None:
            return invalid
        declaration_no = body["declaration_no"]
        return Reply(200, {"declaration_no": declaration_no, "status": self.status_of(declaration_no)})

    def _clear(self, body: Body) -> Reply:
        invalid = missing_strings(body, "declaration_no", "certificate_no")
        if invalid is not None:
            return invalid
        declaration_no = body["declaration_no"]
        status = self.status_of(declaration_no)
        if status == "cancelled":
            return error(409, "declaration_cancelled", f"declaration {declaration_no} is cancelled")
        if status == "not_found":
            return error(422, "declaration_not_found", f"no declaration {declaration_no}")
        with self.lock:
            existing = self._clearances.get(declaration_no)
            if existing is not None:
                return Reply(200, {"declaration_no": declaration_no, "clearance_no": existing})
            clearance_no = f"CL-{len(self._clearances) + 1:06d}"
            self._clearances[declaration_no] = clearance_no
        return Reply(201, {"declaration_no": declaration_no, "clearance_no": clearance_no}, acted=True)

    def _set_status(self, body: Body) -> Reply:
        invalid = missing_strings(body, "declaration_no")
        if invalid is not None or body.get("status") not in STATUSES:
            return error(400, "invalid_request", f"give declaration_no and a status in {', '.join(STATUSES)}")
        with self.lock:
            self._statuses[body["declaration_no"]] = body["status"]
        return Reply(200, {"declaration_no": body["declaration_no"], "status": body["status"]})
