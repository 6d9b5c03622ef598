#!/usr/bin/env bash
# Hand-run helper: prepare.sh + docker build with versions.env as build args.
# (The midlab runtime does the same; this is for testing the recipe.)
set -euo pipefail
cd "$(dirname "$0")"
set -a; . ./versions.env; set +a
./prepare.sh
args=()
while IFS='=' read -r k v; do [[ -n $k && $k != \#* ]] && args+=(--build-arg "$k=$v"); done < versions.env
exec docker build -q "${args[@]}" -t "${IMAGE:-midlab/kafka:latest}" .
