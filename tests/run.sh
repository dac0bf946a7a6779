#!/usr/bin/env bash
# Install the dev tools and everything the tests use, then run the whole suite.
# This is the README's test command and what CI (.ci/run) calls.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Chromium for the browser tests, Fashion-MNIST and Open Clip Art for
# two built-in domains. Installed only where apt-get exists and something is missing;
# elsewhere those tests skip and say why.
DEBS=(chromium dataset-fashion-mnist openclipart-png)
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python -m pip install -q -r requirements-dev.txt
# The code's shape first (a few seconds): ruff's rules, and import-linter's contracts (the
# layers of tlcore, no import cycle, no streamlit in the core), both configured in pyproject.toml.
python -m ruff check .
lint-imports
python -m pytest "$@"
