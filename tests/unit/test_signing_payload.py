"""The signed payload's fast canonical JSON gives exactly RFC 8785's bytes, for any JSON value: the
standard library's encoder where it agrees with the RFC, rfc8785 itself for the rest (floats, integers
beyond 2**53, keys outside the Basic Multilingual Plane, unpaired surrogates)."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from app.signing.payload import _plain, canonical_json

ANY_TEXT = st.text(max_size=20)  # any code point, astral planes and unpaired surrogates included
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    ANY_TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.tuples(inner, inner), st.dictionaries(ANY_TEXT, inner, max_size=5)
    ),
    max_leaves=25,
)


def rfc_or_error(value):
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


def fast_or_error(value):
    try:
        return canonical_json(value)
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


# What decisions hold: form data of text (Vietnamese, control characters, emoji), whole numbers, booleans.
DECISION_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
DECISION_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1), DECISION_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=0xD7FF), max_size=12), inner, max_size=6
        ),
    ),
    max_leaves=30,
)


@given(VALUES)
def test_the_payload_serializes_like_rfc_8785(value):
    assert fast_or_error(value) == rfc_or_error(value)


@given(DECISION_VALUES)
def test_decision_data_takes_the_fast_path_and_serializes_like_rfc_8785(value):
    assert _plain(value)
    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\uffff": 2},  # UTF-16 order puts the emoji's surrogates before U+FFFF
        {"n": 2**53},
        {"x": 1.0, "y": 1e21, "z": -0.0},
        {"s": 'tab\tquote"back\\slash\u007f\u2028\x01'},
    ],
)
def test_values_where_the_rules_differ_take_the_rfc_path(value):
    assert fast_or_error(value) == rfc_or_error(value)


def test_an_unpaired_surrogate_is_refused_as_rfc_8785_refuses_it():
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json({"data": "\ud800"})
