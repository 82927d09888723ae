#!/usr/bin/env bash
# Quick start: set up, train a β-VAE (β = 4) on procedural dSprites on the CPU,
# and write its traversal and reconstruction grids into runs/quickstart.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
run="$repo/runs/quickstart"
steps="${STEPS:-3000}"
if [ -f "$run/config.json" ]; then
  "$venv/bin/disentangle" train --resume "$run" --steps "$steps"
else
  "$venv/bin/disentangle" train --model beta-vae --beta 4 --data dsprites --steps "$steps" \
    --checkpoint-every 1000 --out "$run"
fi
"$venv/bin/disentangle" traverse "$run"
