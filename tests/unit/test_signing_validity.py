"""A certificate path's validity window, worked out once (``path_validity``), decides every moment exactly
as the full check (``check_path_at``) does: validity periods, revocations by either CA, CRLs missing or
past their nextUpdate, with and without PORTAL_PKI_REQUIRE_CRL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from app.settings import Settings
from app.signing import keys
from app.signing.errors import SignatureRejected
from app.signing.trust import IndexedCrl, LoadedCrls, issuer_key
from app.signing.verify import check_path_at, path_validity

BASE = datetime(2026, 12, 1, tzinfo=UTC)
ROOT_KEY, CA_KEY, LEAF_KEY = keys.new_signing_key(), keys.new_signing_key(), keys.new_signing_key()
ROOT_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Root")])
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuing CA")])
LEAF_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Signer")])
DAYS = st.integers(0, 12)


def day(n: int) -> datetime:
    return BASE + timedelta(days=n)


def certificate(subject, issuer, key, issuer_key_, start: int, end: int, serial: int) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(day(start))
        .not_valid_after(day(end))
        .sign(issuer_key_, hashes.SHA256())
    )


def crl(issuer, key, next_update: int, revoked: list[tuple[int, int]]) -> IndexedCrl:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(BASE)
        .next_update(day(next_update))
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(day(when)).build()
        )
    return IndexedCrl.of(builder.sign(key, hashes.SHA256()))


def periods():
    return st.tuples(DAYS, DAYS).map(sorted)


CRL_CHOICE = st.one_of(st.none(), st.tuples(st.integers(1, 12), st.one_of(st.none(), DAYS)))


@settings(max_examples=300, deadline=None)
@given(
    root=periods(),
    ca=periods(),
    leaf=periods(),
    ca_crl=CRL_CHOICE,  # None: not loaded; else (nextUpdate day, the day it revokes the leaf or None)
    root_crl=CRL_CHOICE,  # the same for the root's CRL, which may revoke the issuing CA
    require_crl=st.booleans(),
    extra_days=st.lists(st.integers(-1, 13), max_size=3),
)
def test_the_window_decides_like_the_full_check(root, ca, leaf, ca_crl, root_crl, require_crl, extra_days):
    path = [
        certificate(LEAF_NAME, CA_NAME, LEAF_KEY, CA_KEY, *leaf, serial=3),
        certificate(CA_NAME, ROOT_NAME, CA_KEY, ROOT_KEY, *ca, serial=2),
        certificate(ROOT_NAME, ROOT_NAME, ROOT_KEY, ROOT_KEY, *root, serial=1),
    ]
    loaded = {}
    for choice, issuer, key, serial in ((ca_crl, CA_NAME, CA_KEY, 3), (root_crl, ROOT_NAME, ROOT_KEY, 2)):
        if choice is not None:
            next_update, revoked_on = choice
            revoked = [(serial, revoked_on)] if revoked_on is not None else []
            loaded[issuer_key(issuer)] = crl(issuer, key, next_update, revoked)
    crls = LoadedCrls(1, loaded)
    config = Settings(pki_require_crl=require_crl)
    validity = path_validity(path, crls)

    # every day that starts or ends something, each just before, at and just after, and a few others
    edges = {*root, *ca, *leaf, *extra_days}
    for choice in (ca_crl, root_crl):
        if choice is not None:
            edges.update(d for d in choice if d is not None)
    moments = [day(d) + timedelta(microseconds=m) for d in sorted(edges) for m in (-1, 0, 1)]
    for at in moments:
        try:
            check_path_at(path, at, crls, config)
            accepted = True
        except SignatureRejected:
            accepted = False
        assert validity.holds_at(at, require_crl) == accepted, at
