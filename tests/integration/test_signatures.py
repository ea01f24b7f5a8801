"""Signed decisions over the real HTTP API, on SQLite and PostgreSQL.

The agency officer signs the sampling record either by typing the signing PIN (the portal holds the key)
or with a client that signs the exact payload the portal hands out. Every bad signature — wrong PIN,
another key, an expired, revoked or untrusted certificate, a payload that does not match, a stale signing
time — is refused with a 422 naming the field, and the database is exactly as it was."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.cli import main
from app.engine.commands import CompleteWorkItem
from app.models import AuditEvent, Consignment, SigningCertificate, SigningPinGuard, User
from app.services import build_portal
from app.signing import keys, pki
from app.signing.errors import SignatureRejected
from app.signing.pin_guard import PIN_ATTEMPTS, PIN_LOCK
from app.signing.service import PinSigning
from tests.external_ca import ExternalCa
from tests.integration.test_bad_input import (
    api,
    assert_refused,
    beef_waiting_for_sampling,
    snapshot,
    submits_form,
    the_work_item,
    work_item_state,
)
from tests.procedure import (
    COUNTERSIGN,
    PASS,
    PAYMENT,
    SAMPLING,
    actor,
    completes,
    consignment,
    timeline,
    trader_countersigns,
    worker_settles,
)

OFFICER = "officer.raho6"


# -- helpers ------------------------------------------------------------------------------------------------
class ClientKey:
    """An API client's own key pair and the certificate the agency's CA issued for it."""

    def __init__(self, portal, username: str, **validity) -> None:
        self.key = keys.new_signing_key()
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, username)]))
            .sign(self.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
        )
        with portal.db.write_session.begin() as session:
            row = pki.issue_user_certificate(session, portal.settings, username, csr_pem=csr, **validity)
            self.row_id = row.id
            self.pem = (
                x509.load_der_x509_certificate(row.der).public_bytes(serialization.Encoding.PEM).decode()
            )

    def sign(self, payload: bytes, key=None) -> str:
        return base64.b64encode(keys.sign(key or self.key, payload)).decode()


def signing_payload(live_portal: str, username: str, work_item_id: int, data: dict) -> dict:
    response = api(
        live_portal, "POST", f"/work-items/{work_item_id}/signing-payload", username, json={"data": data}
    )
    assert response.status_code == 200, response.text
    return response.json()


def submits_signed_form(live_portal, username, work_item_id, data, signature, certificate, signed_at):
    body = {"data": data, "signature": signature, "certificate": certificate, "signed_at": signed_at}
    return api(live_portal, "POST", f"/work-items/{work_item_id}/complete", username, json=body)


def signed_events(portal, declaration_no: str) -> list[AuditEvent]:
    with portal.db.session() as session:
        c = session.scalar(select(Consignment).where(Consignment.declaration_no == declaration_no))
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.consignment_id == c.id, AuditEvent.signature.is_not(None))
                .order_by(AuditEvent.id)
            )
        )


def audit_verify(portal, **env: str) -> tuple[int, str]:
    env = {
        "PORTAL_DATABASE_URL": portal.settings.database_url,
        "PORTAL_PKI_DIR": str(portal.settings.pki_dir),
        **env,
    }
    result = CliRunner().invoke(main, ["audit", "verify"], env=env)
    return result.exit_code, result.output


def all_but_pin_guards(tables: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """A snapshot without the PIN attempt counters, which a wrong PIN updates on purpose."""
    return {name: rows for name, rows in tables.items() if name != "signing_pin_guards"}


def pin_guard(portal, username: str) -> tuple[int, datetime | None] | None:
    """(wrong PINs in a row, locked until) of the user, as every portal process sees it."""
    with portal.db.session() as session:
        row = session.execute(
            select(SigningPinGuard.failures, SigningPinGuard.locked_until)
            .join(User, User.id == SigningPinGuard.user_id)
            .where(User.username == username)
        ).first()
        return tuple(row) if row is not None else None


@contextmanager
def another_portal(portal, clock, **settings):
    """A second portal process on the same database (its own engine and caches), configured with
    ``settings``, serving the API over real HTTP."""
    other = build_portal(dataclasses.replace(portal.settings, **settings), clock=clock)
    server = make_server("127.0.0.1", 0, create_app(portal=other), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield other, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        other.close()


def cli(portal, *args: str, **env: str):
    result = CliRunner().invoke(
        main,
        list(args),
        env={
            "PORTAL_DATABASE_URL": portal.settings.database_url,
            "PORTAL_PKI_DIR": str(portal.settings.pki_dir),
            **env,
        },
    )
    assert "Traceback" not in result.output, result.output
    return result


def foreign_ca_certificate(username: str, key) -> str:
    """A certificate for ``username`` from a CA the portal does not trust."""
    ca_key = keys.new_signing_key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some Other CA")])
    now = datetime(2026, 12, 1, tzinfo=UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = pki.signing_certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, username)]),
        key.public_key(),
        ca,
        ca_key,
        now,
        now + timedelta(days=365),
    )
    return leaf.public_bytes(serialization.Encoding.PEM).decode()


# -- the two ways to sign -------------------------------------------------------------------------------
def test_the_officer_signs_the_sampling_record_with_the_signing_pin(portal, live_portal, worker):
    number, item = beef_waiting_for_sampling(portal, worker)

    response = submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN)

    assert response.status_code == 200, response.text
    [event] = signed_events(portal, number)
    payload = json.loads(event.signed_payload)
    assert payload["task"]["step"] == "record_sampling"
    assert payload["data"] == SAMPLING
    assert payload["signer"] == {"user": OFFICER, "organization": "RAHO6"}
    with portal.db.session() as session:
        cert = session.get(SigningCertificate, event.certificate_id)
        officer = session.scalar(select(User).where(User.username == OFFICER))
        assert cert.user_id == officer.id and cert.purpose == "personal"
    public_key = x509.load_der_x509_certificate(cert.der).public_key()
    assert keys.signature_holds(public_key, base64.b64decode(event.signature), event.signed_payload)
    code, output = audit_verify(portal)
    assert code == 0 and "1 signed, every signature verified" in output, output


def test_the_timeline_shows_a_signed_decision_from_the_bytes_signed(portal, live_portal, worker):
    """The timeline keeps a signed step's data once, in the signed payload: its row names the task, and
    the API's timeline reads the data back from what was signed."""
    number, item = beef_waiting_for_sampling(portal, worker)
    assert submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN).status_code == 200

    [row] = [t for t in timeline(portal, number) if t.step_id == "record_sampling"]
    assert row.detail == {"signed_task": item.task_id}
    shown = api(live_portal, "GET", f"/consignments/{number}", OFFICER).json()
    [entry] = [t for t in shown["timeline"] if t["step_id"] == "record_sampling"]
    assert entry["detail"] == {"data": SAMPLING, "signed": True}
    assert entry["actor"] == OFFICER and entry["kind"] == "task"


def test_an_api_client_signs_the_exact_payload_itself(portal, live_portal, worker):
    number, item = beef_waiting_for_sampling(portal, worker)
    client = ClientKey(portal, OFFICER)

    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    payload = base64.b64decode(offered["payload_base64"])
    assert json.loads(payload) == offered["payload"]
    assert offered["payload"]["data"] == SAMPLING and offered["signed_at"] == "2026-12-07T01:00:00Z"
    response = submits_signed_form(
        live_portal, OFFICER, item.id, SAMPLING, client.sign(payload), client.pem, offered["signed_at"]
    )

    assert response.status_code == 200, response.text
    [event] = signed_events(portal, number)
    assert event.signed_payload == payload and event.certificate_id == client.row_id
    assert audit_verify(portal)[0] == 0


def test_a_whole_consignment_carries_signed_sampling_result_and_sealed_clearance(portal, live_portal, worker):
    number, _ = beef_waiting_for_sampling(portal, worker)
    completes(portal, OFFICER, number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    completes(portal, OFFICER, number, "publish_result", PASS)
    worker_settles(worker, portal, number)
    completes(portal, "trader.t01", number, "pay_fees", PAYMENT)

    assert worker_settles(worker, portal, number).status == "cleared"
    steps = [json.loads(e.signed_payload)["task"]["step"] for e in signed_events(portal, number)]
    assert steps == ["record_sampling", "countersign_sampling", "publish_result", "clear_goods"]
    clearance = signed_events(portal, number)[-1]
    assert json.loads(clearance.signed_payload)["signer"] == {"user": "system", "organization": "PORTAL"}
    code, output = audit_verify(portal)
    assert code == 0 and "4 signed" in output, output


# -- the sampling record is signed by trader and agency --------------------------------------------------
def test_the_trader_countersigns_exactly_the_sampling_record_the_agency_signed(portal, live_portal, worker):
    number, sampling = beef_waiting_for_sampling(portal, worker)
    assert submits_form(live_portal, OFFICER, sampling.id, SAMPLING).status_code == 200
    [agency_record] = signed_events(portal, number)
    countersign = the_work_item(portal, number, "countersign_sampling")
    assert (countersign.organization, countersign.role) == ("T01", "trader")

    # The trader's client reads the record it countersigns, then signs the payload the portal hands out:
    # the portal filled in the record's SHA-256.
    shown = api(live_portal, "GET", f"/work-items/{countersign.id}", "trader.t01").json()
    record = shown["countersigns"]["sampling_record_sha256"]
    assert record["sha256"] == agency_record.data_hash and record["data"] == SAMPLING
    assert (record["signer"], record["organization"]) == (OFFICER, "RAHO6")
    trader = ClientKey(portal, "trader.t01")
    offered = signing_payload(live_portal, "trader.t01", countersign.id, COUNTERSIGN)
    assert offered["payload"]["data"] == {**COUNTERSIGN, "sampling_record_sha256": agency_record.data_hash}
    payload = base64.b64decode(offered["payload_base64"])
    response = submits_signed_form(
        live_portal, "trader.t01", countersign.id, COUNTERSIGN, trader.sign(payload), trader.pem,
        offered["signed_at"],
    )  # fmt: skip

    assert response.status_code == 200, response.text
    agency, traders = signed_events(portal, number)
    assert traders.signed_payload == payload and traders.certificate_id == trader.row_id
    signed = json.loads(traders.signed_payload)
    assert signed["signer"] == {"user": "trader.t01", "organization": "T01"}
    assert signed["data"]["sampling_record_sha256"] == agency.data_hash
    assert the_work_item(portal, number, "publish_result").state == "open"
    assert audit_verify(portal)[0] == 0


def test_a_countersignature_naming_another_record_or_unticked_is_refused(portal, live_portal, worker):
    number, sampling = beef_waiting_for_sampling(portal, worker)
    assert submits_form(live_portal, OFFICER, sampling.id, SAMPLING).status_code == 200
    countersign = the_work_item(portal, number, "countersign_sampling")
    before = snapshot(portal)

    other = {**COUNTERSIGN, "sampling_record_sha256": "0" * 64}
    assert_refused(
        submits_form(live_portal, "trader.t01", countersign.id, other), 422, "sampling_record_sha256", "match"
    )
    unticked = {"record_confirmed": False}
    assert_refused(submits_form(live_portal, "trader.t01", countersign.id, unticked), 422, "record_confirmed")
    assert_refused(
        submits_form(live_portal, "trader.t01", countersign.id, COUNTERSIGN, pin="654321"),
        422,
        "pin",
        "wrong",
    )
    # another trader cannot countersign T01's record
    assert_refused(submits_form(live_portal, "trader.t02", countersign.id, COUNTERSIGN), 404, "work_item_id")

    assert all_but_pin_guards(snapshot(portal)) == all_but_pin_guards(before)
    assert work_item_state(portal, countersign.id) == "open"
    assert pin_guard(portal, "trader.t01") == (1, None)  # the wrong PIN is counted; nothing else changed


# -- refusals: nothing completed ---------------------------------------------------------------------------
def test_a_wrong_signing_pin_is_refused_and_nothing_is_completed(portal, live_portal, worker):
    _, item = beef_waiting_for_sampling(portal, worker)
    before = snapshot(portal)

    assert_refused(submits_form(live_portal, OFFICER, item.id, SAMPLING, pin="654321"), 422, "pin", "wrong")
    response = api(live_portal, "POST", f"/work-items/{item.id}/complete", OFFICER, json={"data": SAMPLING})
    assert_refused(response, 422, "pin", "must be signed")

    assert all_but_pin_guards(snapshot(portal)) == all_but_pin_guards(before)
    assert work_item_state(portal, item.id) == "open"
    assert pin_guard(portal, OFFICER) == (1, None)  # the wrong PIN is counted; nothing else changed


def test_a_signature_made_with_another_key_is_refused_and_nothing_is_completed(portal, live_portal, worker):
    _, item = beef_waiting_for_sampling(portal, worker)
    client = ClientKey(portal, OFFICER)
    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    payload = base64.b64decode(offered["payload_base64"])
    before = snapshot(portal)

    signature = client.sign(payload, key=keys.new_signing_key())
    response = submits_signed_form(
        live_portal, OFFICER, item.id, SAMPLING, signature, client.pem, offered["signed_at"]
    )

    assert_refused(response, 422, "signature", "another key")
    assert snapshot(portal) == before


def test_a_signature_over_other_data_than_submitted_is_refused_and_nothing_is_completed(
    portal, live_portal, worker
):
    _, item = beef_waiting_for_sampling(portal, worker)
    client = ClientKey(portal, OFFICER)
    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    signature = client.sign(base64.b64decode(offered["payload_base64"]))
    before = snapshot(portal)

    changed = {**SAMPLING, "sample_count": 30}
    response = submits_signed_form(
        live_portal, OFFICER, item.id, changed, signature, client.pem, offered["signed_at"]
    )

    assert_refused(response, 422, "signature", "signing payload")
    assert snapshot(portal) == before


def test_an_expired_certificate_is_refused_and_nothing_is_completed(portal, live_portal, worker):
    _, item = beef_waiting_for_sampling(portal, worker)
    expired = {
        "not_before": datetime(2026, 11, 1, tzinfo=UTC),
        "not_after": datetime(2026, 12, 1, tzinfo=UTC),
    }
    client = ClientKey(portal, OFFICER, **expired)
    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    signature = client.sign(base64.b64decode(offered["payload_base64"]))
    before = snapshot(portal)

    response = submits_signed_form(
        live_portal, OFFICER, item.id, SAMPLING, signature, client.pem, offered["signed_at"]
    )
    assert_refused(response, 422, "certificate", "expired on 2026-12-01")
    assert snapshot(portal) == before

    with portal.db.write_session.begin() as session:  # the same for the key the portal holds
        pki.issue_user_certificate(session, portal.settings, OFFICER, pin=pki.DEMO_PIN, **expired)
    before = snapshot(portal)
    response = submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN)
    assert_refused(response, 422, "certificate", "expired")
    assert snapshot(portal) == before


def test_a_revoked_certificate_is_refused_and_nothing_is_completed(portal, live_portal, worker, clock):
    _, item = beef_waiting_for_sampling(portal, worker)
    client = ClientKey(portal, OFFICER)
    with portal.db.write_session.begin() as session:
        row = session.get(SigningCertificate, client.row_id)
        pki.revoke(session, portal.settings, row, now=clock.now() - timedelta(hours=1))
    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    signature = client.sign(base64.b64decode(offered["payload_base64"]))
    before = snapshot(portal)

    response = submits_signed_form(
        live_portal, OFFICER, item.id, SAMPLING, signature, client.pem, offered["signed_at"]
    )

    assert_refused(response, 422, "certificate", "revoked on")
    assert snapshot(portal) == before


def test_a_certificate_from_an_untrusted_ca_is_refused_and_nothing_is_completed(portal, live_portal, worker):
    _, item = beef_waiting_for_sampling(portal, worker)
    key = keys.new_signing_key()
    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    signature = base64.b64encode(keys.sign(key, base64.b64decode(offered["payload_base64"]))).decode()
    before = snapshot(portal)

    response = submits_signed_form(
        live_portal,
        OFFICER,
        item.id,
        SAMPLING,
        signature,
        foreign_ca_certificate(OFFICER, key),
        offered["signed_at"],
    )

    assert_refused(response, 422, "certificate", "not issued by a trusted CA")
    assert snapshot(portal) == before


def test_another_users_certificate_or_a_stale_signing_time_is_refused(portal, live_portal, worker, clock):
    _, item = beef_waiting_for_sampling(portal, worker)
    colleague = ClientKey(portal, "manager.raho6")
    offered = signing_payload(live_portal, OFFICER, item.id, SAMPLING)
    payload = base64.b64decode(offered["payload_base64"])
    before = snapshot(portal)

    response = submits_signed_form(
        live_portal, OFFICER, item.id, SAMPLING, colleague.sign(payload), colleague.pem, offered["signed_at"]
    )
    assert_refused(response, 422, "certificate", "not registered as officer.raho6")
    clock.advance(timedelta(hours=1))
    response = submits_signed_form(
        live_portal, OFFICER, item.id, SAMPLING, colleague.sign(payload), colleague.pem, offered["signed_at"]
    )
    assert_refused(response, 422, "signed_at", "minutes from the portal's clock")
    response = submits_signed_form(live_portal, OFFICER, item.id, SAMPLING, "not base64!", colleague.pem, "x")
    assert_refused(response, 422, "signed_at")

    assert snapshot(portal) == before


def test_the_result_and_the_clearance_need_their_signatures_too(portal, live_portal, worker):
    number, sampling = beef_waiting_for_sampling(portal, worker)
    assert submits_form(live_portal, OFFICER, sampling.id, SAMPLING).status_code == 200
    trader_countersigns(portal, number)
    result = the_work_item(portal, number, "publish_result")
    before = snapshot(portal)

    assert_refused(submits_form(live_portal, OFFICER, result.id, PASS, pin="000000"), 422, "pin", "wrong")

    assert all_but_pin_guards(snapshot(portal)) == all_but_pin_guards(before)
    assert consignment(portal, number).status == "in_progress"


def test_a_revoked_certificate_is_refused_for_pin_signing_too(portal, live_portal, worker, clock):
    _, item = beef_waiting_for_sampling(portal, worker)
    with portal.db.write_session.begin() as session:  # the certificate whose key the portal holds
        row = session.scalar(
            select(SigningCertificate)
            .join(User, User.id == SigningCertificate.user_id)
            .where(User.username == OFFICER, SigningCertificate.retired_at.is_(None))
        )
        pki.revoke(session, portal.settings, row, now=clock.now() - timedelta(minutes=30))
    before = snapshot(portal)

    response = submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN)

    assert_refused(response, 422, "certificate", "revoked on")
    assert snapshot(portal) == before
    assert work_item_state(portal, item.id) == "open"


# -- the PIN attempt limit ----------------------------------------------------------------------------------
def test_five_wrong_pins_lock_remote_signing_for_a_quarter_of_an_hour_in_every_portal_process(
    portal, live_portal, worker, clock
):
    _, item = beef_waiting_for_sampling(portal, worker)
    before = snapshot(portal)
    officer = actor(portal, OFFICER)

    with another_portal(portal, clock) as (second, _):  # a second web worker: its own engine and caches
        for attempt in range(1, PIN_ATTEMPTS):
            if attempt % 2:
                response = submits_form(live_portal, OFFICER, item.id, SAMPLING, pin="111111")
                assert_refused(response, 422, "pin", "wrong signing PIN")
            else:
                with pytest.raises(SignatureRejected, match="wrong signing PIN"):
                    second.execute(CompleteWorkItem(item.id, SAMPLING, signing=PinSigning("222222")), officer)
            assert pin_guard(portal, OFFICER) == (attempt, None)

        fifth = submits_form(live_portal, OFFICER, item.id, SAMPLING, pin="333333")
        until = clock.now() + PIN_LOCK
        assert_refused(fifth, 422, "pin", f"locked after 5 wrong PINs until {until:%Y-%m-%dT%H:%M:%S}Z")
        assert pin_guard(portal, OFFICER) == (0, until)

        # While locked even the right PIN is refused — in this process and in the other one.
        right = submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN)
        assert_refused(right, 422, "pin", "locked")
        with pytest.raises(SignatureRejected, match="locked"):
            second.execute(CompleteWorkItem(item.id, SAMPLING, signing=PinSigning(pki.DEMO_PIN)), officer)
        assert all_but_pin_guards(snapshot(portal)) == all_but_pin_guards(before)
        assert work_item_state(portal, item.id) == "open"

    clock.advance(PIN_LOCK - timedelta(seconds=1))
    assert_refused(
        submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN), 422, "pin", "locked"
    )
    clock.advance(timedelta(seconds=1))
    assert submits_form(live_portal, OFFICER, item.id, SAMPLING, pin=pki.DEMO_PIN).status_code == 200
    assert work_item_state(portal, item.id) == "completed"


def test_the_right_pin_starts_the_count_again(portal, live_portal, worker):
    number, sampling = beef_waiting_for_sampling(portal, worker)
    for _ in range(PIN_ATTEMPTS - 1):
        assert_refused(submits_form(live_portal, OFFICER, sampling.id, SAMPLING, pin="111111"), 422, "pin")
    assert submits_form(live_portal, OFFICER, sampling.id, SAMPLING, pin=pki.DEMO_PIN).status_code == 200
    assert pin_guard(portal, OFFICER) == (0, None)
    trader_countersigns(portal, number)

    result = the_work_item(portal, number, "publish_result")
    for _ in range(PIN_ATTEMPTS - 1):
        assert_refused(submits_form(live_portal, OFFICER, result.id, PASS, pin="111111"), 422, "pin", "wrong")
    assert submits_form(live_portal, OFFICER, result.id, PASS, pin=pki.DEMO_PIN).status_code == 200


# -- production trust: an external CA -----------------------------------------------------------------------
def test_a_certificate_from_a_configured_external_ca_signs_through_the_client_path(
    portal, live_portal, worker, clock, tmp_path
):
    _, item = beef_waiting_for_sampling(portal, worker)
    ca = ExternalCa(tmp_path / "ca")
    officer = ca.issue(OFFICER, "Trần Thị Bích")
    trust = ca.trust_env(portal.settings.pki_dir)

    untrusted = cli(portal, "pki", "register", OFFICER, str(officer.path))
    assert untrusted.exit_code == 1 and "not issued by a trusted CA" in untrusted.output, untrusted.output
    registered = cli(portal, "pki", "register", OFFICER, str(officer.path), **trust)
    assert registered.exit_code == 0 and "registered" in registered.output, registered.output

    with another_portal(portal, clock, **ca.trust_settings(portal.settings.pki_dir)) as (_, url):
        offered = signing_payload(url, OFFICER, item.id, SAMPLING)
        signature = officer.sign(base64.b64decode(offered["payload_base64"]))
        response = submits_signed_form(
            url, OFFICER, item.id, SAMPLING, signature, officer.pem, offered["signed_at"]
        )

    assert response.status_code == 200, response.text
    assert work_item_state(portal, item.id) == "completed"
    code, output = audit_verify(portal, **trust)
    assert code == 0 and "every signature verified" in output, output
    code, output = audit_verify(portal)  # without the external CA configured, its signature does not hold
    assert code == 1 and "not issued by a trusted CA" in output, output


def test_with_crls_required_a_ca_without_a_loaded_crl_or_with_an_expired_one_is_refused(
    portal, live_portal, worker, clock, tmp_path, caplog
):
    _, item = beef_waiting_for_sampling(portal, worker)
    ca = ExternalCa(tmp_path / "ca")
    officer = ca.issue(OFFICER, "Trần Thị Bích")
    trust = ca.trust_env(portal.settings.pki_dir)
    assert cli(portal, "pki", "register", OFFICER, str(officer.path), **trust).exit_code == 0
    now = clock.now()

    def submit(url: str):
        offered = signing_payload(url, OFFICER, item.id, SAMPLING)
        signature = officer.sign(base64.b64decode(offered["payload_base64"]))
        return submits_signed_form(
            url, OFFICER, item.id, SAMPLING, signature, officer.pem, offered["signed_at"]
        )

    required = {**ca.trust_settings(portal.settings.pki_dir), "pki_require_crl": True}
    before = snapshot(portal)
    with another_portal(portal, clock, **required) as (_, url):
        assert_refused(submit(url), 422, "certificate", "no CRL is loaded for CN=Example Signing CA G1")
    assert snapshot(portal) == before

    # CRLs of both CAs, loaded from the command line, but both past their nextUpdate by the portal's clock.
    for name, of_root in (("issuing-old.crl", False), ("root-old.crl", True)):
        old = ca.crl(
            name, of_root=of_root, this_update=now - timedelta(days=40), next_update=now - timedelta(days=10)
        )
        loaded = cli(portal, "pki", "crl", "load", str(old), **trust)
        assert loaded.exit_code == 0 and "0 revoked certificates" in loaded.output, loaded.output
    before = snapshot(portal)
    with another_portal(portal, clock, **required) as (_, url):
        assert_refused(submit(url), 422, "certificate", "expired on")
    assert snapshot(portal) == before

    # Without PORTAL_PKI_REQUIRE_CRL the expired CRL still counts, with a warning in the log.
    caplog.set_level(logging.WARNING, logger="app.signing.verify")
    with another_portal(portal, clock, **ca.trust_settings(portal.settings.pki_dir)) as (_, url):
        accepted = submit(url)
    assert accepted.status_code == 200, accepted.text
    assert any("expired on" in r.getMessage() and "Example" in r.getMessage() for r in caplog.records)


def test_with_crls_required_current_crls_of_an_external_ca_let_its_certificates_sign(
    portal, live_portal, worker, clock, tmp_path
):
    _, item = beef_waiting_for_sampling(portal, worker)
    ca = ExternalCa(tmp_path / "ca")
    officer, someone = ca.issue(OFFICER, "Trần Thị Bích"), ca.issue("someone", "Someone Else")
    trust = ca.trust_env(portal.settings.pki_dir)
    assert cli(portal, "pki", "register", OFFICER, str(officer.path), **trust).exit_code == 0
    now = clock.now()
    revoked = ((someone.cert, now - timedelta(days=1)),)  # another certificate of the CA is revoked
    for name, of_root, entries in (("issuing.crl", False, revoked), ("root.crl", True, ())):
        crl = ca.crl(
            name,
            of_root=of_root,
            this_update=now - timedelta(hours=1),
            next_update=now + timedelta(days=7),
            revoked=entries,
        )
        assert cli(portal, "pki", "crl", "load", str(crl), **trust).exit_code == 0

    required = {**ca.trust_settings(portal.settings.pki_dir), "pki_require_crl": True}
    with another_portal(portal, clock, **required) as (_, url):
        offered = signing_payload(url, OFFICER, item.id, SAMPLING)
        signature = officer.sign(base64.b64decode(offered["payload_base64"]))
        response = submits_signed_form(
            url, OFFICER, item.id, SAMPLING, signature, officer.pem, offered["signed_at"]
        )
    assert response.status_code == 200, response.text
    code, output = audit_verify(portal, PORTAL_PKI_REQUIRE_CRL="true", **trust)
    assert code == 0, output


@dataclasses.dataclass
class CompleteHoldingTheLock(CompleteWorkItem):
    """The completion as the executor re-runs it after a lost race: holding the write lock throughout."""

    optimistic = False


def test_a_wrong_pin_is_counted_after_a_command_that_held_the_write_lock(portal, live_portal, worker):
    _, item = beef_waiting_for_sampling(portal, worker)
    officer = actor(portal, OFFICER)

    for attempt in (1, 2):
        with pytest.raises(SignatureRejected, match="wrong signing PIN"):
            portal.execute(CompleteHoldingTheLock(item.id, SAMPLING, signing=PinSigning("111111")), officer)
        assert pin_guard(portal, OFFICER) == (attempt, None)
    assert work_item_state(portal, item.id) == "open"
