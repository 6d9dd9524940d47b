#!/usr/bin/env bash
# The packing policies on workload variants of openb's `default` across the
# range of each knob and mixes of them (docs/simulation.md, "Variants"):
# makes the variants with `allot sim make-variant`, runs `allot sim pack` on
# all of them (seeds 42-51) and prints per variant each policy's median at
# 100 % arrived, its difference to FGD and the share of FGD's distance to
# the all-placed ceiling it closes.
#
#   bench/pack_variants.sh ALLOT OUT_DIR [POLICIES] [SEEDS]
#   (POLICIES: default fgd,allot,live; SEEDS: default 42-51)
set -euo pipefail
ALLOT="$1"
OUT="$2"
POLICIES="${3:-fgd,allot,live}"
SEEDS="${4:-42-51}"
DATA="$(cd "$(dirname "$0")/../.." && pwd)/shared/data/openb"
NODES="$DATA/openb_node_list_gpu_node.csv"
BASE="$DATA/openb_pod_list_default.csv"
mkdir -p "$OUT/tasks"

# name: make-variant knobs
VARIANTS=(
  "cpu025:--cpu-scale 0.25" "cpu050x:--cpu-scale 0.5" "cpu075x:--cpu-scale 0.75"
  "cpu125x:--cpu-scale 1.25" "cpu150x:--cpu-scale 1.5" "cpu200x:--cpu-scale 2"
  "cpu250x:--cpu-scale 2.5" "cpu300x:--cpu-scale 3"
  "cpuonly0:--cpu-only-scale 0" "cpuonly05:--cpu-only-scale 0.5" "cpuonly2:--cpu-only-scale 2"
  "cpuonly3:--cpu-only-scale 3"
  "share0:--gpushare 0" "share10:--gpushare 10" "share20:--gpushare 20" "share40:--gpushare 40"
  "share60:--gpushare 60" "share80:--gpushare 80" "share90:--gpushare 90"
  "share100:--gpushare 100"
  "multi0:--multigpu 0" "multi15:--multigpu 15" "multi30:--multigpu 30" "multi45:--multigpu 45"
  "multi60:--multigpu 60"
  "spec5:--gpuspec 5" "spec10:--gpuspec 10" "spec25:--gpuspec 25" "spec40:--gpuspec 40"
  "spec50:--gpuspec 50"
  "cpu150x-share60:--cpu-scale 1.5 --gpushare 60" "cpu200x-share80:--cpu-scale 2 --gpushare 80"
  "cpu300x-share90:--cpu-scale 3 --gpushare 90" "cpu050x-multi40:--cpu-scale 0.5 --multigpu 40"
  "share50-multi30:--gpushare 50 --multigpu 30" "share40-spec25:--gpushare 40 --gpuspec 25"
  "cpu200x-spec25:--cpu-scale 2 --gpuspec 25" "multi60-spec50:--multigpu 60 --gpuspec 50"
  "cpu250x-cpuonly2:--cpu-scale 2.5 --cpu-only-scale 2"
)
files=()
for entry in "${VARIANTS[@]}"; do
  name="${entry%%:*}"
  read -r -a knobs <<<"${entry#*:}"
  "$ALLOT" sim make-variant --nodes "$NODES" --tasks "$BASE" "${knobs[@]}" \
    --out "$OUT/tasks/$name.csv" >/dev/null
  files+=("$OUT/tasks/$name.csv")
done
"$ALLOT" sim pack --nodes "$NODES" --tasks "${files[@]}" --policy "$POLICIES" --seeds "$SEEDS" \
  --out "$OUT" >"$OUT/stdout.csv"
# workload, then per policy: median, vs fgd, closed %
awk -F, 'NR > 1 && $1 != "" && $2 != "" && $3 ~ /^[0-9.]+$/ {
  row[$1] = row[$1] sprintf("  %s %s %s %s", $2, $3, $10, $11) }
  END { for (w in row) print w row[w] }' "$OUT/stdout.csv" | sort
echo "(per policy: median at 100 %, difference to fgd, % of fgd's gap to the all-placed ceiling closed)"
