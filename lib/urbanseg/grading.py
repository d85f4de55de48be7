"""The teacher's side of a bundle (urbanseg.bundle): ``urbanseg rerun`` runs its notebooks again
and lists every score that moved; ``urbanseg leaderboard`` scores many bundles' predictions on
labels only the teacher has and ranks them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bundle import open_bundle, verify_bundle
from .errors import InputError
from .findings import Findings


@dataclass
class Rerun(Findings):
    held: str = field(default="igual", init=False, repr=False)
    failed: str = field(default="DIFERE", init=False, repr=False)
    passed: str = field(default="reproduzido", init=False, repr=False)
    counted: str = field(default="diferença(s)", init=False, repr=False)

    @property
    def compared(self) -> list[str]:
        return self.checked

    @property
    def differences(self) -> list[str]:
        return self.problems


COMPARED = ("miou", "pixel_accuracy", "mean_accuracy")


def rerun_bundle(
    bundle: str | Path,
    *,
    root: str | Path | None = None,
    tolerance: float = 0.005,
    work: str | Path | None = None,
    progress: bool = True,
) -> Rerun:
    """Run every notebook of ``bundle`` again with its recorded parameters (on ``root`` when
    given, e.g. the teacher's copy of the data) and list each metric, overall or per class,
    that moved by more than ``tolerance``. ``work``: where the reruns go (default: a temporary
    folder)."""
    import tempfile

    from .runner import run_models

    bundle = Path(bundle)
    result = Rerun(bundle)
    archive, manifest = open_bundle(bundle)
    with archive, tempfile.TemporaryDirectory(prefix="urbanseg-rerun-") as scratch:
        folder = Path(work) if work else Path(scratch)
        for run in manifest["runs"]:
            model, seed = run["model"], run["seed"]
            notebooks = folder / "notebooks" / f"{model}-{seed}"
            notebooks.mkdir(parents=True, exist_ok=True)
            (notebooks / f"{model}.ipynb").write_bytes(
                archive.read(f"{run['folder']}/{model}.ipynb")
            )
            recorded = json.loads(archive.read(f"{run['folder']}/metrics.json"))["metrics"]
            parameters = {k: v for k, v in run["parameters"].items() if k != "results_dir"}
            if root is not None:
                parameters["data_root"] = str(root)
            summary = run_models(
                [model],
                notebooks_dir=notebooks,
                results_dir=folder / "results",
                parameters=parameters,
                seeds=[seed],
                force=True,
                progress=progress,
            )
            (outcome,) = summary.runs
            name = f"{model} (semente {seed})"
            if outcome.status != "ok":
                result.problems.append(f"{name}: a reexecução falhou: {outcome.error}")
                continue
            from .results_folder import run_folder

            again = json.loads(
                (run_folder(folder / "results", model, seed) / "metrics.json").read_text()
            )["metrics"]
            _compare(name, recorded, again, tolerance, result)
    return result


def _compare(name: str, recorded: dict, again: dict, tolerance: float, result: Rerun) -> None:
    moved = []
    pairs = [(key, recorded.get(key), again.get(key)) for key in COMPARED]
    pairs += [
        (f"IoU {cls}", value, again.get("iou", {}).get(cls))
        for cls, value in recorded.get("iou", {}).items()
    ]
    for key, before, after in pairs:
        if before is None and after is None:
            continue
        if before is None or after is None or abs(float(before) - float(after)) > tolerance:
            moved.append(f"{key} {_shown(before)} -> {_shown(after)}")
    if moved:
        result.problems.append(f"{name}: {'; '.join(moved)} (tolerância {tolerance})")
    else:
        result.checked.append(
            f"{name}: mIoU {_shown(again.get('miou'))}, toda classe dentro de {tolerance}"
        )


def _shown(value) -> str:
    return "ausente" if value is None else f"{float(value):.4f}"


# --- The teacher's side: every bundle's predictions scored on labels only the teacher has -------

LEADERBOARD_COLUMNS = (
    "rank",
    "bundle",
    "author",
    "group",
    "model",
    "seeds",
    "miou_mean",
    "miou_std",
    "miou_ci_low",
    "miou_ci_high",
    "verification",
    "error",
)


def leaderboard(bundles, gt_root: str | Path, split: str, *, progress: bool = True):
    """One row per bundle and model: the mean mIoU over its seeds of its predictions of
    ``split`` scored against ``gt_root``'s labels, with the spread, a 95 % bootstrap interval
    over the images (urbanseg.statistics.compare, paired across rows) and the bundle's
    verification. Ranked by mean mIoU; a bundle whose predictions are missing or malformed, or
    that cannot be read, gets a row with the error, after the ranked ones."""
    import tempfile

    import pandas as pd

    from .data import find_samples
    from .evaluation import _score_pair, match_predictions
    from .statistics import ModelRuns, compare

    samples = find_samples(gt_root, split)
    entries, failed = {}, []
    for bundle in map(Path, bundles):
        try:
            verification = verify_bundle(bundle)
            status = (
                verification.passed
                if verification.ok
                else f"{len(verification.problems)} {verification.counted}"
            )
            archive, manifest = open_bundle(bundle)
            with archive, tempfile.TemporaryDirectory() as scratch:
                wanted = (manifest.get("predictions") or {}).get("split")
                if wanted != split:
                    raise InputError(
                        f"{bundle.name}: tem predições de {wanted or 'nenhum split'}, "
                        f"não de {split} (urbanseg bundle --predict {split})"
                    )
                for run in manifest["runs"]:
                    folder = manifest["predictions"]["folders"].get(run["folder"])
                    names = [n for n in archive.namelist() if folder and n.startswith(folder)]
                    target = Path(scratch, run["folder"])
                    target.mkdir(parents=True)
                    for name in names:
                        (target / Path(name).name).write_bytes(archive.read(name))
                    if not names:
                        raise InputError(f"{bundle.name}: sem predições para {run['folder']}")
                    pairs = match_predictions(samples, target)
                    matrices = np.stack([_score_pair(pair, False).matrix for pair in pairs])
                    key = (bundle.name, run["model"])
                    entry = entries.setdefault(
                        key, {"manifest": manifest, "status": status, "seeds": [], "per": []}
                    )
                    entry["seeds"].append(run["seed"])
                    entry["per"].append(matrices)
        except InputError as error:
            entries = {key: value for key, value in entries.items() if key[0] != bundle.name}
            failed.append(
                {"bundle": bundle.name, "error": str(error).replace(f"{bundle.name}: ", "", 1)}
            )
    from .statistics import miou_of

    runs = [
        ModelRuns(
            f"{bundle}\t{model}",
            entry["seeds"],
            entry["per"],
            [float(miou_of(m.sum(axis=0))) for m in entry["per"]],
        )
        for (bundle, model), entry in entries.items()
    ]
    stats = compare(runs) if runs else None
    rows = []
    for (bundle, model), entry in entries.items():
        found = stats.models[f"{bundle}\t{model}"]
        manifest = entry["manifest"]
        rows.append(
            {
                "bundle": bundle,
                "author": manifest.get("author"),
                "group": manifest.get("group"),
                "model": model,
                "seeds": len(entry["seeds"]),
                "miou_mean": found.miou_mean,
                "miou_std": found.miou_std,
                "miou_ci_low": found.ci_low,
                "miou_ci_high": found.ci_high,
                "verification": entry["status"],
                "error": None,
            }
        )
    rows.sort(key=lambda row: (np.isnan(row["miou_mean"]), -np.nan_to_num(row["miou_mean"])))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    rows += [{"rank": None, **row, "verification": "não pontuado"} for row in failed]
    table = pd.DataFrame(rows, columns=list(LEADERBOARD_COLUMNS))
    return table.astype({"rank": "Int64", "seeds": "Int64"})


def write_leaderboard(table, out: str | Path, split: str) -> tuple[Path, Path]:
    """``out`` (HTML, one table) and the same name with .csv, atomically."""
    from .atomic import write_atomically

    out = Path(out)
    shown = table.copy()
    for column in ("miou_mean", "miou_std", "miou_ci_low", "miou_ci_high"):
        shown[column] = shown[column].map(lambda v: "" if v != v or v is None else f"{100 * v:.1f}")
    html_table = shown.rename(
        columns={
            "rank": "posição",
            "bundle": "entrega",
            "author": "autoria",
            "group": "grupo",
            "model": "modelo",
            "seeds": "sementes",
            "miou_mean": "mIoU (%)",
            "miou_std": "dp",
            "miou_ci_low": "IC 95 % de",
            "miou_ci_high": "até",
            "verification": "verificação",
            "error": "erro",
        }
    ).to_html(index=False, na_rep="", escape=True)
    page = (
        '<!DOCTYPE html><html lang="pt-BR"><head><meta charset="utf-8">'
        f"<title>Classificação: {split}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #ccc}"
        "</style></head><body>"
        f"<h1>Classificação no split {split}</h1>"
        "<p>mIoU das predições de cada entrega contra os rótulos do professor; média sobre as "
        "sementes, intervalo de confiança de 95 % por reamostragem das imagens.</p>"
        f"{html_table}</body></html>"
    )
    csv_path = out.with_suffix(".csv")
    write_atomically(csv_path, table.to_csv(index=False))
    return write_atomically(out, page), csv_path
