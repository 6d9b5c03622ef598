#!/usr/bin/env bash
# Builds static `etcd`, `etcdctl` and `etcdutl` from their pinned Go module version into
# .artifacts/ (run on the host before `docker build`, which only copies the binaries in).
# Needs the Go module proxy, and Go >= 1.24 (fetched from the proxy into .tools/ when the
# machine has none or an older one). etcd's go.mod files carry `replace` directives,
# so `go install module@version` refuses them: the three are built inside a throw-away main
# module that requires them at the pinned version. Cold it fetches ~100 MB of modules and
# takes several minutes on 2 cores; a binary whose .version stamp matches its pin is not
# rebuilt (warm: a no-op).
set -euo pipefail
: "${ETCD_VERSION:?}"
MIDLAB_ROOT=$(cd ../../.. && pwd)
. "$MIDLAB_ROOT/scripts/lib.sh"
out=$PWD/.artifacts
mkdir -p "$out"
stamped() { [ -x "$out/$1" ] && [ "$(cat "$out/$1.version" 2>/dev/null)" = "$ETCD_VERSION" ]; }
stamped etcd && stamped etcdctl && stamped etcdutl && exit 0
use_go 1.24.0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Linux binaries whatever the host: they run in the containers.
export CGO_ENABLED=0 GOOS=linux GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=local
cd "$tmp"
{
  go mod init midlab.local/etcd-build
  for m in server etcdctl etcdutl; do go get "go.etcd.io/etcd/$m/v3@$ETCD_VERSION"; done
  # `go install module@version` would name the server binary after its module: server.
  for m in etcd:server etcdctl:etcdctl etcdutl:etcdutl; do
    go build -ldflags "-s -w" -o "$out/${m%%:*}" "go.etcd.io/etcd/${m#*:}/v3"
    echo "$ETCD_VERSION" > "$out/${m%%:*}.version"
  done
} >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
