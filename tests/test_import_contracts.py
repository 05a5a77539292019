"""The house's import rules: the import-linter contracts of pyproject.toml, and the listed function-level imports.

- ``lint-imports`` keeps ``pages -> app -> analytics``, analytics without streamlit, private modules
  (``_name``) imported only inside their own package, and no circle among the subpackages and modules
  of analytics. Its graph counts imports inside functions too, so a function-level import cannot hide a
  circle: with the contract kept, no such import dodges one.
- A package's ``__init__.py`` only imports and declares its API (the logic lives in its modules), and no
  two packages export a class of the same name; an exported dataclass is frozen unless it holds state on
  purpose (:data:`NOT_RESULTS`).
- An import inside a function is kept only where it spares a start-up cost (a heavy or optional
  library, a package that loads every feature); each is listed below with its reason, and an unlisted
  one fails here. List and count them: ``python tests/test_import_contracts.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class FunctionImport:
    """One ``import`` or ``from ... import`` statement inside a function body."""

    path: str  # relative to the repository, with forward slashes
    line: int
    module: str  # the module imported (``from analytics import store``: ``analytics``)


_IMPORT = re.compile(r"^(?P<indent>[ \t]+)(?:from\s+(?P<package>[\w.]+)\s+import\s+(?P<names>.+)|import\s+(?P<modules>.+))$")
_HEADER = re.compile(r"^\s*(?:async\s+)?def\s")


def function_imports(root: Path, folders: tuple[str, ...]) -> list[FunctionImport]:
    """Every import statement inside a function (at any depth) of the ``.py`` files under ``folders``.

    Read line by line (parsing every file costs seconds): an indented import is inside a function when one of
    the lines that open its enclosing blocks is a ``def``. ``from analytics import store`` counts as
    importing ``analytics.store`` (a module of the project).
    """
    found: list[FunctionImport] = []

    def submodule(package: str, name: str) -> str:
        base = root.joinpath(*package.split("."), name)
        return f"{package}.{name}" if base.is_dir() or base.with_suffix(".py").is_file() else package

    def in_function(lines: list[str], index: int, indent: int) -> bool:
        for line in reversed(lines[:index]):
            stripped = line.lstrip()
            if not stripped or stripped.startswith("#") or len(line) - len(stripped) >= indent:
                continue
            if _HEADER.match(line):
                return True
            indent = len(line) - len(stripped)
            if indent == 0:
                return False
        return False

    for folder in folders:
        for file in sorted((root / folder).rglob("*.py")):
            path, lines = file.relative_to(root).as_posix(), file.read_text(encoding="utf-8").splitlines()
            for index, line in enumerate(lines):
                match = _IMPORT.match(line)
                if not match or not in_function(lines, index, len(match["indent"].expandtabs())):
                    continue
                if match["modules"]:
                    modules = [part.split(" as ")[0].strip() for part in match["modules"].split(",")]
                else:
                    names = match["names"]
                    if names.startswith("("):  # continued on the next lines up to ")"
                        rest = iter(lines[index + 1:])
                        while ")" not in names:
                            names += " " + next(rest)
                    names = names.split("#")[0].strip("() ").replace(")", "")
                    modules = list(dict.fromkeys(submodule(match["package"], part.split(" as ")[0].strip())
                                                 for part in names.split(",") if part.strip()))
                found.extend(FunctionImport(path, index + 1, module) for module in modules)
    return found


#: Libraries imported where they are used: each costs the CLI or a page's first load a noticeable time, or
#: is an optional extra.
HEAVY_LIBRARIES = {
    "scipy": "scipy.stats costs the CLI about a second; only a p-value needs it",
    "sklearn": "scikit-learn: about a second; only training, calibration and the domain classifier need it",
    "shap": "SHAP: several seconds; only explanations need it",
    "lightgbm": "LightGBM: only training and loading its artifacts",
    "xgboost": "optional artifact format",
    "onnx": "optional extra (onnx)",
    "onnxruntime": "optional extra (onnx)",
    "skops": "optional artifact format",
    "playwright": "the PDF printer, only when a dossier is printed",
    "tomli_w": "only `vigil models show` writes TOML",
    "pyspark": "optional extra (spark), loaded when `vigil summarise --engine spark` starts Spark",
    "threadpoolctl": "scikit-learn's thread limiter, used only around the multivariate drift's classifier",
    "streamlit": "only the app's own helpers that run inside Streamlit",
    "pandas": "a quarter of a second of every command's start; `vigil drift` on two files needs none (the "
              "drift's frames, the settings' and audit's tables, reading a whole file are made where asked for)",
    "pyarrow": "pyarrow.compute: a tenth of a second of `vigil drift`'s start; only writing a log segment needs it",
}

#: Project modules imported inside a function: (file, module) -> why.
LAZY_PROJECT_IMPORTS = {
    ("analytics/cli_core.py", "analytics.demo"): "the demo package loads LightGBM and the public data sets",
    ("analytics/cli_core.py", "analytics.refresh"): "refresh loads every feature (5 s); only an ingest needs it",
    ("analytics/modelspec/cli.py", "analytics.modelspec._versions"): "loads the artifact formats and performance",
    ("analytics/drift/cli.py", "analytics.drift._calculator"): "`vigil drift` (and every other command, whose parser "
                                                             "imports this module) starts without the store's readers",
    ("analytics/drift/cli.py", "analytics.drift._files"): "as above: the file gate's reader, loaded when it runs",
    ("analytics/drift/_multivariate.py", "analytics.business"): "the file gate imports the drift package without "
                                                                "pandas, which the serving summary's reader loads",
    ("analytics/scaleout/cli.py", "analytics.scaleout"): "Ibis and the engines load only for `vigil summarise` "
                                                         "(every command's parser imports this module)",
    ("analytics/artifacts/_load.py", "analytics.artifacts._xgboost"): "optional format: imports xgboost",
    ("analytics/artifacts/_load.py", "analytics.artifacts._skops"): "optional format: imports skops",
    ("analytics/artifacts/_load.py", "analytics.artifacts._onnx"): "optional extra: imports onnxruntime",
    ("analytics/governance/_evidence.py", "analytics.performance"): "the evidence checks load performance, drift "
                                                                   "and fairness only when a pack is assembled",
    ("analytics/governance/_evidence.py", "analytics.drift"): "as above",
    ("analytics/governance/_evidence.py", "analytics.fairness"): "as above",
    ("app/queries.py", "analytics.governance"): "the dossier's PDF printer, loaded only when a dossier is printed",
}

def test_import_linter_contracts_are_kept():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                               "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_every_function_level_import_is_listed_with_its_reason():
    unlisted = []
    for found in function_imports(ROOT, ("analytics", "app", "pages")):
        top = found.module.split(".")[0]
        if top in ("analytics", "app", "pages"):
            if (found.path, found.module) in LAZY_PROJECT_IMPORTS:
                continue
        elif top in HEAVY_LIBRARIES or top in sys.stdlib_module_names:
            continue
        unlisted.append(f"{found.path}:{found.line} imports {found.module} inside a function")
    assert not unlisted, ("import it at the top of the module, or list it in tests/test_import_contracts.py with the "
                          "start-up cost it spares:\n" + "\n".join(unlisted))


def test_package_init_files_only_import_and_declare():
    """A package's ``__init__.py`` imports its documented API and declares ``__all__``: no function, no class."""
    with_logic = []
    for init in sorted((ROOT / "analytics").rglob("__init__.py")):
        for line in init.read_text(encoding="utf-8").splitlines():
            if re.match(r"(?:async\s+)?def\s|class\s", line):
                with_logic.append(f"{init.relative_to(ROOT).as_posix()}: {line.strip()}")
    assert not with_logic, "move it into a module of the package:\n" + "\n".join(with_logic)


def test_public_classes_have_one_name_across_packages():
    """No two packages export a class of the same name (there were three ``WhatIf``): a name says which result."""
    owners: dict[str, list[str]] = {}
    for init in sorted((ROOT / "analytics").rglob("__init__.py")):
        declared = re.search(r"__all__\s*=\s*\[(.*?)\]", init.read_text(encoding="utf-8"), re.S)
        for name in re.findall(r"[\"']([A-Z][a-z]\w*)[\"']", declared.group(1) if declared else ""):
            owners.setdefault(name, []).append(init.parent.relative_to(ROOT).as_posix())
    shared = {name: packages for name, packages in owners.items() if len(packages) > 1}
    assert not shared, f"give each its own name: {shared}"


#: Exported dataclasses that are not results: they hold state on purpose.
NOT_RESULTS = {"SeriesCache": "the alert monitor's cache of metric series, filled as rules ask for them"}


def _exported_classes() -> set[str]:
    names: set[str] = set()
    for init in (ROOT / "analytics").rglob("__init__.py"):
        declared = re.search(r"__all__\s*=\s*\[(.*?)\]", init.read_text(encoding="utf-8"), re.S)
        names |= set(re.findall(r"[\"']([A-Z][a-z]\w*)[\"']", declared.group(1) if declared else ""))
    return names


def test_exported_results_are_frozen_dataclasses():
    """A result handed across packages cannot be changed by whoever receives it."""
    exported, mutable = _exported_classes(), []
    for file in sorted((ROOT / "analytics").rglob("*.py")):
        for match in re.finditer(r"^@dataclass(\([^)]*\))?\s*\nclass (\w+)", file.read_text(encoding="utf-8"), re.M):
            name = match.group(2)
            if name in exported and name not in NOT_RESULTS and "frozen=True" not in (match.group(1) or ""):
                mutable.append(f"{file.relative_to(ROOT).as_posix()}: {name}")
    assert not mutable, "make it @dataclass(frozen=True), or build it at the end:\n" + "\n".join(mutable)



def test_no_test_module_imports_from_conftest():
    """Under xdist another folder's ``conftest.py`` (tests/e2e) can be the module named ``conftest``: tests
    reach shared helpers through fixtures or a helper module (tests/shared_build.py, tests/app/app_support.py)."""
    offenders = [f"{file.relative_to(ROOT).as_posix()}:{number}"
                 for file in sorted((ROOT / "tests").rglob("*.py")) if file.name != "conftest.py"
                 for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1)
                 if re.match(r"\s*(from conftest import|import conftest\b)", line)]
    assert not offenders, offenders



def test_the_project_points_at_nothing_outside_its_own_tree():
    """A clone stands on its own: no document, code or setting refers to a folder beside the checkout."""
    outside = "../" + "shared"
    places = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "Makefile"]
    places += [p for folder in ("docs", "analytics", "app", "pages", "scripts", ".streamlit", "examples")
               for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in (".md", ".py", ".toml", ".sh", "")]
    found = [p.relative_to(ROOT).as_posix() for p in places
             if p.is_file() and outside in p.read_text(encoding="utf-8", errors="ignore")]
    assert not found, found


if __name__ == "__main__":
    listed = function_imports(ROOT, ("analytics", "app", "pages"))
    for item in listed:
        print(f"{item.path}:{item.line}\t{item.module}")
    project = [i for i in listed if i.module.split(".")[0] in ("analytics", "app", "pages")]
    print(f"{len(listed)} function-level imports, {len(project)} of them of the project's own modules "
          f"({len({(i.path, i.line) for i in project})} statements)")
