"""The evidence of a consignment downloaded from its page over real HTTP: the evidence bundle as a ZIP
(which verifies offline with the documented OpenSSL and Python recipes) and the inspection result notice
as a PDF sealed by the agency (which pyHanko validates), also from the API. Only the consignment's parties
get them: another organization gets 404, the port (which sees the consignment) 403."""

from __future__ import annotations

import io
import shutil
import zipfile

import requests
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.signing import pki
from tests.integration.test_evidence_export import run_python_recipe, verify_with_openssl
from tests.procedure import (
    PASS,
    SAMPLING,
    beef_cleared,
    completes,
    trader_countersigns,
    trader_registers,
    worker_settles,
)
from tests.web.client import page, texts


def _cleared_beef(portal, worker) -> str:
    return beef_cleared(portal, worker)


def _download_link(person, number: str, kind: str) -> str | None:
    links = page(person.get(f"/consignments/{number}")).xpath(f"//a[@data-download='{kind}']/@href")
    return links[0] if links else None


def _signed_by_the_agency(pdf: bytes, settings) -> str:
    root = load_cert_from_pemder(str(pki.folder(settings).root_cert))
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=[root]))
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    return status.signing_cert.subject.human_friendly


def test_the_trader_downloads_the_evidence_zip_and_it_verifies_offline(portal, person, worker, tmp_path):
    number = _cleared_beef(portal, worker)
    trader = person("trader.t01")
    card = trader.get(f"/consignments/{number}")
    assert texts(card, "//section[@id='evidence']//a[@data-download='evidence']") == [
        "Tải hồ sơ chứng cứ (ZIP)"
    ]

    response = trader.get(_download_link(trader, number, "evidence"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert f'filename="evidence-{number}.zip"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert all(n.startswith(f"evidence-{number}/") for n in names)
        archive.extractall(tmp_path / "unzipped")
    bundle = tmp_path / "unzipped" / f"evidence-{number}"
    done = run_python_recipe(bundle, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4 signatures verified" in done.stdout
    if shutil.which("openssl"):
        steps = verify_with_openssl(bundle, tmp_path)
        assert steps == ["record_sampling", "countersign_sampling", "publish_result", "clear_goods"]
    assert "RAHO6" in _signed_by_the_agency((bundle / "result-notice.pdf").read_bytes(), portal.settings)


def test_the_signed_result_notice_downloads_from_the_page_and_the_api(portal, live_portal, person, worker):
    number = trader_registers(portal, "C01")
    worker_settles(worker, portal, number)
    completes(portal, "officer.raho6", number, "record_sampling", SAMPLING)
    trader_countersigns(portal, number)
    trader = person("trader.t01")
    api = requests.Session()
    api.headers["Authorization"] = "Bearer demo-trader.t01"
    notice_api = f"{live_portal}/api/v1/consignments/{number}/result-notice.pdf"

    # Before the result is published there is no notice: no link, and 404.
    assert _download_link(trader, number, "result-notice") is None
    assert _download_link(trader, number, "evidence") is not None
    assert trader.get(f"/consignments/{number}/result-notice.pdf").status_code == 404
    missing = api.get(notice_api, timeout=20)
    assert missing.status_code == 404 and missing.json()["field"] == "declaration_no"

    completes(portal, "officer.raho6", number, "publish_result", PASS)
    from_page = trader.get(_download_link(trader, number, "result-notice"))
    from_api = api.get(notice_api, timeout=20)

    for response in (from_page, from_api):
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.content.startswith(b"%PDF-")
        assert "RAHO6" in _signed_by_the_agency(response.content, portal.settings)
    document = api.get(f"{live_portal}/api/v1/openapi.json", timeout=20).json()
    operation = document["paths"]["/consignments/{declaration_no}/result-notice.pdf"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]


# Who downloads C01's evidence (trader T01, lead agency RAHO6, branch 02CI): its parties and the admin.
DOWNLOADS = {
    "trader.t01": 200,  # its own consignment
    "officer.02ci": 200,  # the customs branch
    "head.02ci": 200,
    "officer.raho6": 200,  # the lead agency
    "manager.raho6": 200,
    "admin": 200,
    "trader.t02": 404,  # another trader
    "officer.ppsd2": 404,  # an agency that takes no part
    "officer.02ab": 404,  # another customs branch
    "operator.snp": 403,  # the port sees the consignment but is no party to its decisions
    "analyst": 403,  # process analysts see every consignment, not its evidence
}


def test_only_the_consignment_s_parties_download_its_evidence(portal, live_portal, person, worker):
    number = _cleared_beef(portal, worker)
    for username, status in DOWNLOADS.items():
        someone = person(username)
        api = requests.Session()
        api.headers["Authorization"] = f"Bearer demo-{username}"

        zip_response = someone.get(f"/consignments/{number}/evidence.zip")
        pdf_response = someone.get(f"/consignments/{number}/result-notice.pdf")
        api_response = api.get(f"{live_portal}/api/v1/consignments/{number}/result-notice.pdf", timeout=20)

        statuses = (zip_response.status_code, pdf_response.status_code, api_response.status_code)
        assert statuses == (status,) * 3, username
        if status == 200:
            assert zip_response.content.startswith(b"PK") and pdf_response.content.startswith(b"%PDF-")
            assert _download_link(someone, number, "evidence"), username
            assert _download_link(someone, number, "result-notice"), username
            continue
        assert not zip_response.content.startswith(b"PK") and b"%PDF" not in pdf_response.content
        assert api_response.headers["Content-Type"].startswith("application/json"), username
        if status == 403:  # it still reads the consignment page, without the evidence card
            shown = someone.get(f"/consignments/{number}")
            assert shown.status_code == 200 and not page(shown).xpath("//section[@id='evidence']"), username
