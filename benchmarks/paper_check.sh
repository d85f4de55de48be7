#!/usr/bin/env bash
# The papers' recipe (studies/paper.yaml), every model, end to end, with tiny overrides: what to
# run on a Cityscapes tree before spending GPU-hours on it. It checks the tree (`urbanseg check`,
# every file decoded), runs the five notebooks with the recipe's settings but 4 iterations on
# 64x128 crops of the full-resolution images (batch 2, random weights, 8 train and 2 val images),
# scores them on the whole validation images, renders the report, and verifies in each
# metrics.json that the recipe was the one run. Without ROOT it generates a synthetic tree at the
# real resolution (2048x1024, official layout). About 6 minutes on 2 cores.
#
#   bash benchmarks/paper_check.sh [ROOT [WORK_FOLDER]]      (after `make setup`)
#   make paper-check DATA=/dados/cityscapes
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
urbanseg="$repo/.venv/bin/urbanseg"
work="${2:-$(mktemp -d)}"
mkdir -p "$work"
start=$SECONDS
root="${1:-$work/cityscapes}"
if [ -z "${1:-}" ] && [ ! -d "$root" ]; then
    "$urbanseg" synth "$root" --train 8 --val 2 --test 0 --size 1024x2048
fi
"$urbanseg" check "$root"  # a missing or broken tree stops here, with the reason (status 2)
"$urbanseg" run -f paper --root "$root" --results "$work/results" --notebooks "$repo/notebooks" \
    -p iterations 4 -p crop_height 64 -p crop_width 128 -p batch_size 2 \
    -p backbone_weights None -p max_train_images 8 -p max_val_images 2
"$urbanseg" report --results "$work/results" --out "$work/report"
"$repo/.venv/bin/python" - "$work/results" "$repo/studies/paper.yaml" <<'PY'
"""Each run's record against the recipe: what it trained on, how, and how it was scored."""
import sys

from urbanseg.catalog import CATALOG
from urbanseg.config import RunConfig, load_parameters_file
from urbanseg.results_folder import load_records

results, recipe_file = sys.argv[1:]
recipe = load_parameters_file(recipe_file)
overrides = {"iterations": 4, "crop_height": 64, "crop_width": 128, "batch_size": 2,
             "backbone_weights": None, "max_train_images": 8, "max_val_images": 2}
config = RunConfig.from_dict({**recipe, **overrides})
records = {record.model: record for record in load_records(results)}
problems = []
for model in CATALOG:
    record = records.get(model)
    if record is None or not record.ok:
        problems.append(f"{model}: {'sem registro' if record is None else record.error}")
        continue
    wrong = [f"{name}={record.parameters.get(name)!r} (receita: {getattr(config, name)!r})"
             for name in {**recipe, **overrides}
             if record.parameters.get(name) != getattr(config, name)]
    size, scored = tuple(record.data.image_size), tuple(record.evaluation.resolution)
    if record.evaluation.mode != "whole" or scored != size:
        wrong.append(f"avaliado em {scored} ({record.evaluation.mode}), imagens em {size}")
    if record.training.iterations != 4:
        wrong.append(f"{record.training.iterations} iterações em vez de 4")
    problems += [f"{model}: {item}" for item in wrong]
    print(f"{model:8} ok  mIoU {record.metrics['miou']:.4f}  imagens {size[1]}x{size[0]}, "
          f"{record.training.iterations} iterações em recortes 64x128, "
          f"avaliado na imagem inteira ({scored[1]}x{scored[0]})")
for problem in problems:
    print(f"PROBLEMA  {problem}")
sys.exit(1 if problems else 0)
PY
echo "receita dos artigos: os cinco modelos de ponta a ponta em $((SECONDS - start)) s ($work)"
