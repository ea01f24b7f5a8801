"""The procedure worked through the pages over real HTTP: a trader registers, the agency records the
sampling with photos and publishes the result with its lab report, the trader pays, and everyone reads
the consignment page. Bad form input shows field-level messages, keeps what was typed and changes nothing."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from app.models import Attachment, AuditEvent, Notification, TimelineEvent, WorkItem
from app.signing.pki import DEMO_PIN
from tests.procedure import (
    PAYMENT,
    beef_waiting_for_payment,
    consignment,
    registration,
    work_item,
    worker_settles,
)
from tests.web.client import page, texts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _register_through_the_form(trader, consignment_id: str) -> str:
    data = registration(consignment_id)
    form = {
        "declaration_no": data["declaration_no"],
        "declaration_type": data["declaration_type"],
        "customs_branch": data["customs_branch"],
        "goods": data["goods"],
        "hs_codes": ", ".join(data["hs_codes"]),
        "containers": "\n".join(data["containers"]),
        "bill_of_lading": data["bill_of_lading"],
        "sampling_place": data["sampling_place"],
    }
    response = trader.post("/consignments/new", form, token_from="/consignments/new")
    assert response.status_code == 302, texts(response, "//*[@class='error']")
    return data["declaration_no"]


def _counts(portal) -> tuple[int, int, int]:
    with portal.db.session() as db:
        return (
            db.scalar(select(func.count()).select_from(AuditEvent)),
            db.scalar(select(func.count()).select_from(Attachment)),
            db.scalar(select(func.count()).select_from(WorkItem).where(WorkItem.state == "completed")),
        )


def test_consignment_goes_through_the_pages_from_registration_to_clearance(portal, person, worker):
    trader = person("trader.t01")
    number = _register_through_the_form(trader, "C01")
    worker_settles(worker, portal, number)

    officer = person("officer.raho6")
    inbox = officer.get("/inbox")
    assert number in inbox.text
    # The officer reads Vietnamese: the step's name comes from the model's name_vi.
    row = f"//tr[td/a[text()='{number}']]"
    assert texts(inbox, f"{row}/td[2]/a") == ["Lập biên bản lấy mẫu"]
    assert "Lập biên bản lấy mẫu" in texts(inbox, "//select[@id='f-step']/option")
    item = work_item(portal, number, "record_sampling")
    assert officer.post(f"/work-items/{item.id}/claim", {}, token_from="/inbox").status_code == 302

    form_page = officer.get(f"/work-items/{item.id}")
    assert form_page.status_code == 200
    labels = texts(form_page, "//form[contains(@class,'task-form')]//label")
    assert any("Số lượng mẫu" in label for label in labels)  # Vietnamese labels from the form definition
    revision = page(form_page).xpath("//input[@name='revision']/@value")[0]

    before = _counts(portal)
    bad = officer.post(
        f"/work-items/{item.id}",
        {
            "revision": revision,
            "sample_count": "ba",
            "seal_numbers": "SL-1",
            "sampled_at": "2026-12-07T09:00",
        },
        token_from=f"/work-items/{item.id}",
    )
    assert bad.status_code == 422
    summary = texts(bad, "//div[@id='error-summary']//li")
    assert any("Hãy nhập một số nguyên." in line for line in summary)
    assert any("Trường này là bắt buộc." in line for line in summary)  # trader_representative missing
    assert page(bad).xpath("//input[@name='seal_numbers']/@value") == ["SL-1"]  # what was typed stays
    assert page(bad).xpath("//input[@name='sample_count']/@aria-invalid") == ["true"]
    assert _counts(portal) == before

    wrong_file = officer.http.post(
        officer.base_url + f"/work-items/{item.id}",
        data={
            "csrf_token": officer.csrf(f"/work-items/{item.id}"),
            "revision": revision,
            "sampled_at": "2026-12-07T09:00",
            "sample_count": "3",
            "seal_numbers": "SL-001",
            "trader_representative": "Nguyễn Văn An",
            "sampling_place": "Cat Lai inspection yard",
            "customs_supervised": "on",
        },
        files=[("attachments", ("photo.png", b"MZ\x90\x00 not an image", "image/png"))],
        allow_redirects=False,
        timeout=20,
    )
    assert wrong_file.status_code == 422, texts(wrong_file, "//div[@id='error-summary']")
    assert any(
        "photo.png" in e for e in texts(wrong_file, "//div[@data-field='attachments']//p[@class='error']")
    )
    assert _counts(portal) == before

    sampling = {
        "revision": revision,
        "sampled_at": "2026-12-07T09:00",
        "sample_count": "3",
        "seal_numbers": "SL-001, SL-002",
        "trader_representative": "Nguyễn Văn An",
        "sampling_place": "Cat Lai inspection yard",
        "customs_supervised": "on",
    }
    for pin, reason in (("", "Hãy nhập mã PIN ký số"), ("654321", "Mã PIN ký số không đúng")):
        unsigned = officer.http.post(
            officer.base_url + f"/work-items/{item.id}",
            data={"csrf_token": officer.csrf(f"/work-items/{item.id}"), "signing_pin": pin, **sampling},
            files=[("attachments", ("samples.png", PNG, "image/png"))],
            allow_redirects=False,
            timeout=20,
        )
        assert unsigned.status_code == 422, pin
        assert texts(unsigned, "//p[@id='field-signing_pin-error']") == [reason]
        assert page(unsigned).xpath("//input[@name='seal_numbers']/@value") == ["SL-001, SL-002"]
        assert _counts(portal) == before

    done = officer.http.post(
        officer.base_url + f"/work-items/{item.id}",
        data={"csrf_token": officer.csrf(f"/work-items/{item.id}"), "signing_pin": DEMO_PIN, **sampling},
        files=[("attachments", ("samples.png", PNG, "image/png"))],
        allow_redirects=False,
        timeout=20,
    )
    assert done.status_code == 302, texts(done, "//div[@id='error-summary']")
    consignment_page = officer.get(f"/consignments/{number}")
    assert hashlib.sha256(PNG).hexdigest()[:16] in consignment_page.text
    link = page(consignment_page).xpath("//ul[@class='files']//a/@href")[0]
    photo = officer.get(link)
    assert photo.content == PNG and photo.headers["Content-Type"] == "image/png"

    # The trader countersigns the sampling record: its page shows what the agency signed and its SHA-256.
    countersign = work_item(portal, number, "countersign_sampling")
    assert number in trader.get("/inbox").text
    form_page = trader.get(f"/work-items/{countersign.id}")
    record = dict(
        zip(
            texts(form_page, "//section[@data-countersigns='record_sampling']//dt"),
            texts(form_page, "//section[@data-countersigns='record_sampling']//dd"),
            strict=True,
        )
    )
    assert record["Số lượng mẫu"] == "3" and record["Số niêm phong mẫu"] == "SL-001, SL-002"
    assert record["Người ký"].startswith("officer.raho6 · RAHO6")
    with portal.db.session() as db:
        agency_signed = db.scalar(
            select(AuditEvent.data_hash)
            .where(AuditEvent.signed_payload.is_not(None), AuditEvent.organization == "RAHO6")
            .order_by(AuditEvent.id.desc())
        )
    assert record["SHA-256"] == agency_signed
    reference = page(form_page).xpath("//input[@name='sampling_record_sha256']")[0]
    assert reference.get("value") == agency_signed and reference.get("readonly") is not None
    before = _counts(portal)
    unticked = trader.post(
        f"/work-items/{countersign.id}",
        {"sampling_record_sha256": agency_signed, "signing_pin": DEMO_PIN},
        token_from=f"/work-items/{countersign.id}",
    )
    assert unticked.status_code == 422
    assert texts(unticked, "//p[@id='field-record_confirmed-error']") == ["Hãy đánh dấu ô này để xác nhận."]
    assert _counts(portal) == before
    done = trader.post(
        f"/work-items/{countersign.id}",
        {"sampling_record_sha256": agency_signed, "record_confirmed": "on", "signing_pin": DEMO_PIN},
        token_from=f"/work-items/{countersign.id}",
    )
    assert done.status_code == 302, texts(done, "//div[@id='error-summary']")

    result = work_item(portal, number, "publish_result")
    done = officer.http.post(
        officer.base_url + f"/work-items/{result.id}",
        data={
            "csrf_token": officer.csrf(f"/work-items/{result.id}"),
            "result": "pass",
            "certificate_no": "KQ-000123",
            "conclusion": "Đạt yêu cầu QCVN.",
            "issued_at": "2026-12-07T10:00",
            "signing_pin": DEMO_PIN,
        },
        files=[("attachments", ("lab-report.pdf", PDF, "application/pdf"))],
        allow_redirects=False,
        timeout=20,
    )
    assert done.status_code == 302, texts(done, "//div[@id='error-summary']")
    worker_settles(worker, portal, number)

    notices = trader.get("/notifications")
    decisions = texts(notices, "//li[@data-kind='decision']")
    assert any(number in line and "Công bố kết quả kiểm tra chuyên ngành" in line for line in decisions)
    with portal.db.session() as session:  # stored: the English name only; the rest is looked up
        stored = session.scalars(select(Notification.params).where(Notification.kind == "decision")).all()
    assert stored == [{"step": "Publish the inspection result"}]
    pay = work_item(portal, number, "pay_fees")
    assert number in trader.get("/inbox").text
    done = trader.post(
        f"/work-items/{pay.id}",
        {"payment_method": "bank_transfer", "payer_account": "0071000123456"},
        token_from=f"/work-items/{pay.id}",
    )
    assert done.status_code == 302
    assert worker_settles(worker, portal, number).status == "cleared"

    final = trader.get(f"/consignments/{number}")
    steps = texts(final, "//table[@class='timeline']//tr/td[2]")
    vietnamese = {"Đã đăng ký lô hàng", "Lập biên bản lấy mẫu", "Ký xác nhận biên bản lấy mẫu"}
    assert vietnamese | {"Công bố kết quả kiểm tra chuyên ngành"} <= set(steps)
    assert "Hàng đã được thông quan" in steps and not any("Record the sampling" in s for s in steps)
    lead = texts(final, "//dt[.='Cơ quan kiểm tra chủ trì']/following-sibling::dd[1]")
    assert lead == ["Cơ quan Thú y vùng VI (Cục Thú y, Bộ Nông nghiệp và Phát triển nông thôn)"]
    # The same page in English: the model's English names and the agency's English name.
    trader.post("/language", {"locale": "en", "next": f"/consignments/{number}"}, token_from="/inbox")
    english = trader.get(f"/consignments/{number}")
    steps = texts(english, "//table[@class='timeline']//tr/td[2]")
    named = {"Consignment registered", "Record the sampling", "Countersign the sampling record"}
    assert named | {"Publish the inspection result"} <= set(steps)
    assert texts(english, "//dt[.='Lead agency']/following-sibling::dd[1]") == [
        "Regional Animal Health Office No. 6 (Dept of Animal Health, MARD)"
    ]
    assert consignment(portal, number).clearance_hours is not None
    with portal.db.session() as db:
        officer_told = db.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "new_task")
        )
    assert officer_told > 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_trader_sees_what_is_wrong_with_a_registration_and_nothing_is_registered(portal, person):
    trader = person("trader.t01")
    before = _counts(portal)
    response = trader.post(
        "/consignments/new",
        {
            "declaration_no": "10686579303",
            "declaration_type": "A11",
            "customs_branch": "02CI",
            "goods": "Thịt bò",
            "hs_codes": "02023000",
            "containers": "MSCU1234567",
        },
        token_from="/consignments/new",
    )
    assert response.status_code == 422
    errors = dict(
        zip(
            page(response).xpath("//p[@class='error']/@id"),
            texts(response, "//p[@class='error']"),
            strict=True,
        )
    )
    assert "field-declaration_no-error" in errors and "field-containers-error" in errors
    assert page(response).xpath("//textarea[@name='goods']/text()") == ["Thịt bò"]
    assert _counts(portal) == before


UPLOAD_ERRORS = {
    "vi": (
        "Tệp big.png lớn hơn 10 MB.",
        "Tệp tool.exe không thuộc loại được chấp nhận (image/jpeg, image/png).",
    ),
    "en": ("big.png is larger than 10 MB.", "tool.exe is not an accepted file type (image/jpeg, image/png)."),
}


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("locale", UPLOAD_ERRORS)
def test_a_photo_too_large_or_of_the_wrong_type_is_refused_in_the_officer_s_language(
    portal, person, worker, locale
):
    number = _register_through_the_form(person("trader.t01"), "C01")
    worker_settles(worker, portal, number)
    officer = person("officer.raho6")
    if locale == "en":
        officer.post("/language", {"locale": "en", "next": "/inbox"}, token_from="/inbox")
    item = work_item(portal, number, "record_sampling")
    assert portal.settings.max_upload_bytes == 10 * 1024 * 1024
    too_large = PNG + b"\x00" * (portal.settings.max_upload_bytes - len(PNG) + 1)
    before = _counts(portal)
    response = officer.http.post(
        officer.base_url + f"/work-items/{item.id}",
        data={
            "csrf_token": officer.csrf(f"/work-items/{item.id}"),
            "sampled_at": "2026-12-07T09:00",
            "sample_count": "3",
            "seal_numbers": "SL-001",
            "trader_representative": "Nguyễn Văn An",
            "sampling_place": "Cat Lai inspection yard",
            "signing_pin": DEMO_PIN,
        },
        files=[
            ("attachments", ("big.png", too_large, "image/png")),
            ("attachments", ("tool.exe", b"MZ\x90\x00 a program", "image/png")),
        ],
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 422
    too_big, wrong_type = UPLOAD_ERRORS[locale]
    summary = texts(response, "//div[@id='error-summary']//li")
    assert any(too_big in line for line in summary), summary
    assert any(wrong_type in line for line in summary), summary
    assert texts(response, "//p[@id='field-attachments-error']")  # shown at the field too
    assert _counts(portal) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_registration_error_summary_names_fields_by_their_labels(portal, person):
    trader = person("trader.t01")
    response = trader.post(
        "/consignments/new",
        {
            "declaration_no": "106865793030",
            "declaration_type": "A11",
            "customs_branch": "02CI",
            "goods": "Thịt bò",
            "hs_codes": "02023000",
            "containers": "MSCU1234566\nMSCU1234567",
        },
        token_from="/consignments/new",
    )
    assert response.status_code == 422
    summary = page(response).xpath("//div[@id='error-summary']")[0]
    assert summary.get("tabindex") == "-1" and summary.get("autofocus") is not None
    lines = texts(response, "//div[@id='error-summary']//li")
    assert lines == ["Container 2: Số kiểm tra phải là 6, không phải 7"]  # its label, in Vietnamese
    assert page(response).xpath("//div[@id='error-summary']//a/@href") == ["#field-containers"]
    assert not any("containers[" in line for line in lines)


def test_paying_twice_from_the_same_page_is_refused_in_the_trader_s_language(portal, person, worker):
    """The trader pays, goes back and submits the payment form again: the page says, in Vietnamese and
    with the state translated too, that the step is already done; nothing is completed twice."""
    number = beef_waiting_for_payment(portal, worker)
    trader = person("trader.t01")
    pay = work_item(portal, number, "pay_fees")
    form = f"/work-items/{pay.id}"
    token = trader.csrf(form)  # the page the trader goes back to
    first = trader.post(form, PAYMENT, token_from=form)
    assert first.status_code == 302
    before = _counts(portal)
    again = trader.http.post(
        trader.base_url + form, data={**PAYMENT, "csrf_token": token}, allow_redirects=False, timeout=20
    )
    assert again.status_code == 409
    assert texts(again, "//div[@id='error-summary']//li") == ["Biểu mẫu: Công việc này hiện đã xong"]
    assert not page(again).xpath("//form[@class='task-form']")  # nothing left to submit
    assert _counts(portal) == before


def test_the_trader_sees_the_fee_to_pay_in_vietnamese_and_in_english(portal, person, worker):
    """The pay page shows the fee the fee table decided, read-only above the form, with the thousands
    separators and currency of the reader's language; the help text names no variable."""
    number = beef_waiting_for_payment(portal, worker)
    with portal.db.session() as db:
        fee = db.scalar(
            select(TimelineEvent.detail["fee_vnd"].as_integer()).where(
                TimelineEvent.consignment_id == consignment(portal, number).id,
                TimelineEvent.kind == "decision",
                TimelineEvent.step_id == "compute_fees",
            )
        )
    assert fee and fee >= 1000
    trader = person("trader.t01")
    form = f"/work-items/{work_item(portal, number, 'pay_fees').id}"

    vietnamese = trader.get(form)
    shown = texts(
        vietnamese, "//dl[contains(@class,'form-context')]/dt[.='Phí kiểm tra']/following-sibling::dd[1]"
    )
    assert shown == [f"{fee:,}".replace(",", ".") + " ₫"]  # e.g. "400.000 ₫"
    assert "fee_vnd" not in vietnamese.text and page(vietnamese).xpath("//form[@class='task-form']")

    trader.post("/language", {"locale": "en", "next": form}, token_from=form)
    english = trader.get(form)
    shown = texts(
        english, "//dl[contains(@class,'form-context')]/dt[.='Inspection fee']/following-sibling::dd[1]"
    )
    assert shown == [f"VND {fee:,}"]  # e.g. "VND 400,000"
    assert "fee_vnd" not in english.text
