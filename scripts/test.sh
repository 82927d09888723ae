#!/usr/bin/env bash
# Set up and run the whole test suite (slow tests included).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$repo/scripts/setup.sh"
cd "$repo"
# The browser tests drive Debian's chromium and its driver; CI (root, CI=true) installs
# them, refreshing the package lists only when the first try cannot find the packages.
if [ "${CI:-}" = "true" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
  browser_packages=(chromium chromium-driver)
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${browser_packages[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq "${browser_packages[@]}" >/dev/null; }
fi
exec "$venv/bin/python" -m pytest "$@"
