"""Scheduled reports, retention and records export (issue 19 sections 1 and 2) on a real store, a real local
SMTP server (aiosmtpd, ``smtp_receiver``) and, in one test, a real Chromium printing the PDF."""

from __future__ import annotations

import email
import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analytics import alerts, audit, drift, registry, reports, settings, store, users
from analytics.cli import main
from analytics.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from analytics.ingest import ingest
from analytics.roles import Actor
from analytics.store import copy_store
from analytics.window import Window
from lifecycle_support import put_in_status

SYSTEM = Actor("cli:tests", "system")
ADMIN, APPROVER, REVIEWER, VIEWER = (Actor("ada", "admin"), Actor("paul", "approver"), Actor("rita", "reviewer"),
                                     Actor("vera", "viewer"))
MODEL = "toy-model"
#: 2025-03-12 closes ISO week 2025-W10 (Monday 03-03 to Monday 03-10), which holds the recent batch.
AS_OF = datetime(2025, 3, 12)
WEEK_START, WEEK_END = datetime(2025, 3, 3), datetime(2025, 3, 10)
OLD_ROWS, RECENT_ROWS, RECENT_START = 400, 1500, 2 * 1440


@pytest.fixture(scope="module")
def template(tmp_path_factory, toy_schema, make_predictions, make_outcomes) -> Path:
    """The toy model with champion v1 and its reference; an old batch (2025-03-01, outcomes an hour later) and a
    recent one (from 2025-03-03 08:00, outcomes 30 days later), each its own ingest and segment."""
    db = tmp_path_factory.mktemp("reports-template") / "vigil.duckdb"
    reference = make_predictions(600, start=100_000, prefix="r")
    reference = reference[[c.name for c in toy_schema.columns]].assign(
        label=[i % 2 for i in range(600)], score=reference["score"], decision=reference["decision"])

    def register(con):
        registry.register_model(con, SYSTEM, MODEL, toy_schema, owner="tests", description="toy")
        registry.register_version(con, SYSTEM, MODEL, "v1", threshold=0.5, owner="tests",
                                  validation_metrics={"roc_auc": 0.81}, at=datetime(2025, 1, 1))
        put_in_status(con, MODEL, "v1", "champion", at=datetime(2025, 1, 1))
        registry.register_version(con, SYSTEM, MODEL, "v2", threshold=0.4, owner="tests", parent_version="v1",
                                  at=datetime(2025, 2, 1))
        registry.load_reference(con, SYSTEM, MODEL, "v1", reference, at=datetime(2025, 1, 1))

    store.write(register, db)
    old = make_predictions(OLD_ROWS, prefix="o")
    recent = make_predictions(RECENT_ROWS, start=RECENT_START)
    for frame, kind in ((old, "predictions"), (recent, "predictions"),
                        (make_outcomes(old, delay=timedelta(hours=1)), "outcomes"),
                        (make_outcomes(recent), "outcomes")):
        assert ingest(MODEL, frame, kind=kind, actor=SYSTEM, db=db).ok
    return db


@pytest.fixture
def vstore(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template store."""
    return copy_store(template, tmp_path / "store")


def _mail_channel(db: Path, port: int) -> None:
    store.write(lambda con: alerts.add_channel(con, ADMIN, "mail", "email", "ops@example.com",
                                               options={"host": "127.0.0.1", "port": port,
                                                        "sender": "vigil@example.com"}), db)


def _define(db: Path, **changes) -> reports.ReportDefinition:
    fields = {"name": "weekly-portfolio", "model": None, "schedule": "weekly", "sections": tuple(reports.SECTIONS),
              "recipients": ("risk@example.com",), "channel": "mail"} | changes
    return store.write(lambda con: reports.save_definition(con, APPROVER, reports.ReportDefinition(**fields)), db)


def _audit(db: Path, action: str) -> pd.DataFrame:
    return store.read(lambda con: audit.search(con, action=action), db)


def test_a_weekly_report_arrives_by_smtp_with_html_and_pdf_and_its_manifest_hash_is_audited(vstore, smtp_receiver):
    port, messages = smtp_receiver
    _mail_channel(vstore, port)
    _define(vstore, sections=("drift", "governance"))  # every section: the next test

    [run] = reports.run_reports(vstore, SYSTEM, as_of=AS_OF)  # the one test that prints a PDF with Chromium
    assert (run.status, run.delivery, run.period.label) == (reports.RENDERED, reports.SENT, "2025-W10")
    [message] = messages
    assert message["to"] == ["risk@example.com"]
    parsed = email.message_from_string(message["text"])
    attached = {part.get_filename(): part.get_payload(decode=True) for part in parsed.walk() if part.get_filename()}
    assert set(attached) == {"report.html", "report.pdf", "manifest.json"}
    assert attached["report.pdf"].startswith(b"%PDF-") and b"<!DOCTYPE html>" in attached["report.html"]
    manifest = json.loads(attached["manifest.json"])
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: reports.sha256_file(run.folder / name) for name in ("report.html", "report.pdf")}
    [row] = _audit(vstore, "report.run").to_dict("records")
    assert json.loads(row["details"])["manifest_sha256"] == run.manifest_sha256 == reports.sha256_file(
        run.folder / "manifest.json") == __import__("hashlib").sha256(attached["manifest.json"]).hexdigest()
    assert row["object_id"] == "weekly-portfolio:2025-W10"
    assert _audit(vstore, "report.deliver")["details"].str.contains('"status":"sent"').all()

    # Idempotent per period: a second run (cron) renders and sends nothing.
    [again] = reports.run_reports(vstore, SYSTEM, as_of=AS_OF + timedelta(hours=5))
    assert again.status == reports.ALREADY_RUN and len(messages) == 1 and len(_audit(vstore, "report.run")) == 1
    assert reports.verify_run(vstore, "weekly-portfolio", "2025-W10").status == reports.VERIFIED
    assert store.read(audit.verify, vstore).intact


def test_report_content_thresholds_and_a_failed_delivery_retried(vstore, smtp_receiver, tmp_path):
    port, messages = smtp_receiver
    _mail_channel(vstore, port)
    _define(vstore, name="toy-weekly", model=MODEL)
    store.write(lambda con: settings.set_value(con, ADMIN, "drift.psi_threshold", 0.3, model=MODEL), vstore)
    store.write(lambda con: con.execute("UPDATE channels SET options = ? WHERE name = 'mail'", [json.dumps(
        {"host": "127.0.0.1", "port": 1, "sender": "vigil@example.com"})]), vstore)  # nothing listens on port 1

    [run] = reports.run_reports(vstore, SYSTEM, as_of=AS_OF, pdf=False)
    assert run.delivery.startswith("failed: ") and not messages
    manifest = json.loads((run.folder / reports.MANIFEST).read_text())
    assert manifest["period"] | {} == {"schedule": "weekly", "label": "2025-W10", "start": "2025-03-03T00:00:00",
                                       "end": "2025-03-10T00:00:00", "end_excluded": True, "timezone": "UTC"}
    assert manifest["thresholds_in_force"][MODEL]["drift.psi_threshold"] == 0.3
    assert manifest["thresholds_in_force"][MODEL]["fairness.dp_ratio_threshold"] == 0.8
    assert manifest["code_version"]["vigil"] and [f["name"] for f in manifest["files"]] == ["report.html"]
    sections = manifest["sections"][MODEL]
    assert set(sections) == set(reports.SECTIONS)
    # The recent batch: 1,500 predictions from 03-03 08:00, one a minute, half of them the champion's (v1).
    assert "750 rows in the period" in sections["drift"]["summary"]
    assert sections["kpis"]["problem"] and "Not available" in sections["kpis"]["summary"]  # no KPI definition
    page = (run.folder / "report.html").read_text()
    assert "toy-model" in page and "<script" not in page and "http" not in page.split("</style>")[1]

    store.write(lambda con: con.execute("UPDATE channels SET options = ? WHERE name = 'mail'", [json.dumps(
        {"host": "127.0.0.1", "port": port, "sender": "vigil@example.com"})]), vstore)
    [retried] = reports.run_reports(vstore, SYSTEM, as_of=AS_OF, pdf=False)
    assert (retried.status, retried.delivery, len(messages)) == ("delivery retried", "sent", 1)
    body = next(part for part in email.message_from_string(messages[0]["text"]).walk()
                if part.get_content_type() == "text/plain" and not part.get_filename()).get_payload(decode=True).decode()
    positions = [body.index(f"  - {title}: ") for title in reports.SECTIONS.values()]
    assert positions == sorted(positions)  # the e-mail lists the sections in report order

    # Tampering is found: an edited HTML, then a removed manifest.
    (run.folder / "report.html").write_text(page.replace("toy-model", "toy-modeI"))
    check = reports.verify_run(vstore, "toy-weekly", "2025-W10")
    assert (check.status, check.detail) == (reports.ALTERED, "report.html differs from the sha256 in its manifest")
    (run.folder / reports.MANIFEST).unlink()
    assert reports.runs_table(vstore)["verification"].tolist() == [reports.MISSING]


def test_definitions_are_checked_and_audited(vstore, smtp_receiver):
    _mail_channel(vstore, smtp_receiver[0])
    for actor in (VIEWER, REVIEWER):
        with pytest.raises(PermissionDeniedError):
            store.write(lambda con: reports.save_definition(con, actor, reports.ReportDefinition(
                "x", None, "daily", ("drift",))), vstore)
    bad = [({"sections": ("drift", "gossip")}, "gossip"), ({"schedule": "hourly"}, "hourly"),
           ({"recipients": ("not-an-address",)}, "not an e-mail address"),
           ({"channel": None}, "need an e-mail channel"), ({"name": "Bad Name"}, "report name")]
    for change, words in bad:
        with pytest.raises(InvalidInputError, match=words):
            _define(vstore, **change)
    with pytest.raises(NotFoundError):
        _define(vstore, model="no-such-model")
    store.write(lambda con: alerts.add_channel(con, ADMIN, "hook", "webhook", "http://127.0.0.1:9/x"), vstore)
    with pytest.raises(InvalidInputError, match="is a webhook channel"):
        _define(vstore, channel="hook")
    _define(vstore)
    _define(vstore, schedule="monthly", sections=("governance", "drift"))
    saved = store.read(lambda con: reports.get_definition(con, "weekly-portfolio"), vstore)
    assert (saved.schedule, saved.sections, saved.updated_by) == ("monthly", ("drift", "governance"), "paul")
    trail = _audit(vstore, "report.").sort_values("seq")
    assert trail["action"].tolist() == ["report.create", "report.update"]
    assert json.loads(trail["details"].iloc[1])["before"]["schedule"] == "weekly"
    store.write(lambda con: reports.delete_definition(con, ADMIN, "weekly-portfolio"), vstore)
    assert store.read(reports.definitions_table, vstore).empty


@pytest.mark.parametrize(("schedule", "as_of", "start", "end", "label"), [
    ("daily", datetime(2026, 9, 1, 7), datetime(2026, 8, 31), datetime(2026, 9, 1), "2026-08-31"),
    ("weekly", datetime(2026, 9, 1, 7), datetime(2026, 8, 24), datetime(2026, 8, 31), "2026-W35"),
    ("weekly", datetime(2026, 8, 31), datetime(2026, 8, 24), datetime(2026, 8, 31), "2026-W35"),
    ("monthly", datetime(2026, 1, 15), datetime(2025, 12, 1), datetime(2026, 1, 1), "2025-12"),
])
def test_the_last_closed_period(schedule, as_of, start, end, label):
    period = reports.last_closed_period(schedule, as_of)
    assert (period.start, period.end, period.label) == (start, end, label)


def test_a_policy_under_six_months_needs_an_admin_and_a_reason(vstore):
    def set_(actor, days, reason=None):
        return store.write(lambda con: reports.set_policy(con, actor, MODEL, predictions_days=days,
                                                          outcomes_days=400, audit_days=4000,
                                                          override_reason=reason), vstore)

    with pytest.raises(InvalidInputError, match="under the legal floor of 184 days"):
        set_(ADMIN, 90)
    with pytest.raises(PermissionDeniedError):
        set_(APPROVER, 400)
    policy = set_(ADMIN, 90, "national law requires erasure after 90 days")
    assert (policy.predictions_days, policy.override_reason, policy.stored) == (90, "national law requires erasure "
                                                                                "after 90 days", True)
    [row] = _audit(vstore, "retention.set").to_dict("records")
    details = json.loads(row["details"])
    assert details["below_legal_floor"] == ["predictions 90 days"] and details["before"]["predictions_days"] == 396
    assert set_(ADMIN, 200, "no longer needed").override_reason is None  # nothing overridden, no reason kept


def test_retention_removes_only_whole_expired_segments_and_audits_it(vstore):
    store.write(lambda con: reports.set_policy(con, ADMIN, MODEL, predictions_days=184, outcomes_days=184,
                                               audit_days=3653), vstore)
    # 184 days after the first recent prediction (03-03 08:00) less an hour: the old batch (03-01) has expired, the
    # recent one still holds rows inside the period and stays whole.
    now = datetime(2025, 3, 3, 7) + timedelta(days=184)
    seq_before = store.read(lambda con: con.execute("SELECT max(seq) FROM audit_log").fetchone()[0], vstore)
    view = store.predictions_view("toy_model")

    def counts(con):
        return (con.execute(f"SELECT count(*) FROM {view}").fetchone()[0],
                con.execute("SELECT count(*) FROM outcomes_toy_model").fetchone()[0],
                con.execute("SELECT count(*) FROM log_segments").fetchone()[0])

    assert store.read(counts, vstore) == (OLD_ROWS + RECENT_ROWS, OLD_ROWS + RECENT_ROWS, 2)
    [dry] = reports.apply_retention(vstore, ADMIN, dry_run=True, now=now)
    assert (len(dry.segments), dry.prediction_rows, dry.outcome_rows, dry.audit_seq) == (1, OLD_ROWS, OLD_ROWS, None)
    assert store.read(counts, vstore) == (OLD_ROWS + RECENT_ROWS, OLD_ROWS + RECENT_ROWS, 2)
    removed_file = vstore.parent / dry.segments["path"].iloc[0]
    assert removed_file.is_file()

    drift.refresh_rollups(vstore, MODEL, version="v1")  # daily drift rollups of both batches, as after ingests
    with pytest.raises(PermissionDeniedError):
        reports.apply_retention(vstore, APPROVER, now=now)
    [done] = reports.apply_retention(vstore, ADMIN, now=now)
    # Drift read from the rollups counts only what is kept (the champion v1: every other row of the recent batch).
    assert drift.drift_summary(vstore, MODEL, window=Window(start=datetime(2025, 3, 1),
                                                            end=WEEK_END)).n_current_rows == RECENT_ROWS // 2
    assert store.read(counts, vstore) == (RECENT_ROWS, RECENT_ROWS, 1) and not removed_file.exists()
    ids = store.read(lambda con: con.execute(f"SELECT min(prediction_id), max(prediction_id) FROM {view}").fetchone(),
                     vstore)
    assert ids == ("p002880", f"p{RECENT_START + RECENT_ROWS - 1:06d}")  # the recent batch, whole
    status = store.read(audit.verify, vstore)
    assert status.intact and status.rows == seq_before + 1 == done.audit_seq
    details = json.loads(_audit(vstore, "retention.apply")["details"].iloc[0])
    assert (details["prediction_rows"], details["outcome_rows"]) == (OLD_ROWS, OLD_ROWS)
    assert details["segments"][0]["path"] == dry.segments["path"].iloc[0]
    # Nothing more has expired: a second pass removes nothing and writes no audit row.
    assert reports.apply_retention(vstore, ADMIN, now=now)[0].audit_seq is None
    assert store.read(audit.verify, vstore).rows == seq_before + 1


def test_records_of_a_window_are_exported_for_an_authority(vstore, tmp_path):
    start, end = datetime(2025, 3, 3, 12), datetime(2025, 3, 4)
    with pytest.raises(PermissionDeniedError):
        reports.export_records(vstore, VIEWER, MODEL, start=start, end=end, out=tmp_path / "no")
    done = reports.export_records(vstore, REVIEWER, MODEL, start=start, end=end, out=tmp_path / "out")
    expected = store.read(lambda con: con.execute(
        "SELECT count(*) FROM predictions_toy_model WHERE predicted_at >= ? AND predicted_at < ?",
        [start, end]).fetchone()[0], vstore)
    assert done.rows == expected == 12 * 60
    table = pq.read_table(tmp_path / "out" / "records.parquet").to_pandas()
    csv = pd.read_csv(tmp_path / "out" / "records.csv")
    assert len(table) == len(csv) == expected and list(table.columns) == list(csv.columns)
    assert {"prediction_id", "model_version", "score", "decision", "AGE", "income", "gender", "outcome_label"} <= set(
        table.columns)
    assert table["outcome_label"].notna().all() and set(table["model_version"]) == {"v1", "v2"}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        f.name: reports.sha256_file(f) for f in done.files if f.name != "manifest.json"}
    assert manifest["human_overrides"] == reports.OVERRIDES_NOTE and manifest["rows"] == expected
    assert json.loads(_audit(vstore, "records.export")["details"].iloc[0])["manifest_sha256"] == done.manifest_sha256
    with pytest.raises(InvalidInputError, match="not an empty folder"):
        reports.export_records(vstore, REVIEWER, MODEL, start=start, end=end, out=tmp_path / "out")


def test_the_command_line(vstore, capsys, monkeypatch, as_person):
    monkeypatch.setenv("VIGIL_DB", str(vstore))
    store.write(lambda con: users.add_user(con, SYSTEM, "ada", "admin"), vstore)
    assert main(["retention", "set", MODEL, "--predictions-days", "30"]) == 1  # nobody proven
    assert "acts for a person" in capsys.readouterr().err
    assert main(["retention", "set", MODEL, "--predictions-days", "30", *as_person(vstore, "ada")]) == 1
    assert "under the legal floor of 184 days" in capsys.readouterr().err
    assert main(["reports", "add", "w", "--model", MODEL, "--schedule", "weekly", "--sections", "governance",
                 *as_person(vstore, "ada")]) == 0
    assert main(["reports", "run", "--due", "--no-pdf", "--as-of", "2025-03-12"]) == 0
    assert "w 2025-W10: rendered" in capsys.readouterr().out
    assert main(["reports", "run", "--due", "--no-pdf", "--as-of", "2025-03-12"]) == 0
    assert capsys.readouterr().out == ""  # cron: quiet about periods already reported
    assert main(["reports", "verify", "w", "2025-W10"]) == 0
    for bad, words in (("yesterday", "is not a date or time"), ("9999-12-31", "out of range")):
        with pytest.raises(SystemExit) as exit_:
            main(["reports", "run", "--as-of", bad])
        assert exit_.value.code == 2 and words in capsys.readouterr().err


def test_a_report_whose_pdf_cannot_be_printed_leaves_nothing_behind(vstore, monkeypatch):
    def no_chromium(document, path):
        raise InvalidInputError("no Chromium to print the PDF with")

    monkeypatch.setattr("analytics.reports._render.html_to_pdf", no_chromium)
    _define(vstore, name="gov", model=MODEL, sections=("governance",), recipients=(), channel=None)
    with pytest.raises(InvalidInputError, match="no Chromium"):
        reports.run_reports(vstore, SYSTEM, as_of=AS_OF)
    folder = reports.reports_dir(vstore) / "gov"
    assert not (folder.exists() and any(folder.iterdir())) and reports.runs_table(vstore).empty
