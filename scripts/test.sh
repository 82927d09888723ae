#!/usr/bin/env bash
# Set up and run the whole test suite (slow tests included).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
cd "$repo"
exec "$venv/bin/python" -m pytest "$@"
