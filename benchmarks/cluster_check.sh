#!/usr/bin/env bash
# The real model notebooks through `urbanseg run --cluster` against the same runs done locally:
# a Dask scheduler and two worker processes on 127.0.0.1, no shared results folder, unet and fcn
# (tiny: 1 epoch, 64x128, 8 train and 4 val images) with seeds 0 and 1. Prints each run's mIoU
# both ways and whether the metrics are equal. About a minute on 2 cores, after `make setup`.
#
#   bash benchmarks/cluster_check.sh [WORK_FOLDER]
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
py="$repo/.venv/bin/python"
urbanseg="$repo/.venv/bin/urbanseg"
mkdir -p "$work/project" "$work/dask/w0" "$work/dask/w1"
export URBANSEG_CACHE="$work/cache"  # the workers inherit it: one synthetic set, built under a lock
cd "$work"
"$py" -m distributed.cli.dask_scheduler --host 127.0.0.1 --port 0 --no-dashboard \
    --scheduler-file dask/scheduler.json > dask/scheduler.log 2>&1 &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
while [ ! -s dask/scheduler.json ]; do sleep 0.5; done
for worker in w0 w1; do
    (cd "dask/$worker" && exec "$py" -m distributed.cli.dask_worker --scheduler-file ../scheduler.json \
        --host 127.0.0.1 --nthreads 1 --no-dashboard --local-directory . > worker.log 2>&1) &
    pids+=($!)
done
address="$("$py" -c "import json; print(json.load(open('dask/scheduler.json'))['address'])")"
cd project
tiny=(-p epochs 1 -p image_height 64 -p image_width 128 -p max_train_images 8 -p max_val_images 4
      -p batch_size 2)
"$urbanseg" -q run unet fcn --seeds 0 1 --results local --notebooks "$repo/notebooks" "${tiny[@]}"
"$urbanseg" run unet fcn --seeds 0 1 --results remote --notebooks "$repo/notebooks" "${tiny[@]}" \
    --cluster "$address"
"$py" - <<'PY'
import json, pathlib
for path in sorted(pathlib.Path("local").glob("*/seed-*/metrics.json")):
    here = json.loads(path.read_text())
    there = json.loads((pathlib.Path("remote") / path.relative_to("local")).read_text())
    same = "iguais" if here["metrics"] == there["metrics"] else "DIFERENTES"
    print(f"{path.parent.relative_to('local')}: mIoU local {here['metrics']['miou']:.6f}, "
          f"cluster {there['metrics']['miou']:.6f}: métricas {same}")
PY
