#!/usr/bin/env bash
# Create or reuse the virtual environment .venv inside the repository and install
# disentangle into it (editable, with the test tools). Sourced by demo.sh and test.sh.
#
# PyTorch: if .venv has no torch yet, the CPU build pinned in constraints/cpu.txt is
# installed. To use your own build (CUDA, ROCm, another version), install it into
# .venv first (".venv/bin/pip install torch ..."); it is then kept as it is.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp="$venv/.disentangle-installed"
fingerprint="$(cat "$repo/pyproject.toml" "$repo/constraints/cpu.txt" | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$fingerprint" ]; then
  if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet -c "$repo/constraints/cpu.txt" torch
  fi
  "$venv/bin/python" -m pip install --quiet -e "$repo[test]"
  echo "$fingerprint" > "$stamp"
fi
