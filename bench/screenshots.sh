#!/bin/bash
# Headless-Chromium checks of what users look at (Debian: apt-get install chromium), from the repository root:
#   docs/report-smoke.png      the top of results/report-smoke/index.html
#   docs/dashboard-actors.png  the Ray dashboard's Actors page during a sweep: a worker per trial, labelled
#   docs/dashboard-jobs.png    its Jobs page: the sweep's job name
# Usage: bash bench/screenshots.sh [DATA_ROOT]   (default ../shared/datasets, the benchmark store)
set -euo pipefail
data_root=${1:-../shared/datasets}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
shot() {  # URL OUT WIDTH HEIGHT
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$3,$4" \
    --virtual-time-budget=15000 --screenshot="$2" "$1" >/dev/null 2>&1
}

shot "file://$PWD/results/report-smoke/index.html" docs/report-smoke.png 1300 1400

cat > "$work/spec.yaml" <<'SPEC'
name: table2
grid: {env: [hopper], dataset: [expert-random], margin: [0.0, 0.8], seed: [0]}
trial: {n: 4000, sim: {margin_relative: true}, policy: {iterations: 60}}
resources: {cpu: 1}
SPEC
offsim-ray sweep "$work/spec.yaml" --preset smoke --storage "$work/runs" --quiet --data-root "$data_root" \
  --datasets 'bench/{env}/{level}-v0' --offline 2> "$work/sweep.err" &
url=
for _ in $(seq 120); do
  url=$(grep -o "Ray dashboard: http://[0-9.:]*" "$work/sweep.err" | head -1 | cut -d' ' -f3) || true
  [ -n "$url" ] && break
  sleep 2
done
[ -n "$url" ] || { echo "the sweep printed no dashboard address" >&2; exit 1; }
labelled() {
  python - "$url" <<'PY'
import sys
from ray.util.state import list_actors
print(sum(a.class_name == "ImplicitFunc" and a.state == "ALIVE" and bool(a.repr_name)
          for a in list_actors(address=sys.argv[1], detail=True)))
PY
}
until [ "$(labelled 2>/dev/null)" = 2 ]; do sleep 2; done
shot "$url/#/actors" "$work/actors.png" 1600 900
shot "$url/#/jobs" "$work/jobs.png" 1600 700
python - "$work" <<'PY'
import sys
import matplotlib.image as image
work = sys.argv[1]
image.imsave("docs/dashboard-actors.png", image.imread(f"{work}/actors.png")[:520])
image.imsave("docs/dashboard-jobs.png", image.imread(f"{work}/jobs.png")[330:520, :370])  # no entrypoint path
PY
wait
echo "wrote docs/report-smoke.png docs/dashboard-actors.png docs/dashboard-jobs.png"
