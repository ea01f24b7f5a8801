"""The audit seal's fast canonical JSON gives exactly RFC 8785's bytes for the values a seal holds."""

from __future__ import annotations

import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from app.engine.audit import flat_canonical

KEYS = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), TEXT)


@given(st.dictionaries(KEYS, st.one_of(SCALARS, st.dictionaries(KEYS, SCALARS, max_size=3)), max_size=12))
def test_the_seal_serializes_like_rfc_8785(value):
    assert flat_canonical(value) == rfc8785.dumps(value)
