"""Error analysis: where the model errs most, found by a shallow decision tree on its errors.

As the Responsible AI Toolbox's error analysis does, a decision tree (scikit-learn, depth 3 by
default) is fitted to predict *whether the model erred* from the inputs and segments, on a seeded
sample of the window's labelled predictions. Each leaf is a segment described by the conditions on
the way to it, with its size, errors and error rate; :meth:`ErrorAnalysis.predictions` lists the
predictions in a leaf (to open them in the lookup). For a role that may not see sensitive attributes
of single rows, the tree is grown without them (``sensitive_inputs=False``): no leaf is then defined
by a sensitive attribute, so listing a leaf's predictions ties no sensitive value to an identified row.
Targets: ``error`` (decision differs from the
label), ``false_negative`` (among actual positives, predicted negative) and ``false_positive``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analytics import settings
from analytics.errors import InvalidInputError, NotFoundError
from analytics.explain._kept import kept_columns, sample_note, window_sample
from analytics.explain._model import DbLike, default_version, version_info
from analytics.store import run
from analytics.window import Window

if TYPE_CHECKING:
    from sklearn.tree import DecisionTreeClassifier

TARGETS = {"error": "decision differs from the label",
           "false_negative": "actual positives predicted negative (missed)",
           "false_positive": "actual negatives predicted positive"}
TREE_DEPTH = settings.declare("explain.error_tree_depth", 3, "Depth of the error-analysis decision tree",
                              unit="levels", minimum=1, maximum=6)
ERROR_SAMPLE = settings.declare("explain.error_sample_rows", 20_000,
                                "Labelled predictions sampled (seeded) for error analysis", unit="rows",
                                minimum=500, maximum=200_000)
SEPARATOR = " = "


@dataclass(frozen=True)
class ErrorAnalysis:
    """The error tree's leaves and which sampled prediction fell in which leaf.

    Attributes
    ----------
    leaves : DataFrame
        ``leaf``, ``rule`` (conditions joined by " and ", on the log's column names), ``rule_text`` (the
        same conditions on the columns' titles in the model's spec, for people), ``rows``, ``errors``,
        ``error_rate``, ``share_of_rows``, ``share_of_errors``; sorted by error rate, highest first.
    assignments : DataFrame
        ``prediction_id``, ``leaf``, ``error`` (0/1) of every sampled row in scope.
    error_rate : float
        The sample's overall rate of the target.
    target : str
        One of :data:`TARGETS`.
    rows, labelled_rows : int
        Rows in scope of the target in the sample, and labelled rows sampled.
    left_out : tuple of str
        Sensitive attributes left out of the tree's inputs (``sensitive_inputs=False``); empty otherwise.
    version : str
        The version analysed.
    kept : bool, log_days : tuple of date
        Whether the sample was taken from the explanation sample the store keeps per day, and the UTC days
        of the window read from the log instead (as :class:`~analytics.explain.GlobalExplanation` says).
    """

    leaves: pd.DataFrame
    assignments: pd.DataFrame
    error_rate: float
    target: str
    rows: int
    labelled_rows: int
    depth: int
    seed: int
    left_out: tuple[str, ...] = ()
    version: str = ""
    kept: bool = False
    log_days: tuple[date, ...] = ()

    @property
    def summary_note(self) -> str:
        """Where the labelled sample came from: the kept sample, the log, or both."""
        return sample_note(self.kept, self.log_days)

    def predictions(self, leaf: int) -> list[str]:
        """Prediction ids of the sampled rows in ``leaf``."""
        if leaf not in set(self.leaves["leaf"]):
            raise InvalidInputError(f"leaf {leaf} is not a leaf of this tree; leaves: "
                                    f"{', '.join(map(str, self.leaves['leaf']))}")
        return self.assignments.loc[self.assignments["leaf"] == leaf, "prediction_id"].tolist()


def design_matrix(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric columns as floats (NaN kept) and one 0/1 column ``"<column> = <value>"`` per category."""
    parts = [frame[numeric].apply(pd.to_numeric, errors="coerce").astype(float)]
    for name in categorical:
        values = frame[name].astype("string").fillna("(missing)")
        for value in sorted(values.unique()):
            parts.append(pd.Series((values == value).astype(float).to_numpy(), index=frame.index,
                                   name=f"{name}{SEPARATOR}{value}"))
    return pd.concat(parts, axis=1)


def _rules(tree: DecisionTreeClassifier, columns: list[str], with_missing: set[str],
           name_of: Callable[[str], str] = str) -> dict[int, list[str]]:
    """Each leaf's conditions, columns named by ``name_of`` (a column name -> what to call it)."""
    t = tree.tree_
    missing_left = getattr(t, "missing_go_to_left", None)
    rules: dict[int, list[str]] = {}

    def walk(node: int, path: list[str]) -> None:
        if t.children_left[node] == -1:
            rules[node] = path
            return
        name, cut = columns[t.feature[node]], float(t.threshold[node])
        nan_left = bool(missing_left[node]) if missing_left is not None else False
        if SEPARATOR in name:
            column, value = name.split(SEPARATOR, 1)
            left, right = f"{name_of(column)} ≠ {value}", f"{name_of(column)} = {value}"
        else:
            left, right = f"{name_of(name)} ≤ {cut:g}", f"{name_of(name)} > {cut:g}"
            if name in with_missing:  # say where missing values go only where there are some
                left, right = (left + " or missing", right) if nan_left else (left, right + " or missing")
        walk(t.children_left[node], [*path, left])
        walk(t.children_right[node], [*path, right])

    walk(0, [])
    return rules


def error_analysis(db: DbLike, model: str, window: Window | None = None, *, target: str = "error",
                   depth: int | None = None, sample_rows: int | None = None, min_leaf: int | None = None, seed: int = 0,
                   sensitive_inputs: bool = True) -> ErrorAnalysis:
    """Fit the error tree on a seeded sample of the window's labelled predictions of one version.

    The sample is the window's first labelled predictions in the order of ``hash(prediction_id, seed)``.
    It is taken from the explanation sample the store keeps per day (summary ``explain``) joined with
    the outcomes, for the days that answer the window, and from the log's join for the others: the
    same rows as the join of the whole window with its outcomes, which it replaces.

    Parameters
    ----------
    window : Window, optional
        Its span and segment; its version (default: the champion).
    sensitive_inputs : bool, default True
        Whether the tree may split on the model's sensitive attributes. Pass
        ``actor.can("see_sensitive_rows")``: for a role that may not see them, the tree is grown
        without them (:attr:`ErrorAnalysis.left_out` names them), so no leaf whose predictions can be
        listed is defined by a sensitive value.

    Raises
    ------
    NotFoundError
        The window has no labelled prediction of the version (or none in scope of the target).
    """
    if target not in TARGETS:
        raise InvalidInputError(f"target {target!r} is unknown; use one of {', '.join(TARGETS)}")

    def work(con):  # one connection for the whole read
        info = version_info(con, model, default_version(con, model, window.version if window else None))
        n = sample_rows or settings.get(con, ERROR_SAMPLE.key, model=model)
        d = depth or settings.get(con, TREE_DEPTH.key, model=model)
        return info, d, window_sample(con, info, window, n, seed, columns=kept_columns(info.schema), labelled=True)

    info, depth, drawn = run(db, work)
    version = info.version
    sample = drawn.rows
    if sample.empty:
        raise NotFoundError(f"no labelled prediction of {model}:{version} in this window; outcomes arrive weeks "
                            "after the decision, so choose an older or longer window")
    labelled = len(sample)
    label, decision = sample["label"].to_numpy(int), sample["decision"].to_numpy(int)
    if target == "false_negative":
        scope, error = label == 1, decision == 0
    elif target == "false_positive":
        scope, error = label == 0, decision == 1
    else:
        scope, error = np.ones(len(sample), bool), decision != label
    sample, error = sample[scope].reset_index(drop=True), error[scope].astype(int)
    if sample.empty:
        raise NotFoundError(f"no labelled prediction in scope of {target} ({TARGETS[target]}) in this window")
    columns = [*info.schema.features, *info.schema.segments]
    left_out = () if sensitive_inputs else tuple(dict.fromkeys(c.name for c in columns if c.sensitive))
    columns = [c for c in columns if c.name not in left_out]
    numeric = [c.name for c in columns if c.dtype != "categorical"]
    categorical = [c.name for c in columns if c.dtype == "categorical"]
    x = design_matrix(sample, numeric, categorical)
    leaf_min = min_leaf or max(20, len(sample) // 100)
    from sklearn.tree import DecisionTreeClassifier  # here: importing sklearn costs ~0.7 s

    tree = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=leaf_min, random_state=seed)
    matrix = x.to_numpy()  # once: interleaving the frame's columns cost 20 ms at 20,000 rows
    tree.fit(matrix, error)
    leaf = tree.apply(matrix)
    with_missing = set(x.columns[x.isna().any()])
    rules = _rules(tree, list(x.columns), with_missing)
    rules_text = _rules(tree, list(x.columns), with_missing, info.schema.display_name)
    assignments = pd.DataFrame({"prediction_id": sample["prediction_id"].to_numpy(), "leaf": leaf, "error": error})
    grouped = assignments.groupby("leaf")["error"].agg(rows="size", errors="sum").reset_index()
    grouped["error_rate"] = grouped["errors"] / grouped["rows"]
    grouped["share_of_rows"] = grouped["rows"] / len(assignments)
    total_errors = int(error.sum())
    grouped["share_of_errors"] = grouped["errors"] / total_errors if total_errors else 0.0
    grouped["rule"] = [" and ".join(rules[int(n)]) or "all rows" for n in grouped["leaf"]]
    grouped["rule_text"] = [" and ".join(rules_text[int(n)]) or "all rows" for n in grouped["leaf"]]
    grouped = grouped.sort_values(["error_rate", "rows"], ascending=[False, False]).reset_index(drop=True)
    return ErrorAnalysis(grouped[["leaf", "rule", "rule_text", "rows", "errors", "error_rate", "share_of_rows", "share_of_errors"]],
                         assignments, float(error.mean()), target, len(sample), labelled, int(depth), seed,
                         left_out, version, drawn.kept, drawn.log_days)
