"""Identifier formats a trader types when registering a consignment (PROCEDURE.md, "Data formats")."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.consignments.identifiers import (
    DECLARATION_TYPES,
    KNOWN_CUSTOMS_BRANCHES,
    air_waybill_problem,
    container_number_problem,
    customs_branch_problem,
    declaration_number_problem,
    declaration_type_problem,
    hs_code_problem,
    iso6346_check_digit,
    normalize_container_number,
    normalize_customs_branch,
)

# shared/ sits beside the repository, both on a developer's machine and in CI.
_DOMAIN_DIRS = [Path(__file__).resolve().parents[3] / "shared" / "domain", Path("/work/shared/domain")]


def demo_consignments() -> list[dict[str, Any]]:
    """Return the demo consignments of shared/domain, skipping the test when they are not there."""
    for folder in _DOMAIN_DIRS:
        path = folder / "consignments.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    pytest.skip("shared/domain/consignments.json not found beside the repository")


# --- Demo data -------------------------------------------------------------------------------------------


def test_every_demo_consignment_is_valid() -> None:
    consignments = demo_consignments()
    assert consignments
    for consignment in consignments:
        where = consignment["id"]
        assert declaration_number_problem(consignment["declaration_no"]) is None, where
        assert declaration_type_problem(consignment["declaration_type"]) is None, where
        assert hs_code_problem(consignment["hs8"]) is None, where
        assert customs_branch_problem(consignment["customs_branch"]) is None, where
        for container in consignment["containers"]:
            assert container_number_problem(container) is None, (where, container)
        if "awb" in consignment:
            assert air_waybill_problem(consignment["awb"]) is None, where


def test_air_freight_branch_text_names_tan_son_nhat() -> None:
    assert normalize_customs_branch("02AB (team 02B1 TCS)") == "02AB"
    assert normalize_customs_branch(" 02ci") == "02CI"
    assert normalize_customs_branch("Cat Lai") is None
    assert normalize_customs_branch("02CIX") is None


# --- Containers (ISO 6346) -------------------------------------------------------------------------------


def test_standard_example_container_is_valid() -> None:
    assert iso6346_check_digit("CSQU305438") == 3
    assert iso6346_check_digit("CSQU3054383") == 3  # only the first 10 characters count
    assert container_number_problem("CSQU3054383") is None


def test_check_digit_needs_owner_code_and_serial() -> None:
    with pytest.raises(ValueError):
        iso6346_check_digit("CSQU30543")
    with pytest.raises(ValueError):
        iso6346_check_digit("csqu305438")


def test_container_written_with_spaces_can_be_normalised() -> None:
    assert normalize_container_number("csqu 305438-3") == "CSQU3054383"
    assert "spaces" in container_number_problem("CSQU 305438 3")


containers = st.builds(
    lambda owner, category, serial: owner + category + serial,
    st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3),
    st.sampled_from("UJZ"),
    st.text(alphabet=string.digits, min_size=6, max_size=6),
).map(lambda head: head + str(iso6346_check_digit(head)))


@given(containers)
def test_generated_containers_are_valid(container: str) -> None:
    assert container_number_problem(container) is None


@given(
    container=containers,
    position=st.integers(min_value=4, max_value=10),
    digit=st.sampled_from(string.digits),
)
def test_a_single_mistyped_digit_is_detected(container: str, position: int, digit: str) -> None:
    # ISO 6346 folds remainder 10 onto check digit 0, so numbers with check digit 0 are excluded here; see
    # test_check_digit_zero_cannot_catch_every_mistyped_digit.
    assume(container[10] != "0")
    assume(container[position] != digit)
    mistyped = container[:position] + digit + container[position + 1 :]
    assert container_number_problem(mistyped) is not None


def test_check_digit_zero_cannot_catch_every_mistyped_digit() -> None:
    # SEGU8095700 (demo consignment C03) has remainder 0; one wrong serial digit can give remainder 10,
    # whose check digit is also 0. The standard advises owners against serials giving remainder 10.
    assert container_number_problem("SEGU8095700") is None
    assert container_number_problem("SEGU8195700") is None


@pytest.mark.parametrize(
    ("value", "reason_mentions"),
    [
        ("CSQU3054384", "check digit should be 3"),
        ("CSQU305438", "11 characters"),
        ("C5QU3054383", "owner code"),
        ("csqu3054383", "owner code"),
        ("CSQX3054383", "category identifier"),
        ("CSQU30A4383", "serial number"),
        ("CSQU305438X", "check digit"),
        ("CSQU\uff13054383", "serial number"),  # full-width digit 3
        ("", "empty"),
        (None, "string"),
    ],
)
def test_container_reason_names_the_failing_part(value: object, reason_mentions: str) -> None:
    reason = container_number_problem(value)
    assert reason is not None and reason_mentions in reason


# --- Declarations, HS codes, air waybills, branches ------------------------------------------------------


@pytest.mark.parametrize("value", ["106865793030", "300000000000"])
def test_any_twelve_digit_declaration_number_is_accepted(value: str) -> None:
    assert declaration_number_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason_mentions"),
    [
        ("10686579303", "exactly 12 digits"),
        ("1068657930301", "exactly 12 digits"),
        ("10686579303A", "only digits"),
        ("106-865793030", "only digits"),
        (106865793030, "string"),
        ("", "empty"),
    ],
)
def test_declaration_number_reason_names_the_failing_part(value: object, reason_mentions: str) -> None:
    reason = declaration_number_problem(value)
    assert reason is not None and reason_mentions in reason


def test_declaration_types_are_configurable() -> None:
    for code in DECLARATION_TYPES:
        assert declaration_type_problem(code) is None
    assert "A11" in declaration_type_problem("B11")
    assert declaration_type_problem("B11", allowed=["B11"]) is None
    assert declaration_type_problem("A11", allowed=["B11"]) is not None


@pytest.mark.parametrize("value", ["02023000", "01012100", "97011000"])
def test_hs_codes_of_chapters_1_to_97_are_accepted(value: str) -> None:
    assert hs_code_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason_mentions"),
    [
        ("0202300", "exactly 8 digits"),
        ("0202.30.00", "only digits"),
        ("00011000", "chapter"),
        ("98010000", "chapter"),
        ("77010000", "chapter 77 is reserved"),
    ],
)
def test_hs_code_reason_names_the_failing_part(value: str, reason_mentions: str) -> None:
    reason = hs_code_problem(value)
    assert reason is not None and reason_mentions in reason


@pytest.mark.parametrize("value", ["618-44172030", "61844172030"])
def test_air_waybill_example_is_valid_with_or_without_hyphen(value: str) -> None:
    assert air_waybill_problem(value) is None


@pytest.mark.parametrize(
    ("value", "reason_mentions"),
    [
        ("618-44172031", "check digit (last digit) should be 0"),
        ("618-4417203", "3-digit airline prefix"),
        ("618 44172030", "3-digit airline prefix"),
        ("", "empty"),
    ],
)
def test_air_waybill_reason_names_the_failing_part(value: str, reason_mentions: str) -> None:
    reason = air_waybill_problem(value)
    assert reason is not None and reason_mentions in reason


def test_unknown_customs_branch_lists_the_known_ones() -> None:
    reason = customs_branch_problem("02XX")
    assert reason is not None and "02XX" in reason
    for code in KNOWN_CUSTOMS_BRANCHES:
        assert code in reason
    assert "branch code" in customs_branch_problem("Cat Lai")
    assert customs_branch_problem("02CX") is None
