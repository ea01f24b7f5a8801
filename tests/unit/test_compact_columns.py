"""The audit trail's compact columns: what the code writes is what it reads back, and a value put there by
hand (not what the type writes) is handed back as it is, so that a check against it fails, not the read."""

from __future__ import annotations

import hashlib
import json
import zlib

from sqlalchemy.dialects import postgresql, sqlite

from app.models.base import CompressedBytes, HexDigest

DIALECTS = (sqlite.dialect(), postgresql.dialect())


def test_a_digest_is_stored_as_its_32_bytes_and_read_back_as_hex():
    digest = hashlib.sha256(b"sampling record").hexdigest()
    for dialect in DIALECTS:
        stored = HexDigest().process_bind_param(digest, dialect)
        assert stored == bytes.fromhex(digest) and len(stored) == 32
        assert HexDigest().process_result_value(stored, dialect) == digest
        assert HexDigest().process_result_value(memoryview(stored), dialect) == digest


def test_text_written_into_a_digest_column_by_hand_reads_back_unchanged():
    assert HexDigest().process_result_value("not a digest", sqlite.dialect()) == "not a digest"


def test_a_signed_payload_is_stored_compressed_and_read_back_byte_for_byte():
    payload = json.dumps({"purpose": "signed decision", "data": {"notes": "Mẫu niêm phong " * 20}}).encode()
    for dialect in DIALECTS:
        stored = CompressedBytes().process_bind_param(payload, dialect)
        assert zlib.decompress(stored) == payload and len(stored) < len(payload) / 2
        assert CompressedBytes().process_result_value(stored, dialect) == payload


def test_bytes_that_are_no_zlib_stream_read_back_unchanged():
    plain = b'{"v":1}'
    assert CompressedBytes().process_result_value(plain, sqlite.dialect()) == plain
    broken = bytearray(zlib.compress(plain))
    broken[-1] ^= 0xFF  # the checksum no longer matches
    assert CompressedBytes().process_result_value(bytes(broken), sqlite.dialect()) == bytes(broken)
