#!/usr/bin/env bash
# Runs one lab end to end on a fresh or warm machine: set-up, then `midlab run`.
# Usage: scripts/lab.sh <stack>/<lab> [midlab run options]
set -euo pipefail
cd "$(dirname "$0")/.."
lab="${1:-}"
if [ -z "$lab" ] || [ "${lab#-}" != "$lab" ]; then
  echo "usage: npm run lab -- <stack>/<lab> [--param key=value ...]   (labs: node bin/midlab.js list)" >&2
  exit 2
fi
bash scripts/setup.sh "${lab%%/*}"
. scripts/lib.sh
use_node
exec node bin/midlab.js run "$@"
