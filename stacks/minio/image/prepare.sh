#!/usr/bin/env bash
# Builds static `minio` and `mc` from their pinned Go module versions into .artifacts/
# (run on the host before `docker build`, which only copies the two binaries in).
# Needs the Go module proxy, and Go >= 1.24 (fetched from the proxy into .tools/ when the
# machine has none or an older one). Cold (empty Go caches) it fetches ~260 MB of
# module zips (1.3 GB unpacked, plus 1.1 GB of build cache) and takes ~10 min on 2 cores;
# a binary whose .version stamp matches its pin is not rebuilt (warm: a no-op).
set -euo pipefail
: "${MINIO_VERSION:?}" "${MC_VERSION:?}"
MIDLAB_ROOT=$(cd ../../.. && pwd)
. "$MIDLAB_ROOT/scripts/lib.sh"
use_go 1.24.0
out=.artifacts
mkdir -p "$out"

# MinIO's version strings come from -X flags that its own Makefile sets; a pseudo-version
# v0.0.0-YYYYMMDDhhmmss-<commit12> gives the commit and its time (= the RELEASE tag's time).
ldflags() { # <module path> <pseudo-version>
  local pkg=$1/cmd v=$2 ts commit t
  ts=${v#v0.0.0-}; commit=${ts#*-}; ts=${ts%%-*}
  t="${ts:0:4}-${ts:4:2}-${ts:6:2}T${ts:8:2}:${ts:10:2}:${ts:12:2}Z"
  printf '%s' "-s -w -X $pkg.Version=$t -X $pkg.ReleaseTag=RELEASE.${t//:/-}" \
    " -X $pkg.CommitID=$commit -X $pkg.ShortCommitID=$commit -X $pkg.CopyrightYear=${ts:0:4}"
}

# Linux binaries whatever the host (they run in the containers). `go install` refuses
# GOBIN for a cross-compiled binary, so it installs into a scratch GOPATH (the module
# cache stays where it is) and the binary is moved from there.
gopath=$(mktemp -d)
log=$gopath/log
trap 'chmod -R u+w "$gopath" 2>/dev/null; rm -rf "$gopath"' EXIT
export CGO_ENABLED=0 GOOS=linux GOMODCACHE="$(go env GOMODCACHE)" GOFLAGS="${GOFLAGS:-} -trimpath"
for m in minio:"$MINIO_VERSION" mc:"$MC_VERSION"; do
  name=${m%%:*} v=${m#*:}
  [ -x "$out/$name" ] && [ "$(cat "$out/$name.version" 2>/dev/null)" = "$v" ] && continue
  rm -f "$out/$name" "$out/$name.version"
  GOPATH="$gopath" go install -ldflags "$(ldflags "github.com/minio/$name" "$v")" "github.com/minio/$name@$v" \
    >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  bin="$gopath/bin/linux_$(go env GOARCH)/$name"
  [ -x "$bin" ] || bin="$gopath/bin/$name"
  mv "$bin" "$out/$name"
  echo "$v" > "$out/$name.version"
done
