"""The fee payment gateway: captures inspection fees in VND."""

from __future__ import annotations

from app.simulators.base import Body, Reply, Simulator, error, missing_strings


class PaymentSimulator(Simulator):
    """``POST /payments`` captures at once."""

    kind = "payment"

    def __init__(self) -> None:
        super().__init__()
        self._payments = 0
        self.add_route("POST", "/payments", self._capture, mutating=True)

    def _capture(self, body: Body) -> Reply:
        invalid = missing_strings(body, "declaration_no", "payer", "method")
        if invalid is not None:
            return invalid
        amount = body.get("amount_vnd")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            return error(422, "invalid_amount", "amount_vnd must be a non-negative whole number of VND")
        with self.lock:
            self._payments += 1
            payment_ref = f"PAY-{self._payments:06d}"
        return Reply(
            201,
            {
                "payment_ref": payment_ref,
                "status": "captured",
                "declaration_no": body["declaration_no"],
                "amount_vnd": amount,
            },
            acted=True,
        )
