#!/usr/bin/env bash
# The test command: set-up (engine, Node, dependencies, images), then the type checker,
# the linter, and every test - unit (no Docker), integration (real stacks) and every
# lab run for real. Leftovers of earlier runs are swept first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/lib.sh
use_node
node bin/midlab.js reap >/dev/null
npx --no-install tsc --noEmit -p .
npx --no-install biome check .
npx --no-install vitest run "$@"
