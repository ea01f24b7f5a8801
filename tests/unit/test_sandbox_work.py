"""An analyst's expression or script cannot take the server's memory or CPU: every operation whose cost
grows with its operands is charged to the evaluation's work meter (``app/engine/sandbox_work.py``), and
an evaluation that spends its budget stops with a clear ``SandboxViolation`` (a model error for the
command, which then saves nothing). What analysts write over realistic task data still runs, with the
same results as plain Python."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from app.engine import sandbox_work
from app.engine.bundle import compile_bundle, load_bundle
from app.engine.sandbox import (
    MAX_WORK,
    SandboxViolation,
    WorkLimitExceeded,
    compile_checked,
    evaluate,
    execute,
)
from app.engine.script_engine import PortalScriptEngine
from app.engine.working_time import WorkingCalendar
from app.settings import PROJECT_ROOT

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 08:00 in Saigon
# Task data at the size the API lets in (a 2 MB body): a long list, a long text, a big mapping.
BIG = {
    "big": list(range(300_000)),
    "text": "a" * 1_000_000,
    "table": {f"k{i}": i for i in range(100_000)},
    "nested": [list(range(300_000))],
    "nested_copy": [list(range(300_000))],
}

RUNAWAY_EXPRESSIONS = {
    "three nested ranges": "len([0 for a in range(10000) for b in range(10000) for c in range(10000)])",
    "two nested ranges": "len([0 for a in range(10000) for b in range(3000)])",
    "repetition inside a comprehension": "len([[0] * 10000 for i in range(3000)])",
    "sum of a range per item": "sum(sum(range(10000)) for i in range(10000))",
    "membership scan per item": "sum(1 for i in range(10000) if i in big)",
    "text scan per item": "sum(text.count('b') for i in range(3000))",
    "str() of the data per item": "len([str(big) for i in range(1000)])",
    "f-string of the data per item": "len([f'{big}' for i in range(1000)])",
    "f-string repr of the data per item": "len([f'{big!r}' for i in range(1000)])",
    "slice copy per item": "len([big[:] for i in range(1000)])",
    "sorted copy per item": "len([sorted(big) for i in range(100)])",
    "equality of lists per item": "[big == big for i in range(10000)]",
    "comprehension over the data inside one over the data": "len([x for x in big for y in big])",
    "text split per item": "len([text.split('a') for i in range(100)])",
    "dict views per item": "sum(len(list(table.values())) for i in range(1000))",
    "concatenation per item": "len([big + big for i in range(100)])",
}


@pytest.mark.parametrize("source", RUNAWAY_EXPRESSIONS.values(), ids=RUNAWAY_EXPRESSIONS.keys())
def test_a_runaway_expression_stops_at_the_work_budget_without_taking_memory(source):
    tracemalloc.start()
    try:
        with pytest.raises(WorkLimitExceeded, match="too much work"):
            evaluate(source, BIG)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024  # each of these would build hundreds of MB, or run for hours


@pytest.mark.parametrize(
    "script, reason",
    [
        ("a = 2**64\n" + "a = a * a\n" * 40, "product larger than"),
        ("a = 'x' * 10000\n" + "a += a\n" * 40, "too much work"),
        ("a = [0] * 1000\n" + "a *= 1000\n" * 4, "repetition longer than"),
        ("a = 'x' * 10000\n" + "a = a + a\n" * 40, "too much work"),
    ],
    ids=["squaring an integer", "doubling text with +=", "repeating with *=", "doubling text with +"],
)
def test_a_script_that_doubles_its_data_stops_and_changes_nothing(script, reason):
    data = {"kept": 1}
    with pytest.raises(SandboxViolation, match=reason):
        execute(script, data)
    assert data == {"kept": 1}


def test_percent_formatting_of_text_is_refused_but_modulo_of_numbers_works():
    with pytest.raises(SandboxViolation, match="use an f-string"):
        evaluate("'%0100000000d' % 1", {})
    assert evaluate("17 % 5", {}) == 2
    assert evaluate("fee % 1000", {"fee": 1_200_500}) == 500


@pytest.mark.parametrize("source", ["{**table}", "dict(**table)", "len({**table, 'x': 1})"])
def test_unpacking_with_double_star_is_refused_before_running(source):
    with pytest.raises(SandboxViolation, match="unpacking"):
        compile_checked(source)


def test_deep_work_the_size_model_underprices_is_stopped_by_the_cpu_backstop(monkeypatch):
    # Each comparison is charged one step (the lists hold one item) but walks 300,000 elements.
    monkeypatch.setattr(sandbox_work, "MAX_CPU_SECONDS", 0.2)
    with pytest.raises(WorkLimitExceeded, match="CPU time"):
        evaluate("[nested == nested_copy for i in range(10000)]", BIG)


def test_the_budget_is_counted_afresh_for_each_evaluation():
    just_under = f"len([0 for i in range({MAX_WORK // 200}) for j in range(100)])"  # about 60 % each
    for _ in range(3):
        assert evaluate(just_under, {}) == MAX_WORK // 2


def test_an_evaluation_that_failed_leaves_no_meter_behind_for_the_next():
    with pytest.raises(WorkLimitExceeded):
        evaluate("len([0 for a in range(10000) for b in range(10000)])", {})
    sandbox_work.charge(MAX_WORK * 10)  # outside an evaluation nothing is metered
    assert evaluate("sum(x for x in range(10000))", {}) == 49_995_000


REALISTIC = {
    "containers": [f"TCLU{n:07d}" for n in range(2000)],
    "goods": [{"hs": f"{n % 97:04d}", "weight_kg": n * 3, "origin": "AU"} for n in range(2000)],
    "fees": {"food_safety": 100_000, "quarantine": 350_000},
    "result": "pass",
    "note": "Frozen beef, 2 reefers, Cat Lai yard",
}
ANALYST_EXPRESSIONS = {
    "count matching containers": "sum(1 for c in containers if c.startswith('TCLU00'))",
    "total weight": "sum(g['weight_kg'] for g in goods)",
    "goods by chapter": "len({g['hs'][:2] for g in goods})",
    "pairs within a small list": "len([(a, b) for a in containers[:100] for b in containers[:100] if a < b])",
    "membership in a list": "len([c for c in containers[:200] if c in containers])",
    "fee total": "sum(fees.values()) + max(fees.values()) % 1000",
    "text": "f'{result!r}: {note.upper()} ({len(containers)} containers)'",
    "sorted heaviest": "sorted([g['weight_kg'] for g in goods], reverse=True)[:3]",
    "lookup per item": "sum(fees.get(k, 0) for k in ['food_safety', 'quarantine', 'other'] * 100)",
}


@pytest.mark.parametrize("source", ANALYST_EXPRESSIONS.values(), ids=ANALYST_EXPRESSIONS.keys())
def test_what_analysts_write_over_realistic_data_still_runs_as_in_plain_python(source):
    assert evaluate(source, REALISTIC) == eval(source, dict(REALISTIC))  # noqa: S307 - the reference


def test_augmented_assignment_in_a_script_still_works_on_names_and_items():
    data = {"totals": {"fees": 100}, "count": 1, "label": "C"}
    execute("count += 2\ntotals['fees'] += 50\nlabel += '01'\ncount *= 3\ncount -= 1", data)
    assert data == {"totals": {"fees": 150}, "count": 8, "label": "C01"}


# -- the working-time helpers walk the calendar: charged by the days they walk ----------------------------
@pytest.fixture(scope="module")
def engine_task():
    engine = PortalScriptEngine(NOW, WorkingCalendar())
    compiled = compile_bundle(load_bundle(PROJECT_ROOT / "bpmn"))
    workflow = BpmnWorkflow(compiled.specs.spec, compiled.specs.subprocess_specs, script_engine=engine)
    return engine, workflow.get_tasks(state=TaskState.READY)[0]


def test_a_deadline_a_year_ahead_is_allowed_and_a_million_working_days_is_refused_before_walking(engine_task):
    engine, task = engine_task
    assert (
        engine.evaluate(task, "working_days(10)") == WorkingCalendar().add_working_days(NOW, 10).isoformat()
    )
    assert engine.evaluate(task, "working_hours(2000)")  # a year of office hours
    with pytest.raises(WorkflowTaskException, match="too much work"):
        engine.evaluate(task, "working_days(10**6)")  # charged before the calendar is walked
    with pytest.raises(WorkflowTaskException, match="too much work"):
        engine.evaluate(task, "[working_days(1000) for i in range(100)]")


@pytest.mark.parametrize(
    "source, mode",
    [
        ("[split() for split in [text.split] * 1000]", "eval"),
        ("f = text.split\nx = f()", "exec"),
    ],
    ids=["kept in a list", "kept in a variable"],
)
def test_a_method_cannot_be_kept_to_be_called_later_outside_the_meter(source, mode):
    with pytest.raises(SandboxViolation, match="must be called where it is named"):
        compile_checked(source, mode)


def test_membership_in_dict_values_is_charged_as_a_scan():
    with pytest.raises(WorkLimitExceeded):
        evaluate("sum(1 for i in range(100) if i in table.values())", BIG)
    assert evaluate("sum(1 for i in range(1000) if f'k{i}' in table)", BIG) == 1000  # a look-up each


# -- property: the rewrite that meters the work does not change what an expression means ------------------
# Random expressions over task data, evaluated by the sandbox and by plain Python: the same value, or the
# same kind of error. The only allowed difference is a refusal the sandbox makes on purpose ('%' on text,
# a product, power or repetition over its caps); the work limit must never be reached by these.
TASK_DATA = {
    "n": 7,
    "m": -3,
    "f": 2.5,
    "s": "TCLU2167398",
    "xs": [3, 1, 2],
    "d": {"a": 1, "b": 2},
    "t": (1, "a"),
    "flag": True,
    "none": None,
}
ATOMS = st.sampled_from([*TASK_DATA, "0", "1", "2", "-1", "'a'", "'TCLU'", "2.0", "[1, 2]", "{'a': 1}", "()"])
BINARY = ["+", "-", "*", "/", "//", "%", "&", "|", "^", ">>"]
COMPARE = ["==", "!=", "<", "<=", ">", ">=", "in", "not in", "is", "is not"]
BUILTINS = ["len", "sum", "min", "max", "sorted", "list", "tuple", "set", "str", "abs", "bool", "int", "any"]
METHODS = ["upper()", "lower()", "strip()", "split()", "count('a')", "startswith('T')", "get('a')",
           "keys()", "values()", "items()", "index(1)", "isdigit()"]  # fmt: skip


def _compose(inner):
    two = st.tuples(inner, inner)
    return st.one_of(
        st.builds(lambda ab, op: f"({ab[0]} {op} {ab[1]})", two, st.sampled_from(BINARY)),
        st.builds(lambda a, e: f"({a} ** {e})", inner, st.sampled_from(["0", "1", "2", "3"])),
        st.builds(lambda a, e: f"({a} << {e})", inner, st.sampled_from(["0", "1", "5"])),
        st.builds(lambda ab, op: f"({ab[0]} {op} {ab[1]})", two, st.sampled_from(COMPARE)),
        st.builds(lambda abc: f"({abc[0]} < {abc[1]} <= {abc[2]})", st.tuples(inner, inner, inner)),
        st.builds(lambda ab, op: f"({ab[0]} {op} {ab[1]})", two, st.sampled_from(["and", "or"])),
        st.builds(lambda a: f"(not {a})", inner),
        st.builds(lambda abc: f"({abc[0]} if {abc[1]} else {abc[2]})", st.tuples(inner, inner, inner)),
        st.builds(lambda ab: f"{ab[0]}[{ab[1]}]", two),
        st.builds(lambda abc: f"{abc[0]}[{abc[1]}:{abc[2]}]", st.tuples(inner, inner, inner)),
        st.builds(lambda b, a: f"{b}({a})", st.sampled_from(BUILTINS), inner),
        st.builds(lambda a, meth: f"{a}.{meth}", inner, st.sampled_from(METHODS)),
        st.builds(lambda ab: f"[v for v in {ab[0]} if v != {ab[1]}]", two),
        st.builds(lambda ab: f"[({ab[0]}, v) for v in {ab[1]}]", two),
        st.builds(lambda a: f"{{v: 1 for v in {a}}}", inner),
        st.builds(lambda a: f"sum(1 for v in {a} for w in {a})", inner),
        st.builds(lambda a: f"f'<{{{a}}}>'", inner),
        st.builds(lambda a: f"f'{{{a}!r}}'", inner),
        st.builds(lambda a: f"[{a}, {a}]", inner),
    )


EXPRESSIONS = st.recursive(ATOMS, _compose, max_leaves=8)


ON_PURPOSE = ("'%' formatting of text", "product larger", "repetition longer", "power result", "shift result")


def _outcome(run):
    try:
        return "value", run()
    except SyntaxError:
        return "error", "SyntaxError"
    except WorkLimitExceeded as exc:
        return "work limit", str(exc)  # never right for these few-leaf expressions
    except SandboxViolation as exc:
        if str(exc).startswith("syntax error"):
            return "error", "SyntaxError"
        assert str(exc).startswith(ON_PURPOSE), exc
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 - the kind of error is what is compared
        return "error", type(exc).__name__


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # the strategy's long repr
@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # plain Python's compile() of the reference
@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=EXPRESSIONS)
def test_a_metered_expression_means_what_it_means_in_plain_python(source):
    metered = _outcome(lambda: evaluate(source, TASK_DATA))
    assume(metered[0] != "refused")  # a refusal on purpose (checked in _outcome): plain Python may differ
    plain = _outcome(lambda: eval(source, {**TASK_DATA}))  # noqa: S307 - the reference
    assert metered == plain, source


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=EXPRESSIONS,
    second=EXPRESSIONS,
    op=st.sampled_from(["+=", "-=", "*=", "//=", "|=", "%="]),
    target=st.sampled_from(["v", "box[0]", "box[1:2]", "dd['a']"]),
)
def test_a_metered_augmented_assignment_means_what_it_means_in_plain_python(first, second, op, target):
    script = f"v = {first}\nbox = [v, v]\ndd = {{'a': v}}\n{target} {op} {second}\nresult = [v, box, dd]"
    metered_data, plain_data = dict(TASK_DATA), dict(TASK_DATA)
    metered = _outcome(lambda: execute(script, metered_data))
    assume(metered[0] != "refused")
    plain = _outcome(lambda: exec(script, plain_data))  # noqa: S102 - the reference
    assert metered[0] == plain[0] and (metered[0] == "value" or metered == plain), script
    if metered[0] == "value":
        assert metered_data["result"] == plain_data["result"], script
