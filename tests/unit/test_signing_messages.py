"""A refusal with values in it — signing locked until a given time — reads in English over the API and in
Vietnamese on the pages, with its values kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from app.forms.messages import localized_reason
from app.i18n import translator
from app.signing.errors import SignatureRejected
from app.signing.pin_guard import locked_message

UNTIL = datetime(2026, 12, 7, 1, 15, tzinfo=UTC)


def test_the_lock_reads_in_english_over_the_api():
    refusal = SignatureRejected(locked_message(UNTIL), field="pin")
    body = json.loads(json.dumps(refusal.as_dict()))
    assert body["field"] == "pin"
    assert body["reason"] == "signing is locked after 5 wrong PINs until 2026-12-07T01:15:00Z; try again then"


def test_the_lock_reads_in_vietnamese_on_the_pages_with_its_time():
    refusal = SignatureRejected(locked_message(UNTIL), field="pin")
    shown = localized_reason({"field": "signing_pin", "reason": refusal.message}, translator("vi").gettext)
    assert shown.startswith("Chức năng ký số bị khóa sau 5 lần nhập sai mã PIN")
    assert "2026-12-07T01:15:00Z" in shown
    english = localized_reason({"field": "signing_pin", "reason": refusal.message}, translator("en").gettext)
    assert english.startswith("Signing is locked after 5 wrong PINs until 2026-12-07T01:15:00Z")
