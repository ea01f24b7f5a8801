"""``portal model validate``: exit 0 and "valid" for a good bundle, exit 1 and one
``file:line element-id: message`` line per problem otherwise (every line names a line or an element),
JSON on request, and never a traceback. Tested in process with click's ``CliRunner`` and once more as a
real subprocess, which also shows that a huge file is refused without being read: the process's peak
memory stays far below the file's size."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main
from app.engine.bundle import BundleInvalid, compile_bundle, load_bundle
from app.settings import PROJECT_ROOT
from app.tasks import KNOWN_TOPICS

pytestmark = pytest.mark.timeout(30)

BUNDLE = PROJECT_ROOT / "bpmn"
CORPUS = PROJECT_ROOT / "tests" / "corpus" / "bpmn"
BPMN = "specialized_inspection.bpmn"
LINE = re.compile(r"^(?P<file>\S+):(?P<line>\d+) (?P<element>\S+): (?P<message>.+)$")
PORTAL = next(
    (
        p
        for p in (PROJECT_ROOT / ".venv" / "bin" / "portal", Path(sys.executable).with_name("portal"))
        if p.exists()
    ),
    None,
)


def validate(*args: str | Path):
    result = CliRunner().invoke(main, ["model", "validate", *map(str, args)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def expected_problems(path: Path) -> list[str]:
    try:
        compile_bundle(load_bundle(path), known_topics=KNOWN_TOPICS)
    except BundleInvalid as exc:
        return [str(p) for p in exc.problems]
    return []


@pytest.fixture
def broken_bundle(tmp_path) -> Path:
    """A copy of the real bundle whose BPMN has three mistakes."""
    folder = tmp_path / "broken"
    shutil.copytree(BUNDLE, folder, ignore=shutil.ignore_patterns("element-templates", "README.md"))
    text = (folder / BPMN).read_text(encoding="utf-8")
    for old, new in (
        ('camunda:topic="payment.capture"', 'camunda:topic="payment.refund"'),
        ('camunda:formKey="preservation_request"', 'camunda:formKey="no_such_form"'),
        ("container_count &gt; 0</bpmn:conditionExpression>", "__import__('os')</bpmn:conditionExpression>"),
    ):
        assert text.count(old) == 1
        text = text.replace(old, new)
    (folder / BPMN).write_text(text, encoding="utf-8")
    return folder


def corpus_bundle(tmp_path: Path, name: str) -> Path:
    """The real DMN tables and forms with one corpus file as the BPMN."""
    folder = tmp_path / name.removesuffix(".bpmn")
    shutil.copytree(BUNDLE, folder, ignore=shutil.ignore_patterns("*.bpmn", "element-templates", "README.md"))
    shutil.copy(CORPUS / name, folder / name)
    return folder


# -- CliRunner ---------------------------------------------------------------------------------------------
def test_real_bundle_is_valid():
    result = validate(BUNDLE)
    assert result.exit_code == 0
    assert result.stdout == "valid\n"


def test_real_bundle_is_valid_in_json():
    result = validate(BUNDLE, "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"valid": True, "problems": []}


def test_broken_bundle_prints_one_line_per_problem(broken_bundle):
    result = validate(broken_bundle)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == expected_problems(broken_bundle)
    assert len(lines) == 3
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert {(m["file"], m["element"]) for m in parsed} == {
        (BPMN, "capture_payment"),
        (BPMN, "request_preservation"),
        (BPMN, "has_containers"),
    }
    assert "valid" not in lines


def test_broken_bundle_in_json(broken_bundle):
    result = validate(broken_bundle, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert len(report["problems"]) == 3
    for problem in report["problems"]:
        assert set(problem) == {"file", "line", "element_id", "element_name", "message"}
        assert problem["file"] == BPMN and problem["element_id"] and problem["message"]
    assert {p["element_id"] for p in report["problems"]} == {
        "capture_payment",
        "request_preservation",
        "has_containers",
    }


@pytest.mark.parametrize(
    "name",
    [
        "invalid_several_problems.bpmn",
        "invalid_gateway_import.bpmn",
        "foreign_camunda8_zeebe_task_definition.bpmn",
        "hostile_billion_laughs.bpmn",
        "hostile_svg.bpmn",
        "hostile_truncated.bpmn",
    ],
)
def test_corpus_files_give_located_lines(tmp_path, name):
    folder = corpus_bundle(tmp_path, name)
    result = validate(folder)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == expected_problems(folder)
    for line in lines:
        match = LINE.match(line)
        assert match, line
        assert match["file"] == name
        assert match["element"] != "-" or match["line"] != "0", line


def test_missing_path():
    result = validate(PROJECT_ROOT / "no-such-bundle")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{PROJECT_ROOT / 'no-such-bundle'}:1 -: no such file or folder"]


def test_missing_path_in_json():
    result = validate("no-such-bundle", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "problems": [
            {
                "file": "no-such-bundle",
                "line": 1,
                "element_id": None,
                "element_name": None,
                "message": "no such file or folder",
            }
        ],
    }


def test_folder_without_bpmn(tmp_path):
    (tmp_path / "forms").mkdir()
    (tmp_path / "notes.txt").write_text("not a model", encoding="utf-8")
    result = validate(tmp_path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{tmp_path}:1 -: no .bpmn file in the bundle"]


def test_hostile_single_file(tmp_path):
    hostile = tmp_path / "evil.bpmn"
    hostile.write_bytes((CORPUS / "hostile_xxe_file.bpmn").read_bytes())
    result = validate(hostile)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["evil.bpmn:1 -: DOCTYPE and entity declarations are not allowed"]
    assert "root:" not in result.output


@pytest.mark.parametrize("content", [b"", bytes(range(256)), b"\xff\xfe<\x00x\x00", b"<svg/>"])
def test_odd_single_files_never_crash(tmp_path, content):
    odd = tmp_path / "odd.bpmn"
    odd.write_bytes(content)
    result = validate(odd, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False and report["problems"]


def test_a_dmn_that_crashes_the_parser_is_still_a_one_line_problem(tmp_path):
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLE, folder, ignore=shutil.ignore_patterns("element-templates", "README.md"))
    (folder / "fees.dmn").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    result = validate(folder)
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "cannot be read as a model" in result.stdout or "fees.dmn" in result.stdout


def test_several_paths_report_only_the_bad_ones(tmp_path, broken_bundle):
    result = validate(BUNDLE, broken_bundle, tmp_path / "missing")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[:3] == expected_problems(broken_bundle)
    assert lines[3].endswith("no such file or folder")


def test_a_path_is_required():
    result = CliRunner().invoke(main, ["model", "validate"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# -- a real process ----------------------------------------------------------------------------------------
def portal(*args: str | Path) -> subprocess.CompletedProcess:
    if PORTAL is None:
        pytest.skip("the portal console script is not installed")
    done = subprocess.run(
        [str(PORTAL), "model", "validate", *map(str, args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in done.stdout + done.stderr
    return done


def test_subprocess_real_bundle_is_valid():
    done = portal("bpmn")
    assert done.returncode == 0
    assert done.stdout == "valid\n"


def test_subprocess_broken_bundle_in_json(broken_bundle):
    done = portal(broken_bundle, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["valid"] is False
    assert [
        f"{p['file']}:{p['line'] or 0} {p['element_id'] or '-'}: {p['message']}" for p in report["problems"]
    ] == expected_problems(broken_bundle)


def test_subprocess_odd_inputs_never_print_a_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    laughs = tmp_path / "laughs.bpmn"
    laughs.write_bytes((CORPUS / "hostile_billion_laughs.bpmn").read_bytes())
    garbage = tmp_path / "garbage.bpmn"
    garbage.write_bytes(bytes(range(256)) * 16)
    done = portal(tmp_path / "missing", empty, laughs, garbage)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 4
    assert all(LINE.match(line) for line in lines), lines
    assert lines[0].endswith("no such file or folder")
    assert lines[1] == f"{empty}:1 -: no .bpmn file in the bundle"
    assert "DOCTYPE and entity declarations are not allowed" in lines[2]
    assert "must be UTF-8 encoded" in lines[3]


def test_subprocess_every_corpus_file_gives_located_lines_and_no_traceback():
    files = sorted(CORPUS.glob("*.bpmn"))
    assert len(files) >= 50
    done = portal(*files)  # each file alone, without the bundle's tables and forms
    assert done.returncode == 1
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    named = {Path(m["file"]).name for m in map(LINE.match, lines) if m}
    refused = {f.name for f in files if not f.name.startswith("valid_")}
    assert refused <= named <= {f.name for f in files}
    for line in lines:
        match = LINE.match(line)
        assert match, line
        assert match["line"] != "0" or match["element"] != "-", line


# -- huge files: refused unread, memory bounded ------------------------------------------------------------
HUGE = 150 * 1024 * 1024
MEMORY_BOUND_MB = 200  # the portal itself needs about 85 MB; reading the file would need more than 150 MB
MEASURE = (
    "import json, resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(json.dumps({'code': done.returncode, 'out': done.stdout, 'err': done.stderr, 'peak_mb': peak}))\n"
)


def grow(path: Path, size: int) -> None:
    """Make ``path`` ``size`` bytes long by a hole after its first ``<bpmn:documentation>`` (or before
    its last byte), writing almost nothing to disk: the hole reads as NUL bytes."""
    data = path.read_bytes()
    marker = b"<bpmn:documentation>"
    cut = data.index(marker) + len(marker) if marker in data else len(data) - 1
    with path.open("wb") as out:
        out.write(data[:cut])
        out.seek(size - (len(data) - cut))
        out.write(data[cut:])
    assert path.stat().st_size == size


def measured_validate(*args: str | Path) -> dict:
    """``portal model validate`` run from a fresh Python that reports the peak memory of its only child."""
    if PORTAL is None:
        pytest.skip("the portal console script is not installed")
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(PORTAL), "model", "validate", *map(str, args)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        check=True,
    )
    return json.loads(done.stdout)


def test_subprocess_huge_files_are_refused_with_bounded_memory(tmp_path):
    single = tmp_path / "huge.bpmn"
    single.write_bytes((BUNDLE / BPMN).read_bytes())
    grow(single, HUGE)
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLE, folder, ignore=shutil.ignore_patterns("element-templates", "README.md"))
    grow(folder / "fees.dmn", HUGE)
    grow(folder / "forms" / "fee_payment.json", HUGE)
    run = measured_validate(single, folder)
    assert run["code"] == 1
    assert "Traceback" not in run["out"] + run["err"]
    lines = run["out"].splitlines()
    assert lines[:3] == [
        "huge.bpmn:1 -: file larger than 5 MB (150 MB)",
        "fees.dmn:1 -: file larger than 5 MB (150 MB)",
        "forms/fee_payment.json:1 -: file larger than 256 KB (150 MB)",
    ]
    assert all(LINE.match(line) for line in lines), lines
    assert run["peak_mb"] < MEMORY_BOUND_MB, f"peak memory {run['peak_mb']:.0f} MB"
