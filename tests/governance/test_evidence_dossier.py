"""The evidence pack (numbers pinned to scikit-learn, verdicts against thresholds, the plug-in registry),
the back-fill of migration 7, and the dossier: it opens, is self-contained and holds the evidence."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html.parser import HTMLParser

import duckdb
import pytest
from pypdf import PdfReader
from sklearn.metrics import roc_auc_score

from analytics import audit, governance, performance, registry, settings, store
from analytics.governance import CheckResult
from analytics.store import migrate
from analytics.window import Window
from gov_support import MODEL, START, SYSTEM, loan_template, person, private_copy  # noqa: F401 - fixture


@pytest.fixture
def loan(tmp_path, loan_template):
    return private_copy(loan_template, tmp_path)


def _checks(pack):
    return {r.key: r for r in pack.results}


def test_performance_checks_match_scikit_learn(loan):
    pack = store.read(lambda con: governance.assemble(con, MODEL, "v1"), loan)
    checks = _checks(pack)
    ref = store.read(lambda con: registry.reference_frame(con, MODEL, "v1"), loan)
    assert checks["performance.reference"].value == pytest.approx(roc_auc_score(ref["label"], ref["score"]), abs=1e-12)
    assert checks["performance.reference"].rows == len(ref)
    ctx = pack.context

    def labelled(con):
        return con.execute(
            "SELECT o.label, p.score FROM predictions_loan p JOIN outcomes_loan o USING (prediction_id) "
            "WHERE p.model_version = 'v1' AND p.predicted_at >= ? AND p.predicted_at < ?",
            [ctx.labelled_start, ctx.labelled_end]).df()

    rows = store.read(labelled, loan)
    recent = checks["performance.recent"]
    assert recent.rows == len(rows) > 200
    # read off the score histograms: within the bound the realised metrics state (issue 15: performance summary)
    bound = performance.realised_metrics(loan, MODEL, window=Window(ctx.labelled_start, ctx.labelled_end, "v1"),
                                         freq=None)["roc_auc_bound"].iloc[0]
    assert abs(recent.value - roc_auc_score(rows["label"], rows["score"])) <= bound + 1e-12 <= 1e-3
    assert ctx.labelled_end - ctx.labelled_start == timedelta(days=30)
    assert recent.status == "pass" and recent.chart["kind"] == "line"


def test_a_pack_as_of_a_past_day_reads_the_log_as_it_stood(loan):
    """``as_of`` (the demo's replayed submissions): windows end there, later rows and labels are unseen."""
    as_of = START + timedelta(days=20)
    pack = store.read(lambda con: governance.assemble(con, MODEL, "v1", as_of=as_of), loan)
    ctx = pack.context
    assert pack.assembled_at == as_of and ctx.window_end <= as_of + timedelta(microseconds=1)

    def expected(con):
        return con.execute(
            "SELECT (SELECT max(predicted_at) FROM predictions_loan WHERE predicted_at < $t), "
            "(SELECT count(*) FROM predictions_loan WHERE predicted_at < $t AND model_version = 'v1'), "
            "(SELECT max(p.predicted_at) FROM predictions_loan p JOIN outcomes_loan o USING (prediction_id) "
            " WHERE p.predicted_at < $t AND o.observed_at < $t)", {"t": as_of}).fetchone()

    last, rows, last_labelled = store.read(expected, loan)
    assert ctx.window_end == last + timedelta(microseconds=1) and ctx.version_rows == rows
    assert ctx.labelled_end == last_labelled + timedelta(microseconds=1)
    assert ctx.labelled_end < ctx.window_end      # labels arrive 5 days late


def test_verdicts_follow_the_thresholds_and_the_champion(loan):
    weak = _checks(store.read(lambda con: governance.assemble(con, MODEL, "v3"), loan))
    assert weak["performance.reference"].status == "fail"          # AUC about 0.5 < 0.70
    assert weak["performance.recent"].status == "not_evaluated"    # no traffic of v3
    store.write(lambda con: settings.set_value(con, SYSTEM, "governance.min_roc_auc", 0.5, model=MODEL), loan)
    relaxed = _checks(store.read(lambda con: governance.assemble(con, MODEL, "v3"), loan))
    assert relaxed["performance.reference"].threshold == 0.5
    # with v1 as champion, v3 is compared against it and fails; v2 (as strong) passes
    store.write(lambda con: governance.transition(con, SYSTEM, MODEL, "v1", "submitted"), loan)
    for who, to in (("rob", "in_review"), ("pat", "approved"), ("pat", "champion")):
        store.write(lambda con: governance.transition(con, person(who), MODEL, "v1", to,
                                                            details={"comment": "ok"}), loan)
    v3 = _checks(store.read(lambda con: governance.assemble(con, MODEL, "v3"), loan))["performance.vs_champion"]
    v2 = _checks(store.read(lambda con: governance.assemble(con, MODEL, "v2"), loan))["performance.vs_champion"]
    assert v3.status == "fail" and v2.status == "pass"
    assert v2.threshold == pytest.approx(
        _checks(store.read(lambda con: governance.assemble(con, MODEL, "v1"), loan))["performance.reference"].value
        - 0.01)


def test_a_registered_check_joins_every_pack(loan):
    @governance.register_check("test.always_fails", "A plug-in", "registered by a test")
    def _plugin(con, ctx):
        return [CheckResult("test.always_fails", "A plug-in", "recent", "fail", f"{ctx.model}:{ctx.version}")]

    try:
        pack = store.read(lambda con: governance.assemble(con, MODEL, "v1"), loan)
        assert [r.title for r in pack.failed] == ["A plug-in"]
        assert pack.frame()["key"].tolist()[-1] == "test.always_fails"
    finally:
        governance.CHECKS.pop("test.always_fails")


def test_migration_7_backfills_history_from_the_audit_trail(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    migrate(con, target=6)
    from gov_support import SCHEMA

    con.execute("ALTER TABLE audit_log ADD COLUMN row_mac VARCHAR")  # record() writes today's layout; the

    registry.register_model(con, SYSTEM, "old", SCHEMA, owner="o")
    con.execute("INSERT INTO model_versions (model_name, version, created_at, owner, status, threshold) "
                "VALUES ('old', 'v1', '2025-01-01', 'o', 'retired', 0.5), ('old', 'v2', '2025-02-01', 'o', 'champion', 0.5)")
    for version, steps in (("v1", ["submitted", "in_review", "approved", "champion", "retired"]),
                           ("v2", ["submitted", "in_review", "approved", "champion"])):
        prev = "draft"
        for i, step in enumerate(steps):
            audit.record(con, SYSTEM, f"version.{step}", "model_version", f"old:{version}",
                         {"from": prev, "to": step}, at=START + timedelta(days=10 * (version == "v2") + i))
            prev = step
    con.execute("ALTER TABLE audit_log DROP COLUMN row_mac")  # codes are dropped again: a schema-6 store's rows
    con.close()
    store.create(path)  # `vigil init` upgrades it (a read never does)
    history = store.read(lambda c: governance.deployment_history(c, "old"), path)
    assert history[["version", "role"]].values.tolist() == [["v1", "champion"], ["v2", "champion"]]
    assert history["ended_at"].isna().tolist() == [False, True]
    steps = store.read(lambda c: governance.approval_history(c, "old", "v2"), path)
    assert steps["to_status"].tolist() == ["submitted", "in_review", "approved", "champion"]


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def _decided(loan):
    store.write(lambda con: governance.submit(con, person("ana"), MODEL, "v1", "quarterly retrain"), loan)
    store.write(lambda con: governance.start_review(con, person("rob"), MODEL, "v1"), loan)
    store.write(lambda con: governance.record_finding(con, person("rob"), MODEL, "v1", "AUC stable across regions",
                                                      severity="observation", topic="performance"), loan)
    store.write(lambda con: governance.approve(con, person("pat"), MODEL, "v1", "approved for production"), loan)
    store.write(lambda con: governance.promote(con, person("pat"), MODEL, "v1"), loan)
    store.write(lambda con: governance.set_model_card(con, person("adm"), MODEL, {
        "intended_use": "score loan applications", "data": [{"name": "synthetic", "licence": "CC0"}]}), loan)


def test_the_dossier_is_self_contained_and_holds_the_evidence(loan, tmp_path):
    _decided(loan)
    document = store.read(lambda con: governance.dossier_html(con, MODEL, "v1"), loan)
    parser = _Collector()
    parser.feed(document)
    assert parser.tags.count("html") == 1 and "script" not in parser.tags and parser.links == []
    assert "svg" in parser.tags  # the evidence charts, inline
    pack = store.read(lambda con: governance.latest_pack(con, MODEL, "v1"), loan)
    for result in pack["results"]:
        assert result.title in document
    auc = next(r for r in pack["results"] if r.key == "performance.reference").value
    assert f"{auc:.4f}" in document
    assert pack["sha256"] in document and "matches its content" in document
    for text in ("score loan applications", "AUC stable across regions", "approved for production",
                 "quarterly retrain", "Deployment history", "Intact", "9. Post-market monitoring plan",
                 "No monitoring plan has been recorded for this version"):
        assert text in document, text
    seqs = store.read(lambda con: audit.search(con, object_id=f"{MODEL}:v1"), loan)["seq"]
    assert all(re.search(rf"<td>{s}</td>", document) for s in seqs)


def test_the_dossier_reports_a_broken_chain(loan):
    _decided(loan)
    con = duckdb.connect(str(loan))
    con.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
    con.close()
    document = store.read(lambda c: governance.dossier_html(c, MODEL, "v1"), loan)
    assert "BROKEN</b> at row 3" in document


def test_the_dossier_prints_to_pdf(loan, tmp_path):
    _decided(loan)
    document = store.read(lambda con: governance.dossier_html(con, MODEL, "v1"), loan)
    path = governance.html_to_pdf(document, tmp_path / "dossier.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 10_000
    reader = PdfReader(str(path))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    pack = store.read(lambda con: governance.latest_pack(con, MODEL, "v1"), loan)
    auc = next(r for r in pack["results"] if r.key == "performance.reference").value
    for expected in ("Governance dossier", f"{MODEL}:v1", "Reference ROC AUC", f"{auc:.4f}", "quarterly retrain",
                     "approved for production", "AUC stable across regions", "score loan applications"):
        assert expected in text, expected
    assert pack["sha256"][:16] in text.replace(" ", "")


def test_pack_json_round_trips(loan):
    pack = store.read(lambda con: governance.assemble(con, MODEL, "v1"), loan)
    assert [CheckResult(**c) for c in json.loads(pack.checks_json())] == [
        CheckResult(**json.loads(json.dumps(c.__dict__, default=str))) for c in pack.results]
