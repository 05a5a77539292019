"""Counterfactuals: the smallest changes to one applicant's inputs that flip the model's decision.

Constraints come from the model's declared schema and its reference data:

- ``Column.mutability``: ``immutable`` inputs never change; ``increase_only`` inputs only rise
  (categories by the order in ``schema.notes['<column>_order']``, e.g. ``education_order``);
- bounds: a changed numeric input stays within the reference data's [min, max]; a changed
  category is one seen in the reference data; integer inputs stay integers.

Distance is the L1 distance with each numeric change divided by the input's median absolute
deviation in the reference data (Wachter et al. 2017; DiCE's default), and 1 per changed category.

Search: a beam search (width 4) over a grid of candidate values (41 reference percentiles from the
1st to the 99th, so that answers stay plausible), within the constraints. Each step scores every
single change of every beam state in one batch; it stops at the flipping row of least distance,
else keeps the states that moved the raw output most towards the threshold. Then each changed
input is moved back as close to its original value as still flips, or reverted.
Diverse answers: each further search is barred from the input each earlier answer changed most.
Every answer is re-scored by the model on its full input row (``valid`` = the decision really flips).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError
from analytics.explain._model import LoadedModel
from analytics.explain._shap import LocalExplanation, explain_row
from analytics.logschema import LogSchema

ANSWERS = settings.declare("explain.counterfactual_answers", 3, "Diverse counterfactuals searched per prediction",
                           unit="answers", minimum=1, maximum=10)
MAX_CHANGES = settings.declare("explain.counterfactual_max_changes", 5,
                               "Most inputs a counterfactual may change", unit="inputs", minimum=1, maximum=20)
GRID = 41  # candidate values per numeric input: 41 reference percentiles from the 1st to the 99th


@dataclass(frozen=True)
class FeatureSpace:
    """Where one input may move: its kind, mutability, bounds, scale and candidate values."""

    name: str
    kind: str  # "double", "integer" or "categorical"
    mutability: str
    low: float | None
    high: float | None
    scale: float
    candidates: tuple
    order: tuple | None = None  # increase_only categories, lowest first

    def allowed(self, current: Any) -> list:
        """Candidate values this input may take from ``current`` (``current`` itself excluded)."""
        if self.mutability == "immutable":
            return []
        if self.kind == "categorical":
            values = [c for c in self.candidates if c != current]
            if self.mutability == "increase_only":
                if self.order is None or current not in self.order:
                    return []
                rank = self.order.index(current)
                values = [c for c in values if c in self.order and self.order.index(c) > rank]
            return values
        values = [v for v in self.candidates if v != current]
        if self.mutability == "increase_only":
            values = [v for v in values if current is None or pd.isna(current) or v > current]
        return values

    def distance(self, before: Any, after: Any) -> float:
        """This input's share of the distance between two values."""
        if self.kind == "categorical":
            return 0.0 if before == after else 1.0
        if pd.isna(before) and pd.isna(after):
            return 0.0
        if pd.isna(before) or pd.isna(after):
            return 1.0
        return abs(float(after) - float(before)) / self.scale


def _order(schema: LogSchema, name: str) -> tuple | None:
    order = schema.notes.get(f"{name.lower()}_order") or schema.notes.get(f"{name}_order")
    return tuple(order) if order else None


def feature_space(model: LoadedModel, reference: pd.DataFrame) -> dict[str, FeatureSpace]:
    """The constraints and candidate grid of every input, from the schema and the reference data."""
    if reference.empty:
        raise InvalidInputError(f"{model.info.model}:{model.info.version} has no reference data, so the bounds of "
                                "counterfactuals are unknown")
    space = {}
    for name in model.features:
        column = model.info.schema.column(name)
        values = reference[name].dropna()
        if column.dtype == "categorical":
            order = _order(model.info.schema, name)
            seen = sorted(values.astype(str).unique())
            if column.mutability == "increase_only" and order is None:
                raise InvalidInputError(f"{name} may only increase, but the schema gives no order of its categories "
                                        f"(notes['{name.lower()}_order'])")
            space[name] = FeatureSpace(name, "categorical", column.mutability, None, None, 1.0, tuple(seen), order)
            continue
        numbers = pd.to_numeric(values).to_numpy(float)
        grid = np.unique(np.quantile(numbers, np.linspace(0.01, 0.99, GRID)))
        if column.dtype == "integer":
            grid = np.unique(np.round(grid))
        median = float(np.median(numbers))
        mad = float(np.median(np.abs(numbers - median)))
        scale = mad if mad > 0 else float(np.std(numbers)) or 1.0
        cast = int if column.dtype == "integer" else float
        space[name] = FeatureSpace(name, column.dtype, column.mutability, float(numbers.min()), float(numbers.max()),
                                   scale, tuple(cast(v) for v in grid))
    return space


def violations(space: dict[str, FeatureSpace], original: pd.Series, changed: pd.Series) -> list[str]:
    """Every constraint the changed row breaks (empty when it respects them all)."""
    problems = []
    for name, feature in space.items():
        before, after = original[name], changed[name]
        if (pd.isna(before) and pd.isna(after)) or before == after:
            continue
        if feature.mutability == "immutable":
            problems.append(f"{name} is immutable but changed from {before} to {after}")
            continue
        if feature.kind == "categorical":
            if after not in feature.candidates:
                problems.append(f"{name} = {after} is not a category seen in the reference data")
            if feature.mutability == "increase_only" and (
                    feature.order is None or before not in feature.order or after not in feature.order
                    or feature.order.index(after) < feature.order.index(before)):
                problems.append(f"{name} may only increase but went from {before} to {after}")
            continue
        value = float(after)
        if feature.mutability == "increase_only" and not pd.isna(before) and value < float(before):
            problems.append(f"{name} may only increase but went from {before} to {after}")
        if not feature.low <= value <= feature.high:
            problems.append(f"{name} = {after} is outside the reference range [{feature.low}, {feature.high}]")
        if feature.kind == "integer" and value != round(value):
            problems.append(f"{name} = {after} is not an integer")
    return problems


def distance(space: dict[str, FeatureSpace], original: pd.Series, changed: pd.Series) -> float:
    """MAD-normalised L1 distance between two rows (1 per changed category)."""
    return float(sum(f.distance(original[n], changed[n]) for n, f in space.items()))


@dataclass(frozen=True)
class CounterfactualSet:
    """The counterfactuals of one prediction.

    Attributes
    ----------
    answers : DataFrame
        One row per answer: ``answer``, ``changed`` (number of inputs changed), ``distance``,
        ``score`` and ``decision`` re-scored by the model, ``valid`` (the decision flips),
        ``violations`` (constraints broken; always 0 for answers of the search).
    changes : DataFrame
        ``answer``, ``feature``, ``before``, ``after``: what each answer changes.
    rows : DataFrame
        The full input row of each answer (index = answer number).
    original_score, threshold : float
    original_decision : int
    """

    answers: pd.DataFrame
    changes: pd.DataFrame
    rows: pd.DataFrame
    original_score: float
    original_decision: int
    threshold: float

    @property
    def validity(self) -> float:
        """Share of answers that really flip the decision (NaN when there is none)."""
        return float(self.answers["valid"].mean()) if len(self.answers) else float("nan")


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return float(np.log(p / (1 - p)))


class _Encoder:
    """Rows of logged values as object matrices (one column per model input), scored by the model.

    The search edits matrix cells and scores whole matrices at once, through the model's own input
    frame, so it works the same for every artifact format.
    """

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        self.features = model.features
        self.categorical = {f for f in self.features if model.info.schema.column(f).dtype == "categorical"}

    def value(self, feature: str, value: Any) -> Any:
        if pd.isna(value):
            return None
        return str(value) if feature in self.categorical else float(value)

    def row(self, row: pd.Series) -> np.ndarray:
        return np.array([self.value(f, row[f]) for f in self.features], dtype=object)

    def raw(self, matrix: np.ndarray) -> np.ndarray:
        """The model's log-odds of each row of an object matrix."""
        return self.model.raw(pd.DataFrame(matrix, columns=self.features))


def _search(model: LoadedModel, space: dict[str, FeatureSpace], encoder: _Encoder, x0: pd.Series, want: int,
            banned: set[str], max_changes: int, width: int = 4) -> pd.Series | None:
    """Beam search over single changes; returns the flipping row of least distance found first."""
    cut = _logit(model.info.threshold)
    sign = 1.0 if want == 0 else -1.0  # progress = sign * (current raw - candidate raw) > 0
    features = encoder.features
    base = encoder.row(x0)
    moves = []  # (feature index, logged value, encoded value, distance from x0)
    for j, name in enumerate(features):
        if name in banned:
            continue
        for value in space[name].allowed(x0[name]):
            moves.append((j, value, encoder.value(name, value), space[name].distance(x0[name], value)))
    if not moves:
        return None
    col = np.array([m[0] for m in moves])
    enc = np.array([m[2] for m in moves], dtype=object)
    dst = np.array([m[3] for m in moves])
    d0 = np.zeros(len(features))
    beam = [(base.copy(), d0.copy(), {})]  # encoded row, per-feature distance, {feature index: move index}
    current_raw = encoder.raw(base[None, :])[0]
    best_raw = current_raw
    for _ in range(max_changes):
        rows, dist, origin = [], [], []
        for b, (vec, dvec, chosen) in enumerate(beam):
            keep = np.array([m not in chosen.values() and vec[col[m]] != enc[m] for m in range(len(moves))])
            idx = np.flatnonzero(keep)
            mat = np.repeat(vec[None, :], idx.size, axis=0)
            mat[np.arange(idx.size), col[idx]] = enc[idx]
            rows.append(mat)
            dist.append(dvec.sum() - dvec[col[idx]] + dst[idx])
            origin += [(b, m) for m in idx]
        mat, dist = np.vstack(rows), np.concatenate(dist)
        raw = encoder.raw(mat)
        ok = raw < cut if want == 0 else raw >= cut
        if ok.any():
            pick = int(np.flatnonzero(ok)[np.argmin(dist[ok])])
            b, m = origin[pick]
            chosen = {**beam[b][2], col[m]: m}
            result = x0.copy()
            for j, mi in chosen.items():
                result[features[j]] = moves[mi][1]
            return result
        order = np.lexsort((dist, sign * raw))  # most progress first, then least distance
        new_beam, seen = [], set()
        for i in order:
            b, m = origin[i]
            chosen = {**beam[b][2], col[m]: m}
            key = tuple(sorted(chosen.items()))
            if key in seen:
                continue
            seen.add(key)
            vec, dvec = beam[b][0].copy(), beam[b][1].copy()
            vec[col[m]], dvec[col[m]] = enc[m], dst[m]
            new_beam.append((vec, dvec, chosen))
            if len(new_beam) >= width:
                break
        if sign * raw[order[0]] >= sign * best_raw - 1e-12:
            return None  # no change moves the output towards the threshold any more
        best_raw = raw[order[0]]
        beam = new_beam
    return None


def _prune(model: LoadedModel, space: dict[str, FeatureSpace], encoder: _Encoder, x0: pd.Series, cf: pd.Series,
           want: int) -> pd.Series:
    """Move each changed input back towards its original value as far as the decision stays flipped."""
    cut = _logit(model.info.threshold)
    cf = cf.copy()
    changed = [n for n in space if space[n].distance(x0[n], cf[n]) > 0]
    for name in sorted(changed, key=lambda n: -space[n].distance(x0[n], cf[n])):
        here = space[name].distance(x0[name], cf[name])
        options = sorted([x0[name], *space[name].allowed(x0[name])], key=lambda v: space[name].distance(x0[name], v))
        options = [v for v in options if space[name].distance(x0[name], v) < here]
        if not options:
            continue
        j = encoder.features.index(name)
        mat = np.repeat(encoder.row(cf)[None, :], len(options), axis=0)
        mat[:, j] = [encoder.value(name, v) for v in options]
        raw = encoder.raw(mat)
        ok = np.flatnonzero(raw < cut if want == 0 else raw >= cut)
        if ok.size:
            cf[name] = options[int(ok[0])]
    return cf


def counterfactuals(model: LoadedModel, row: pd.Series | pd.DataFrame, space: dict[str, FeatureSpace], *,
                    answers: int = ANSWERS.default, max_changes: int = MAX_CHANGES.default) -> CounterfactualSet:
    """Search up to ``answers`` diverse counterfactuals of one logged (or edited) row."""
    x0 = (row.iloc[0] if isinstance(row, pd.DataFrame) else row)[model.features].copy()
    for name, feature in space.items():
        if feature.kind == "categorical" and not pd.isna(x0[name]):
            x0[name] = str(x0[name])
    score0 = float(model.score(x0.to_frame().T)[0])
    decision0 = int(model.decide(score0))
    want = 1 - decision0
    found: list[pd.Series] = []
    banned: set[str] = set()
    encoder = _Encoder(model)
    for _ in range(2 * answers):
        if len(found) >= answers:
            break
        cf = _search(model, space, encoder, x0, want, banned, max_changes)
        if cf is None:
            break
        cf = _prune(model, space, encoder, x0, cf, want)
        changed = [n for n in space if space[n].distance(x0[n], cf[n]) > 0]
        if not changed:
            break
        if not any(all(space[n].distance(cf[n], f[n]) == 0 for n in space) for f in found):
            found.append(cf)
        banned.add(max(changed, key=lambda n: space[n].distance(x0[n], cf[n])))
    found.sort(key=lambda f: distance(space, x0, f))
    rows = pd.DataFrame(found, columns=model.features).reset_index(drop=True)
    rows.index = rows.index + 1
    if found:
        scores = model.score(rows)  # validity: re-score each full row with the model
        decisions = model.decide(scores)
    else:
        scores, decisions = np.array([]), np.array([], dtype=np.int8)
    table, changes = [], []
    for answer, (_, cf) in enumerate(rows.iterrows(), start=1):
        changed = [n for n in space if space[n].distance(x0[n], cf[n]) > 0]
        table.append({"answer": answer, "changed": len(changed), "distance": distance(space, x0, cf),
                      "score": float(scores[answer - 1]), "decision": int(decisions[answer - 1]),
                      "valid": bool(decisions[answer - 1] != decision0),
                      "violations": len(violations(space, x0, cf))})
        changes += [{"answer": answer, "feature": n, "before": x0[n], "after": cf[n]} for n in changed]
    return CounterfactualSet(
        pd.DataFrame(table, columns=["answer", "changed", "distance", "score", "decision", "valid", "violations"]),
        pd.DataFrame(changes, columns=["answer", "feature", "before", "after"]),
        rows, score0, decision0, model.info.threshold)


@dataclass(frozen=True)
class EditedRowWhatIf:
    """An edited row scored by the model: its score, decision, explanation and constraint notes."""

    score: float
    decision: int
    explanation: LocalExplanation
    violations: tuple[str, ...]


def what_if(model: LoadedModel, row: pd.Series | pd.DataFrame, changes: dict[str, Any],
            space: dict[str, FeatureSpace] | None = None) -> EditedRowWhatIf:
    """Score ``row`` with ``changes`` applied; list the constraints they break (informational)."""
    original = (row.iloc[0] if isinstance(row, pd.DataFrame) else row).copy()
    unknown = [k for k in changes if k not in model.features]
    if unknown:
        raise InvalidInputError(f"not inputs of the model: {', '.join(unknown)}")
    edited = original.copy()
    for name, value in changes.items():
        edited[name] = value
    explanation = explain_row(model, edited.to_frame().T)
    notes = tuple(violations(space, original, edited)) if space else ()
    return EditedRowWhatIf(explanation.score, int(model.decide(explanation.score)), explanation, notes)
