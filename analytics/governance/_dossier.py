"""The governance dossier of a version: one self-contained HTML file (inline CSS and SVG charts, no
script, no external resource), and the same as PDF printed by headless Chromium (Playwright).

Contents: registry entry and lineage, risk tier, model card, the evidence pack with its charts
(the latest stored pack, else one assembled now, and which), review findings, approval history,
deployment history, an extract of the audit trail for the version, the chain status, and the
post-market monitoring plan recorded for the version (EU AI Act Art. 72).
"""

from __future__ import annotations

import html
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from analytics import audit
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.governance._evidence import FAIL, PASS, CheckResult, assemble, latest_pack
from analytics.governance._monitoring_plan import plan_section_html
from analytics.governance._records import approval_history, deployment_history, findings, model_card, risk_tier
from analytics.registry import get_model, get_version, status_text

# Okabe-Ito (as app/theme.py; analytics does not import app).
BLUE, ORANGE, VERMILLION, GREY = "#0072B2", "#E69F00", "#D55E00", "#999999"
STATUS_COLOUR = {PASS: BLUE, FAIL: VERMILLION}
CHROMIUM = "/usr/bin/chromium"

#: The style sheet of Vigil's self-contained documents (the dossier, the scheduled reports), print-friendly.
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1F2937;max-width:960px;margin:24px auto;
padding:0 16px;font-size:14px;line-height:1.45}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #E5E7EB;padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin-bottom:4px}table{border-collapse:collapse;width:100%;margin:8px 0;font-size:12px}
th,td{border:1px solid #E5E7EB;padding:4px 6px;text-align:left;vertical-align:top}th{background:#F3F4F6}
.pass{color:#0072B2;font-weight:600}.fail{color:#D55E00;font-weight:600}.not_evaluated{color:#6B7280}
.meta{color:#6B7280}.box{border:1px solid #E5E7EB;border-radius:6px;padding:8px 12px;margin:8px 0}
.broken{border-color:#D55E00}svg{max-width:100%}code{font-size:11px;word-break:break-all}
@media print{h2{page-break-after:avoid}.box,svg{page-break-inside:avoid}}
"""


def html_value(value: Any) -> str:
    """A value as escaped HTML text: "—" for missing, times as ``YYYY-MM-DD HH:MM UTC``, floats to 4 figures."""
    if value is None or (not isinstance(value, (list, dict, tuple)) and pd.isna(value) is True):
        return "—"
    if isinstance(value, (datetime, pd.Timestamp)):
        return f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, columns: list[str] | None = None, empty: str = "None recorded.") -> str:
    """``frame`` (its ``columns``) as an HTML table, or the ``empty`` sentence when it has no row."""
    if frame is None or frame.empty:
        return f"<p class='meta'>{html.escape(empty)}</p>"
    cols = columns or list(frame.columns)
    head = "".join(f"<th>{html.escape(c.replace('_', ' '))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html_value(row[c])}</td>" for c in cols) + "</tr>"
                   for _, row in frame.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def svg_chart(chart: dict[str, Any], width: int = 560, height: int = 260) -> str:
    """A small inline SVG line or bar chart of ``chart`` (keys as :class:`CheckResult`'s ``chart``)."""
    xs, ys = list(chart.get("x", [])), list(chart.get("y", []))
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None]
    left, right, top, bottom = 52, 16, 30, 44
    w, h = width - left - right, height - top - bottom
    title = html.escape(chart.get("title", ""))
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"aria-label='{title}'><text x='{left}' y='18' font-size='13' font-weight='600'>{title}</text>"]
    if not pairs:
        parts.append(f"<text x='{left}' y='{top + h / 2}' font-size='12'>no data</text></svg>")
        return "".join(parts)
    numeric_x = chart.get("kind") == "line" and all(isinstance(x, (int, float)) for x, _ in pairs)
    y_vals = [float(y) for _, y in pairs] + ([float(chart["threshold"])] if chart.get("threshold") is not None else [])
    y_min = 0.0 if chart.get("kind") == "bars" or numeric_x else min(y_vals) - 0.02
    y_max = max(1.0 if numeric_x else max(y_vals) * 1.05, y_min + 1e-9)

    def sy(v: float) -> float:
        return top + h - (v - y_min) / (y_max - y_min) * h

    def sx(i: int, x: Any) -> float:
        if numeric_x:
            return left + float(x) * w
        step = w / max(len(pairs), 1)
        return left + step * (i + 0.5)

    parts.append(f"<line x1='{left}' y1='{top + h}' x2='{left + w}' y2='{top + h}' stroke='#9CA3AF'/>"
                 f"<line x1='{left}' y1='{top}' x2='{left}' y2='{top + h}' stroke='#9CA3AF'/>")
    for frac in (0, 0.5, 1):
        v = y_min + frac * (y_max - y_min)
        parts.append(f"<text x='{left - 6}' y='{sy(v) + 4:.1f}' font-size='10' text-anchor='end'>{v:.2f}</text>")
    if chart.get("kind") == "bars":
        step = w / len(pairs)
        for i, (x, y) in enumerate(pairs):
            x0 = left + step * i + step * 0.2
            parts.append(f"<rect x='{x0:.1f}' y='{sy(float(y)):.1f}' width='{step * 0.6:.1f}' "
                         f"height='{top + h - sy(float(y)):.1f}' fill='{BLUE if i == 0 else GREY}'/>"
                         f"<text x='{x0 + step * 0.3:.1f}' y='{top + h + 14}' font-size='10' text-anchor='middle'>"
                         f"{html.escape(str(x))}</text><text x='{x0 + step * 0.3:.1f}' y='{sy(float(y)) - 4:.1f}' "
                         f"font-size='10' text-anchor='middle'>{float(y):.4f}</text>")
    else:
        points = " ".join(f"{sx(i, x):.1f},{sy(float(y)):.1f}" for i, (x, y) in enumerate(pairs))
        parts.append(f"<polyline points='{points}' fill='none' stroke='{BLUE}' stroke-width='2'/>")
        if numeric_x:
            parts.append(f"<line x1='{sx(0, 0):.1f}' y1='{sy(0):.1f}' x2='{sx(0, 1):.1f}' y2='{sy(1):.1f}' "
                         f"stroke='{GREY}' stroke-dasharray='4 3'/>")
            for frac in (0, 0.5, 1):
                parts.append(f"<text x='{sx(0, frac):.1f}' y='{top + h + 14}' font-size='10' "
                             f"text-anchor='middle'>{frac:.1f}</text>")
        else:
            for i, (x, _) in enumerate(pairs):
                if len(pairs) <= 8 or i % max(1, len(pairs) // 6) == 0:
                    parts.append(f"<text x='{sx(i, x):.1f}' y='{top + h + 14}' font-size='10' "
                                 f"text-anchor='middle'>{html.escape(str(x))}</text>")
    if chart.get("threshold") is not None:
        t = float(chart["threshold"])
        parts.append(f"<line x1='{left}' y1='{sy(t):.1f}' x2='{left + w}' y2='{sy(t):.1f}' stroke='{ORANGE}' "
                     f"stroke-dasharray='6 3'/><text x='{left + w}' y='{sy(t) - 4:.1f}' font-size='10' "
                     f"text-anchor='end' fill='{ORANGE}'>threshold {t:.2f}</text>")
    parts.append(f"<text x='{left + w / 2}' y='{height - 6}' font-size='11' text-anchor='middle'>"
                 f"{html.escape(chart.get('x_label', ''))}</text><text x='12' y='{top + h / 2}' font-size='11' "
                 f"text-anchor='middle' transform='rotate(-90 12 {top + h / 2})'>"
                 f"{html.escape(chart.get('y_label', ''))}</text></svg>")
    return "".join(parts)


def _check_html(result: CheckResult) -> str:
    value = ""
    if result.value is not None:
        value = f" — observed {result.metric} {result.value:.4g}"
        if result.threshold is not None:
            value += f"; required {result.comparison} {result.threshold:.4g}"
    out = [f"<div class='box'><h3>{html.escape(result.title)} <span class='{result.status}'>"
           f"{result.status.replace('_', ' ').upper()}</span></h3><p>{html.escape(result.detail)}{html.escape(value)}"
           f"</p><p class='meta'>check {html.escape(result.key)}; scope {html.escape(result.scope or '—')}; "
           f"rows {html_value(result.rows)}</p>"]
    if result.chart:
        out.append(svg_chart(result.chart))
    if result.table:
        out.append(html_table(pd.DataFrame(result.table)))
    out.append("</div>")
    return "".join(out)


def _card_html(card: dict[str, Any]) -> str:
    if not card:
        return "<p class='meta'>No model card has been written for this model.</p>"
    out = []
    for key in ("intended_use", "out_of_scope", "limitations", "evaluation", "ethical_considerations"):
        if card.get(key):
            out.append(f"<h3>{key.replace('_', ' ').capitalize()}</h3><p>{html.escape(str(card[key]))}</p>")
    if card.get("data"):
        out.append("<h3>Data</h3>" + html_table(pd.DataFrame(card["data"])))
    return "".join(out)


def dossier_html(con: duckdb.DuckDBPyConnection, model: str, version: str, *, audit_rows: int = 500) -> str:
    """The dossier of ``model:version`` as one self-contained HTML document (a string)."""
    info = get_model(con, model)
    row = get_version(con, model, version)
    pack = latest_pack(con, model, version)
    if pack is None:
        fresh = assemble(con, model, version)
        results, pack_note = fresh.results, (f"No evidence pack was stored for this version; assembled for this "
                                            f"dossier at {html_value(fresh.assembled_at)}.")
    else:
        results = pack["results"]
        pack_note = (f"Evidence pack #{pack['pack_id']} assembled at {html_value(pack['assembled_at'])} by "
                     f"{html.escape(pack['assembled_by'])}; sha256 <code>{pack['sha256']}</code> "
                     f"({'matches its content' if pack['hash_matches'] else 'DOES NOT MATCH its content'}).")
    chain = audit.verify(con)
    trail = audit.entries(con, object_id_prefix=f"{model}:{version}", limit=audit_rows)
    trail = trail[trail["object_id"] == f"{model}:{version}"]
    tier = risk_tier(con, model)
    generated = utc_now()
    failed = sum(r.status == FAIL for r in results)
    summary = pd.DataFrame([{"check": r.title, "scope": r.scope, "status": r.status, "metric": r.metric,
                             "value": r.value, "threshold": r.threshold} for r in results])
    row = {**row, "status": status_text(row["status"])}
    lineage = pd.DataFrame([{
        "field": k.replace("_", " "), "value": json.dumps(row[k], sort_keys=True) if isinstance(row[k], dict) else row[k]}
        for k in ("status", "owner", "created_at", "parent_version", "threshold", "training_fingerprint",
                  "hyperparameters", "validation_metrics", "artifact_sha256", "description")])
    chain_html = (f"<div class='box'><b>Intact</b>: {chain.rows:,} rows, every hash chained to the previous one; "
                  f"{chain.assurance}.</div>"
                  if chain.intact else
                  f"<div class='box broken'><b class='fail'>BROKEN</b>"
                  f"{'' if chain.first_bad_seq is None else f' at row {chain.first_bad_seq}'}: "
                  f"{html.escape(chain.problem or '')} ({chain.rows:,} rows).</div>")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Governance dossier: {html.escape(model)} {html.escape(version)}</title><style>{CSS}</style></head><body>",
        f"<h1>Governance dossier: {html.escape(model)} {html.escape(version)}</h1>",
        f"<p class='meta'>Generated by Vigil at {html_value(generated)}. Status: <b>{html.escape(row['status'])}</b>. "
        f"Risk tier: <b>{html_value(tier['risk_tier']) if tier else 'not set'}</b>. Model owner: {html.escape(info.owner)}. "
        f"Evidence: {len(results)} checks, {failed} failing. Audit chain: "
        f"{'intact' if chain.intact else 'BROKEN'}.</p>",
        f"<p>{html.escape(info.description)}</p>",
        f"<p class='meta'>Decisions: 0 = {html.escape(info.schema.decision_text(0))}, 1 = "
        f"{html.escape(info.schema.decision_text(1))}. Outcomes: 0 = {html.escape(info.schema.outcome_text(0))}, "
        f"1 = {html.escape(info.schema.outcome_text(1))}. The score is the probability of "
        f"'{html.escape(info.schema.positive_class)}'.</p>",
        "<h2>1. Registry entry and lineage</h2>", html_table(lineage),
        (f"<p>Risk tier <b>{html_value(tier['risk_tier'])}</b>: {html_value(tier['rationale'])} (set by {html_value(tier['updated_by'])}, "
         f"{html_value(tier['updated_at'])}).</p>" if tier else "<p class='meta'>No risk tier has been set.</p>"),
        "<h2>2. Model card</h2>", _card_html(model_card(con, model, version)),
        "<h2>3. Evidence pack</h2>", f"<p class='meta'>{pack_note}</p>",
        html_table(summary, empty="No evidence check is registered."),
        *[_check_html(r) for r in results],
        "<h2>4. Review findings</h2>",
        html_table(findings(con, model, version), ["recorded_at", "reviewer", "severity", "topic", "finding"]),
        "<h2>5. Approval history</h2>",
        html_table(_statuses_as_words(approval_history(con, model, version)),
               ["occurred_at", "actor", "role", "from_status", "to_status", "comment", "audit_seq"]),
        "<h2>6. Deployment history</h2>",
        html_table(deployment_history(con, model).query("version == @version"),
               ["role", "traffic_share", "started_at", "ended_at", "started_by", "ended_by"],
               empty="This version has never served traffic."),
        f"<h2>7. Audit trail extract ({len(trail)} rows for {html.escape(model)}:{html.escape(version)})</h2>",
        html_table(trail.sort_values("seq").assign(details=lambda t: t["details"].map(audit.details_text)),
               ["seq", "occurred_at", "actor", "role", "action", "details"]),
        "<h2>8. Audit chain status</h2>", chain_html,
        "<h2>9. Post-market monitoring plan</h2>", plan_section_html(con, model, version),
        "</body></html>",
    ]
    return "".join(parts)


def _statuses_as_words(history: pd.DataFrame) -> pd.DataFrame:
    """Lifecycle statuses of a history as words (``in review``)."""
    return history.assign(**{c: history[c].map(status_text, na_action="ignore")
                             for c in ("from_status", "to_status") if c in history})


def html_to_pdf(document: str, path: str | Path) -> Path:
    """Print an HTML document to PDF (A4) with headless Chromium through Playwright; return the path.

    Uses ``/usr/bin/chromium`` (or ``VIGIL_CHROMIUM``). Printing runs on a fresh thread: Playwright's
    sync API refuses a thread where an asyncio loop runs (Streamlit's or a test runner's), and a new
    thread has none.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-pdf") as pool:
        return pool.submit(_print_pdf, document, path).result()


def _print_pdf(document: str, path: str | Path) -> Path:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    executable = os.environ.get("VIGIL_CHROMIUM", CHROMIUM)
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=executable if Path(executable).exists() else None)
        except PlaywrightError as exc:
            raise InvalidInputError(f"no Chromium to print the PDF with ({exc.message.splitlines()[0]}); install "
                                    "Debian's chromium ('apt-get install chromium') or set VIGIL_CHROMIUM") from None
        try:
            page = browser.new_page()
            page.set_content(document, wait_until="load")
            page.pdf(path=str(target), format="A4", print_background=True,
                     margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"})
        finally:
            browser.close()
    return target
