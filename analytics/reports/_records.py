"""The records of one model over a window, exported for a competent authority.

Under the AI Act a provider gives a competent authority, on a reasoned request, access to the automatically
generated logs of a high-risk system (Regulation (EU) 2024/1689, Art. 21(2)). The export holds,
for every prediction of ``[start, end)``: its id, time and model version, the inputs as logged (every
declared column, sensitive attributes included: hence reviewers, approvers and admins only), the output
(score and decision), serving latency and cost, and its outcome when one arrived. Formats:

``records.parquet``
    Apache Parquet (zstd), the logged types kept (times as UTC timestamps without zone).
``records.csv``
    The same rows as UTF-8 CSV with a header; times as ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC; empty fields are
    missing values.
``audit.csv``
    The audit-trail rows on the model and its versions in the window (the columns of ``vigil audit export``,
    with each row's hash chain).
``manifest.json``
    Model, window, who exported when, code version, each column's type and meaning, the row count and
    the sha256 of each file. Its own sha256 is recorded in the audit trail with the export.

Human overrides of single decisions: exported where the model's log declares the column
``human_decision`` (the decision a reviewer made; empty where nobody reviewed the row); otherwise the
store holds none, and the manifest says so rather than leaving the question open.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analytics import audit, store
from analytics.clock import utc_now
from analytics.errors import InvalidInputError
from analytics.logschema import OPTIONAL_PREDICTION_COLUMNS, OVERRIDE_COLUMN, PREDICTION_COLUMNS, quote
from analytics.registry import get_model
from analytics.reports._render import code_version, sha256_file
from analytics.roles import Actor, require

OVERRIDES_NOTE = ("not recorded: Vigil's store holds the decision the serving system logged; human overrides of "
                  "single decisions are not captured, so none can be exported")
OVERRIDES_LOGGED = (f"in the column {OVERRIDE_COLUMN}: the decision a human reviewer made on the row (empty where "
                    "nobody reviewed it); it overrode the model where it differs from decision")
_MEANINGS = {
    "prediction_id": "the serving system's id of the prediction", "predicted_at": "when it was made (UTC)",
    "model_version": "the model version that made it", "deployment_role": "champion, challenger, shadow or canary",
    "score": "the model's output: probability of the positive class", "decision": "the decision logged (0 or 1)",
    "latency_ms": "serving latency, milliseconds", "cost": "cost of the prediction, USD",
    "request_id": "the serving request (pairs a shadow's row with the champion's)",
    "outcome_observed_at": "when the outcome was observed (UTC); empty: no outcome yet",
    "outcome_label": "the observed outcome (0 or 1)", "outcome_business_value": "the outcome's business value",
}


@dataclass(frozen=True)
class RecordsExport:
    """What :func:`export_records` wrote: the folder, its files, row count and the manifest's sha256."""

    folder: Path
    files: tuple[Path, ...]
    rows: int
    manifest_sha256: str
    audit_seq: int


def export_records(db: Path, actor: Actor, model: str, *, start: datetime, end: datetime, out: Path) -> RecordsExport:
    """Write the records of ``model`` over ``[start, end)`` (naive UTC) into the new or empty folder ``out``.

    Raises
    ------
    PermissionDeniedError
        When ``actor`` may not see single rows' sensitive attributes.
    InvalidInputError
        An empty window, or an ``out`` folder that holds files.
    """
    require(actor, "see_sensitive_rows")
    if not start < end:
        raise InvalidInputError(f"the window is empty: start {start:%Y-%m-%d %H:%M} is not before end "
                                f"{end:%Y-%m-%d %H:%M}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} is not an empty folder; name a new or empty folder so no file is overwritten")

    def read(con):
        info = get_model(con, model)
        inputs = [c.name for c in info.schema.columns]
        fixed = [*PREDICTION_COLUMNS, *OPTIONAL_PREDICTION_COLUMNS]
        table = con.execute(
            f"SELECT {', '.join('p.' + quote(c) for c in [*fixed, *inputs])}, o.observed_at AS outcome_observed_at, "
            "o.label AS outcome_label, o.business_value AS outcome_business_value "
            f"FROM {store.predictions_view(info.stem)} p LEFT JOIN (SELECT prediction_id, max(observed_at) AS observed_at, "
            "arg_max(label, observed_at) AS label, arg_max(business_value, observed_at) AS business_value "
            f"FROM {store.outcomes_view(info.stem)} GROUP BY prediction_id) o USING (prediction_id) "
            "WHERE p.predicted_at >= ? AND p.predicted_at < ? ORDER BY p.predicted_at, p.prediction_id",
            [start, end]).to_arrow_table()
        trail = audit.search(con, object_id=model, since=start, until=end)
        trail = trail[trail["object_id"].str.split(":").str[0] == model]
        columns = [{"name": c.name, "type": c.sql_type, "meaning": c.description or c.role,
                    "sensitive": c.sensitive} for c in info.schema.columns]
        return table, trail, columns

    table, trail, input_columns = store.read(read, db)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "records.parquet", out / "records.csv", out / "audit.csv"]
    pq.write_table(table, files[0], compression="zstd")
    pacsv.write_csv(table, files[1])
    files[2].write_text(audit.export(trail.sort_values("seq"), "csv"), encoding="utf-8")
    described = {c["name"] for c in input_columns}
    manifest = {
        "model": model, "window": {"start": start.isoformat(), "end": end.isoformat(), "end_excluded": True,
                                   "timezone": "UTC"},
        "exported_at": utc_now().isoformat() + "Z", "exported_by": actor.username,
        "code_version": code_version(), "rows": table.num_rows, "audit_rows": len(trail),
        "columns": [{"name": f.name, "type": str(f.type), "meaning": _MEANINGS.get(f.name, "")}
                    for f in table.schema if f.name not in described] + input_columns,
        "human_overrides": OVERRIDES_LOGGED if OVERRIDE_COLUMN in described else OVERRIDES_NOTE,
        "files": [{"name": f.name, "sha256": sha256_file(f), "bytes": f.stat().st_size} for f in files],
        "formats": {"records.parquet": "Apache Parquet, zstd", "records.csv": "CSV, UTF-8, header row, times YYYY-MM-DD HH:MM:SS.ffffff UTC, empty = missing",
                    "audit.csv": "CSV of audit rows with their hash chain (vigil audit export --format csv)"},
    }
    manifest_path = out / "manifest.json"
    manifest_path.write_bytes(json.dumps(manifest, indent=2, sort_keys=True, default=str).encode() + b"\n")
    digest = sha256_file(manifest_path)
    seq = store.write(lambda con: audit.record(con, actor, "records.export", "model", model, {
        "start": start, "end": end, "rows": table.num_rows, "manifest_sha256": digest, "folder": str(out.resolve())}), db)
    return RecordsExport(out, (*files, manifest_path), table.num_rows, digest, seq)
