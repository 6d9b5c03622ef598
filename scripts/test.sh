#!/usr/bin/env bash
# The test command: set-up (engine, Node, dependencies, images), then the type checker,
# the linter, and every test - unit (no Docker), integration (real stacks) and every
# lab run for real. Leftovers of earlier runs are swept first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Clients nobody here wrote, to prove the endpoints work for anyone (tests that need one
# say so and are skipped where they cannot be installed): ZooKeeper's zkCli.sh, kcat,
# amqp-tools, redis-cli, s3cmd, etcdctl; docker-compose for the compose files; Chromium for the
# live view.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  for pair in zookeeper:/usr/share/zookeeper/bin/zkCli.sh kcat:/usr/bin/kcat amqp-tools:/usr/bin/amqp-publish \
      redis-tools:/usr/bin/redis-cli s3cmd:/usr/bin/s3cmd docker-compose:/usr/bin/docker-compose chromium:/usr/bin/chromium etcd-client:/usr/bin/etcdctl; do
    [ -e "${pair#*:}" ] || missing="$missing ${pair%%:*}"
  done
  if [ -n "$missing" ]; then
    echo "test: installing test clients:$missing" >&2
    [ -f /tmp/.midlab-apt-updated ] || { apt-get update -qq && touch /tmp/.midlab-apt-updated; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi
. scripts/lib.sh
use_node
node bin/midlab.js reap >/dev/null
npx --no-install tsc --noEmit -p .
npx --no-install biome check .
npx --no-install vitest run "$@"
