"""Running scheduled reports: each definition's last closed period rendered once (idempotent per period),
its manifest hash recorded in the audit trail in the same transaction as the run, then e-mailed with the
files attached through an e-mail channel of the alerts package. Past reports are verified against the
manifest hash the audit trail holds."""

from __future__ import annotations

import json
import shutil
import smtplib
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

import duckdb
import pandas as pd

from analytics import audit, store
from analytics.alerts import email_channel, send_email
from analytics.clock import utc_now
from analytics.errors import InvalidInputError, NotFoundError
from analytics.registry import list_models
from analytics.reports._definitions import ReportDefinition, get_definition, list_definitions
from analytics.reports._periods import Period, last_closed_period
from analytics.reports._render import (MANIFEST, MEDIA_TYPES, ModelPart, code_version, report_html, sha256_file,
                                       thresholds_in_force, write_report)
from analytics.reports._sections import build_section
from analytics.roles import Actor, require

RENDERED, ALREADY_RUN, REDELIVERED = "rendered", "already run", "delivery retried"
SENT, FAILED, NOT_SENT = "sent", "failed", "not sent"
VERIFIED, ALTERED, MISSING = "verified", "altered", "missing"


@dataclass(frozen=True)
class ReportRun:
    """What :func:`run_reports` did with one definition.

    Attributes
    ----------
    name : str
        The definition.
    period : Period
        The period reported on.
    status : str
        ``rendered`` (new), ``already run`` (this period was reported before: nothing done) or
        ``delivery retried``.
    manifest_sha256 : str
        The manifest's hash, as in the audit trail.
    folder : Path
        Where the files are.
    delivery : str
        ``sent``, ``failed: <why>``, or ``not sent: <why>``.
    """

    name: str
    period: Period
    status: str
    manifest_sha256: str
    folder: Path
    delivery: str

    def line(self) -> str:
        """One line for the command line."""
        return (f"{self.name} {self.period.label}: {self.status}; manifest sha256 {self.manifest_sha256}; "
                f"delivery {self.delivery}; {self.folder}")


@dataclass(frozen=True)
class Verification:
    """A past report checked against the manifest hash in the audit trail: ``verified``, ``altered`` or ``missing``."""

    name: str
    period_label: str
    status: str
    detail: str


def reports_dir(db: Path) -> Path:
    """Folder of a store's reports: ``<store folder>/<store name>.reports/``."""
    return db.parent / f"{db.stem}.reports"


def _models(db: Path, definition: ReportDefinition) -> list[str]:
    if definition.model:
        return [definition.model]
    return [m.name for m in store.read(list_models, db)]


def _run_row(con: duckdb.DuckDBPyConnection, name: str, start: datetime) -> dict | None:
    frame = con.execute("SELECT * FROM report_runs WHERE name = ? AND period_start = ?", [name, start]).df()
    return None if frame.empty else frame.iloc[0].to_dict()


def render(db: Path, definition: ReportDefinition, period: Period, *, actor: Actor, pdf: bool = True) -> ReportRun:
    """Render one period of a report into a new folder and record it with its manifest hash and audit row.

    Returns ``already run`` without writing anything when the period was reported before (also when
    another process finished it first).
    """
    models = _models(db, definition)
    generated_at = utc_now()
    parts = [ModelPart(m, tuple(build_section(db, key, m, period) for key in definition.sections)) for m in models]
    thresholds = store.read(lambda con: thresholds_in_force(con, models), db)
    version = code_version()
    document = report_html(definition, period, parts, generated_at=generated_at, generated_by=actor.username,
                           version=version, thresholds=thresholds)
    manifest = {
        "report": definition.name, "definition": definition.to_dict(), "models": models,
        "period": {"schedule": period.schedule, "label": period.label, "start": period.start.isoformat(),
                   "end": period.end.isoformat(), "end_excluded": True, "timezone": "UTC"},
        "generated_at": generated_at.isoformat() + "Z", "generated_by": actor.username, "code_version": version,
        "thresholds_in_force": thresholds,
        "sections": {p.model: {s.key: {"title": s.title, "summary": s.summary, "problem": s.problem}
                               for s in p.sections} for p in parts},
    }
    relative = Path(reports_dir(db).name) / definition.name / f"{period.label}-{generated_at:%Y%m%dT%H%M%S%f}"
    written = write_report(db.parent / relative, document, manifest, pdf=pdf)

    def commit(con: duckdb.DuckDBPyConnection) -> str | None:
        existing = _run_row(con, definition.name, period.start)
        if existing is not None:
            return existing["manifest_sha256"]
        seq = audit.record(con, actor, "report.run", "report", f"{definition.name}:{period.label}",
                           {"manifest_sha256": written.manifest_sha256, "period_start": period.start,
                            "period_end": period.end, "folder": str(relative),
                            "files": {f["name"]: f["sha256"] for f in written.manifest["files"]}})
        con.execute("INSERT INTO report_runs (name, period_start, period_label, period_end, generated_at, generated_by, "
                    "folder, manifest_sha256, audit_seq, delivery_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                    [definition.name, period.start, period.label, period.end, generated_at, actor.username,
                     str(relative), written.manifest_sha256, seq])
        return None

    earlier = store.write(commit, db)
    if earlier is not None:  # another process reported this period while this one rendered
        shutil.rmtree(written.folder, ignore_errors=True)
        return ReportRun(definition.name, period, ALREADY_RUN, earlier, written.folder, "unchanged")
    return ReportRun(definition.name, period, RENDERED, written.manifest_sha256, written.folder, "pending")


def _message(definition: ReportDefinition, row: dict, folder: Path) -> EmailMessage:
    manifest = json.loads((folder / MANIFEST).read_text())
    message = EmailMessage()
    message["Subject"] = f"[Vigil] {definition.schedule} report {definition.scope} {row['period_label']}"
    message["To"] = ", ".join(definition.recipients)
    lines = [f"Vigil {definition.schedule} report '{definition.name}' for {definition.scope}, period "
             f"{row['period_label']} ({manifest['period']['start']} to {manifest['period']['end']} UTC, end excluded).",
             ""]
    for model, sections in manifest["sections"].items():
        lines.append(f"{model}:")
        lines.extend(f"  - {sections[k]['title']}: {sections[k]['summary']}" for k in definition.sections if k in sections)
    lines += ["", f"Manifest sha256 (kept in Vigil's audit trail): {row['manifest_sha256']}",
              f"Check the attachments with: vigil reports verify {definition.name} {row['period_label']}"]
    message.set_content("\n".join(lines))
    for entry in [*manifest["files"], {"name": MANIFEST}]:
        path = folder / entry["name"]
        maintype, subtype = MEDIA_TYPES[path.suffix].split("/")
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def deliver(db: Path, actor: Actor, name: str, period_start: datetime) -> str:
    """E-mail one rendered report to its recipients with its files attached; record and audit the outcome.

    Returns ``sent``, ``failed: <error>`` or ``not sent: <why>``; a failed delivery is retried by the
    next :func:`run_reports`.
    """
    def load(con):
        definition = get_definition(con, name)
        row = _run_row(con, name, period_start)
        if row is None:
            raise NotFoundError(f"report {name} has no run for the period starting {period_start:%Y-%m-%d}")
        return definition, row, email_channel(con, definition.channel) if definition.recipients else None

    definition, row, channel = store.read(load, db)
    if channel is None:
        status, detail = NOT_SENT, "no recipients"
    else:
        try:
            detail = send_email(channel, _message(definition, row, db.parent / row["folder"]))
            status = SENT
        except (OSError, smtplib.SMTPException) as exc:
            status, detail = FAILED, f"{type(exc).__name__}: {exc}"[:500]

    def record(con):
        con.execute("UPDATE report_runs SET delivery_status = ?, delivered_at = ?, delivery_detail = ? WHERE name = ? "
                    "AND period_start = ?", [status, utc_now() if status == SENT else None, detail, name, period_start])
        audit.record(con, actor, "report.deliver", "report", f"{name}:{row['period_label']}",
                     {"status": status, "detail": detail, "recipients": list(definition.recipients),
                      "channel": definition.channel, "manifest_sha256": row["manifest_sha256"]})

    store.write(record, db)
    return status if status == SENT else f"{status}: {detail}"


def run_reports(db: Path, actor: Actor, *, as_of: datetime | None = None, names: tuple[str, ...] = (),
                pdf: bool = True, send: bool = True) -> list[ReportRun]:
    """Report the last closed period of each enabled definition (or of ``names``) that has not been reported.

    Idempotent per period: a period already reported is left as it is (its failed delivery is retried
    when ``send``), so the command can run from cron as often as wanted.

    Parameters
    ----------
    db : Path
        The store.
    actor : Actor
        Who runs them (approvers, admins, or the system identity of a cron job).
    as_of : datetime, optional
        Naive UTC "now" that decides the periods (default now).
    names : tuple of str
        Only these definitions (default: every enabled one).
    pdf : bool
        Print the PDF with Chromium (False: HTML and manifest only).
    send : bool
        E-mail the report to its recipients.
    """
    require(actor, "manage_reports")
    moment = as_of or utc_now()
    definitions = store.read(lambda con: [get_definition(con, n) for n in names] if names else
                             [d for d in list_definitions(con) if d.enabled], db)
    done = []
    for definition in definitions:
        period = last_closed_period(definition.schedule, moment)
        row = store.read(lambda con: _run_row(con, definition.name, period.start), db)
        if row is None:
            run = render(db, definition, period, actor=actor, pdf=pdf)
            if run.status == RENDERED and send:
                run = ReportRun(run.name, period, run.status, run.manifest_sha256, run.folder,
                                deliver(db, actor, definition.name, period.start))
        elif send and row["delivery_status"] in ("pending", FAILED):
            run = ReportRun(definition.name, period, REDELIVERED, row["manifest_sha256"], db.parent / row["folder"],
                            deliver(db, actor, definition.name, period.start))
        else:
            run = ReportRun(definition.name, period, ALREADY_RUN, row["manifest_sha256"], db.parent / row["folder"],
                            str(row["delivery_status"]))
        done.append(run)
    return done


def _recorded_hash(con: duckdb.DuckDBPyConnection, name: str, label: str) -> str | None:
    trail = audit.search(con, action="report.run", object_id=f"{name}:{label}")
    trail = trail[trail["object_id"] == f"{name}:{label}"]
    return None if trail.empty else json.loads(trail.iloc[0]["details"]).get("manifest_sha256")


def _run_folder(con: duckdb.DuckDBPyConnection, name: str, label: str) -> Path:
    """The folder of a past report's files (beside the store)."""
    row = con.execute("SELECT folder FROM report_runs WHERE name = ? AND period_label = ?", [name, label]).fetchone()
    if row is None:
        raise NotFoundError(f"no report {name} for period {label}; 'vigil reports runs' lists them")
    return store.store_path(con).parent / row[0]


def verify_run(db: store.DbLike, name: str, label: str) -> Verification:
    """Check a past report's files against the manifest hash recorded in the audit trail.

    ``db``: the store's path or an open connection. ``verified``: the manifest's sha256 is the one the
    audit trail recorded, and every file has the sha256 the manifest lists. ``altered``: one of them
    differs (the detail says which). ``missing``: a file is gone.
    """
    path, expected = store.run(db, lambda con: (_run_folder(con, name, label), _recorded_hash(con, name, label)))
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        return Verification(name, label, MISSING, f"{manifest_path} is gone")
    if expected is None:
        return Verification(name, label, ALTERED, "the audit trail holds no manifest hash for this report")
    if sha256_file(manifest_path) != expected:
        return Verification(name, label, ALTERED, "manifest.json differs from the sha256 recorded in the audit trail")
    try:
        files = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError):
        return Verification(name, label, ALTERED, "manifest.json is not a Vigil manifest")
    for entry in files:
        target = path / entry["name"]
        if not target.is_file():
            return Verification(name, label, MISSING, f"{entry['name']} is gone")
        if sha256_file(target) != entry["sha256"]:
            return Verification(name, label, ALTERED, f"{entry['name']} differs from the sha256 in its manifest")
    return Verification(name, label, VERIFIED, f"manifest and {len(files)} files match the audit trail's hash")


def runs_table(db: store.DbLike, *, verify: bool = True) -> pd.DataFrame:
    """Past reports, newest first: name, period, when generated, manifest hash, delivery, and (``verify``) the
    :func:`verify_run` status and detail of each. ``db``: the store's path or an open connection."""

    def work(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        frame = con.execute(
            "SELECT name, period_label, period_start, period_end, generated_at, generated_by, manifest_sha256, "
            "delivery_status, delivered_at, delivery_detail, folder FROM report_runs "
            "ORDER BY generated_at DESC, name").df()
        if verify and len(frame):
            checks = [verify_run(con, n, lab) for n, lab in zip(frame["name"], frame["period_label"])]
            frame["verification"] = [c.status for c in checks]
            frame["verification_detail"] = [c.detail for c in checks]
        return frame

    return store.run(db, work)


def report_file(db: store.DbLike, name: str, label: str, file_name: str) -> bytes:
    """The bytes of one file of a past report (``report.html``, ``report.pdf`` or ``manifest.json``).

    ``db``: the store's path or an open connection."""
    if file_name not in ("report.html", "report.pdf", MANIFEST):
        raise InvalidInputError(f"{file_name!r} is not a report file; use report.html, report.pdf or {MANIFEST}")
    target = store.run(db, lambda con: _run_folder(con, name, label)) / file_name
    if not target.is_file():
        raise NotFoundError(f"{file_name} of report {name} {label} is not there (not rendered, or removed)")
    return target.read_bytes()
