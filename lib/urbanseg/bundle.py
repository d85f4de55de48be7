"""A study as one file a teacher can check: ``urbanseg bundle`` and ``urbanseg verify``.

The bundle is a zip of the report (HTML, PDF), ``summary.csv`` and, for every finished run, its
executed notebook, result record (metrics.json), per-image confusion matrices and history, with
``manifest.json``: who made the study, when, with which versions and commit, each run's
parameters and digest, the data set's fingerprint, and the SHA-256 of every other file.

``verify`` reads a bundle and lists every problem, each naming the file at fault:

- a file whose hash differs from the manifest's, missing, or not listed in it (tampering);
- an executed notebook with an error cell;
- a record whose mIoU or confusion matrix disagrees with its per-image matrices;
- a report whose results table disagrees with the records;
- a data fingerprint other than the expected one (``--expect-fingerprint``).

The fingerprint is the SHA-256 of the sorted validation stems and the hash of each one's
labelIds file: equal for two copies of the same split, different for another split or a label
changed. For the real Cityscapes val it is the one ``urbanseg bundle`` prints from that tree.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import subprocess
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import numpy as np

from . import __version__
from .atomic import atomic_path
from .errors import InputError
from .findings import Findings

MANIFEST = "manifest.json"
RUN_FILES = ("metrics.json", "confusion_per_image.npz", "history.csv")
TOLERANCE = 1e-9


def fingerprint(root: str | Path, split: str = "val") -> str | None:
    """The SHA-256 of ``split``'s sorted stems and the hash of each label file; None when the
    tree is not there."""
    from .data import find_samples

    try:
        samples = find_samples(root, split)
    except InputError:
        return None
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(f"{sample.stem} {_sha256(sample.label)}\n".encode())
    return digest.hexdigest()


def make_bundle(
    results: str | Path = "results",
    report: str | Path = "report",
    out: str | Path = "submission.zip",
    *,
    identity: dict[str, str] | None = None,
    predict: str | None = None,
    root: str | Path | None = None,
    progress: bool = True,
) -> tuple[Path, dict]:
    """Write the bundle (atomically) and return its path and manifest. With ``predict``, each
    run's official-format predictions of that split (of ``root``, default the run's recorded
    data set) go in too, under ``predictions/<model>/seed-<k>/``, for a teacher's leaderboard.
    InputError when there is no finished run or no report to bundle."""
    import tempfile

    from .report.render import OUTPUT_NAMES
    from .results_folder import load_records

    results, report = Path(results), Path(report)
    records = [r for r in load_records(results) if r.status == "ok"] if results.is_dir() else []
    if not records:
        raise InputError(
            f"{results}/: nenhuma execução concluída para empacotar; rode `make report` antes"
        )
    reports = [
        report / f"{name}.{ext}" for name in OUTPUT_NAMES.values() for ext in ("html", "pdf")
    ]
    reports = [path for path in reports if path.is_file()]
    if not reports:
        raise InputError(
            f"{report}/: nenhum relatório para empacotar; rode `urbanseg report` antes"
        )
    files: dict[str, Path] = {f"report/{path.name}": path for path in reports}
    if (results / "summary.csv").is_file():
        files["results/summary.csv"] = results / "summary.csv"
    runs, fingerprints = [], {}
    for record in records:
        folder = record.folder
        relative = folder.relative_to(results).as_posix()
        for name in (*RUN_FILES, f"{record.model}.ipynb"):
            if (folder / name).is_file():
                files[f"results/{relative}/{name}"] = folder / name
        recorded = record.data.root
        if recorded not in fingerprints:
            fingerprints[recorded] = fingerprint(recorded) if recorded else None
        runs.append(
            {
                "folder": f"results/{relative}",
                "model": record.model,
                "seed": record.parameters.get("seed"),
                "digest": record.digest,
                "parameters": record.parameters,
                "data_fingerprint": fingerprints[recorded],
                "synthetic": bool(record.data.synthetic),
            }
        )
    with tempfile.TemporaryDirectory(prefix="urbanseg-bundle-") as scratch:
        predictions = {}
        if predict:
            from .inference import predict_split

            for record, run in zip(records, runs, strict=True):
                folder = run["folder"].replace("results/", "predictions/", 1)
                target = Path(scratch, folder)
                predict_split(
                    record.folder, root or record.data.root, predict, target, progress=progress
                )
                for path in sorted(target.glob("*.png")):
                    files[f"{folder}/{path.name}"] = path
                predictions[run["folder"]] = folder
        return _write_bundle(Path(out), files, runs, predict, predictions, results, identity)


def _write_bundle(out, files, runs, split, predictions, results, identity) -> tuple[Path, dict]:
    from .results_folder import study_identity

    manifest = {
        "urbanseg_bundle": 1,
        **study_identity(results, identity),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "git": _git_state(),
        "runs": runs,
        "predictions": {"split": split, "folders": predictions} if split else None,
        "files": {name: _sha256(path) for name, path in sorted(files.items())},
    }
    with (
        atomic_path(out, suffix=".zip") as temp,
        zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for name, path in sorted(files.items()):
            archive.write(path, name)
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False))
    return out, manifest


@dataclass
class Verification(Findings):
    passed: str = field(default="verificado", init=False, repr=False)


def open_bundle(bundle: str | Path) -> tuple[zipfile.ZipFile, dict]:
    """The open zip of ``bundle`` and its manifest (with "files" and "runs"); a one-line
    InputError when it is not a readable urbanseg bundle. The caller closes the zip."""
    try:
        archive = zipfile.ZipFile(bundle)
    except (OSError, zipfile.BadZipFile) as error:
        raise InputError(f"{bundle}: não é um zip legível ({error})") from None
    try:
        if MANIFEST not in archive.namelist():
            raise InputError(f"{bundle}: sem {MANIFEST}; não é um pacote do urbanseg")
        try:
            manifest = json.loads(archive.read(MANIFEST))
            dict(manifest["files"]), list(manifest["runs"])
        except (ValueError, KeyError, TypeError) as error:
            raise InputError(f"{bundle}: {MANIFEST} ilegível ({error})") from None
    except BaseException:
        archive.close()
        raise
    return archive, manifest


def verify_bundle(bundle: str | Path, *, expect_fingerprint: str | None = None) -> Verification:
    """Check ``bundle`` (see the module docstring). InputError when it is not a bundle."""
    bundle = Path(bundle)
    result = Verification(bundle)
    archive, manifest = open_bundle(bundle)
    with archive:
        names = set(archive.namelist())
        listed = dict(manifest["files"])
        _check_hashes(archive, names, listed, result)
        intact = {name for name in listed if name in names} - set(_bad_files(result))
        _check_notebooks(archive, intact, result)
        _check_records(archive, manifest, intact, result)
        _check_report(archive, manifest, intact, result)
    if expect_fingerprint:
        found = {run.get("data_fingerprint") for run in manifest.get("runs", [])}
        if found != {expect_fingerprint}:
            shown = ", ".join(sorted(str(f) for f in found))
            result.problems.append(
                f"{MANIFEST}: impressão digital dos dados {shown}, esperada {expect_fingerprint}"
            )
        else:
            result.checked.append("toda execução foi avaliada no conjunto de validação esperado")
    return result


def _check_hashes(archive, names: set[str], listed: dict, result: Verification) -> None:
    for name, expected in sorted(listed.items()):
        if name not in names:
            result.problems.append(f"{name}: listado no manifesto, mas ausente")
        elif hashlib.sha256(archive.read(name)).hexdigest() != expected:
            result.problems.append(
                f"{name}: alterado desde que o pacote foi gerado (SHA-256 difere)"
            )
    for name in sorted(names - set(listed) - {MANIFEST}):
        result.problems.append(f"{name}: não está no manifesto")
    if not result.problems:
        result.checked.append(f"{len(listed)} arquivos conferem com o SHA-256 do manifesto")


def _bad_files(result: Verification) -> list[str]:
    return [problem.split(": ", 1)[0] for problem in result.problems]


def _check_notebooks(archive, intact: set[str], result: Verification) -> None:
    notebooks = sorted(name for name in intact if name.endswith(".ipynb"))
    failed = 0
    for name in notebooks:
        cells = json.loads(archive.read(name)).get("cells", [])
        errors = [
            index + 1
            for index, cell in enumerate(cells)
            if any(o.get("output_type") == "error" for o in cell.get("outputs", []))
        ]
        if errors:
            failed += 1
            result.problems.append(f"{name}: um erro na célula {errors[0]}")
    if notebooks and not failed:
        result.checked.append(f"{len(notebooks)} notebooks executados rodaram sem erro")


def _check_records(archive, manifest: dict, intact: set[str], result: Verification) -> None:
    from .statistics import miou_of

    agreed = 0
    for run in manifest.get("runs", []):
        record_name = f"{run['folder']}/metrics.json"
        matrices_name = f"{run['folder']}/confusion_per_image.npz"
        if record_name not in intact or matrices_name not in intact:
            continue
        record = json.loads(archive.read(record_name))
        with np.load(io.BytesIO(archive.read(matrices_name)), allow_pickle=False) as arrays:
            pooled = arrays["matrices"].sum(axis=0)
        metrics = record.get("metrics", {})
        recorded = np.asarray(metrics.get("confusion_matrix"), dtype=np.int64)
        miou = float(miou_of(pooled))
        if recorded.shape != pooled.shape or not np.array_equal(recorded, pooled):
            result.problems.append(
                f"{record_name}: sua matriz de confusão difere das matrizes por imagem"
            )
        elif abs(miou - float(metrics.get("miou") or 0.0)) > TOLERANCE:
            result.problems.append(
                f"{record_name}: mIoU {metrics.get('miou')}, mas suas matrizes dão {miou:.6f}"
            )
        else:
            agreed += 1
    if agreed:
        result.checked.append(
            f"{agreed} registros de resultados conferem com suas matrizes por imagem"
        )


def _check_report(archive, manifest: dict, intact: set[str], result: Verification) -> None:
    """The report's results table shows each model's mean mIoU over its seeds (in %, one
    decimal): it must be what the bundled records give."""
    html = next((n for n in sorted(intact) if n.startswith("report/") and n.endswith(".html")), "")
    if not html:
        return
    by_model: dict[str, list[float]] = {}
    for run in manifest.get("runs", []):
        name = f"{run['folder']}/metrics.json"
        if name in intact:
            miou = json.loads(archive.read(name)).get("metrics", {}).get("miou")
            by_model.setdefault(run["model"], []).append(float(miou))
        else:
            by_model[run["model"]] = [float("nan")]  # a record already reported: not compared
    by_model = {model: values for model, values in by_model.items() if not np.isnan(values).any()}
    page = archive.read(html).decode("utf-8")
    table = page.split('id="results-table"', 1)[-1].split("</table>", 1)[0]
    disagree = []
    for model, values in by_model.items():
        cell = re.search(
            rf'<tr[^>]*data-model="{re.escape(model)}"[^>]*>.*?'
            r'<td[^>]*data-column="miou"[^>]*>(.*?)</td>',
            table,
            re.DOTALL,
        )
        text = unescape(re.sub(r"<[^>]+>", "", cell.group(1))) if cell else ""
        shown = text.split("±")[0].strip().replace(",", ".")
        expected = f"{100 * float(np.mean(values)):.1f}"
        if shown != expected:
            disagree.append(f"{model} mostra {shown or 'nada'}, os registros dão {expected}")
    if disagree:
        result.problems.append(f"{html}: a tabela de resultados diverge: {'; '.join(disagree)}")
    else:
        result.checked.append(
            f"a tabela do relatório mostra o mIoU dos registros ({len(by_model)} modelos)"
        )


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"urbanseg": __version__, "python": platform.python_version()}
    for name in ("keras", "tensorflow", "tensorflow-cpu", "jax", "torch", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _git_state() -> dict:
    """The commit of the checkout the study ran from, and whether it had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        status = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if commit.returncode:
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
