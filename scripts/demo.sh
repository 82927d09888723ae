#!/usr/bin/env bash
# Quick start: set up, train a model on procedural dSprites with the CPU quick-start
# recipe (configs/quickstart-dsprites.yaml, about 3 minutes on 2 cores), then write its
# traversal (PNG and GIF), score it (MIG, DCI, BetaVAE; preset fast) and write its report.
#
#   RUN=runs/quickstart   the run folder (default); run again to resume it
#   STEPS=N               train (or resume) to N steps instead of the recipe's
#   METRICS=a,b           score these metrics instead of mig,dci,beta_vae
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
run="${RUN:-$repo/runs/quickstart}"
metrics="${METRICS:-mig,dci,beta_vae}"
steps=()
if [ -n "${STEPS:-}" ]; then steps=(--steps "$STEPS"); fi
disentangle="$venv/bin/disentangle"
start=$SECONDS
if [ -f "$run/config.json" ]; then
  "$disentangle" train --resume "$run" "${steps[@]}"
else
  "$disentangle" train --config "$repo/configs/quickstart-dsprites.yaml" "${steps[@]}" --out "$run"
fi
"$disentangle" traverse "$run" >/dev/null
"$disentangle" evaluate "$run" --metrics "$metrics" --preset fast --quiet >/dev/null
"$disentangle" report "$run" >/dev/null
"$disentangle" summary "$run" --seconds "$((SECONDS - start))"
