#!/usr/bin/env bash
# Builds static `minio` and `mc` from their pinned Go module versions into .artifacts/
# (run on the host before `docker build`: the build itself copies the binaries in).
# Needs Go >= 1.24 and the Go module proxy. Cold: ~750 MB of modules; warm: a no-op.
set -euo pipefail
: "${MINIO_VERSION:?}" "${MC_VERSION:?}"
out=.artifacts
stamp=$out/minio-$MINIO_VERSION.mc-$MC_VERSION
[ -f "$stamp" ] && [ -x "$out/minio" ] && [ -x "$out/mc" ] && exit 0
rm -rf "$out" && mkdir -p "$out"

# MinIO's version strings come from -X flags that its own Makefile sets; a pseudo-version
# v0.0.0-YYYYMMDDhhmmss-<commit12> gives the commit and its time (= the RELEASE tag's time).
ldflags() { # <module path> <pseudo-version>
  local pkg=$1/cmd v=$2 ts commit t
  ts=${v#v0.0.0-}; commit=${ts#*-}; ts=${ts%%-*}
  t="${ts:0:4}-${ts:4:2}-${ts:6:2}T${ts:8:2}:${ts:10:2}:${ts:12:2}Z"
  printf '%s' "-s -w -X $pkg.Version=$t -X $pkg.ReleaseTag=RELEASE.${t//:/-}" \
    " -X $pkg.CommitID=$commit -X $pkg.ShortCommitID=$commit -X $pkg.CopyrightYear=${ts:0:4}"
}

export CGO_ENABLED=0 GOBIN="$PWD/$out" GOFLAGS="${GOFLAGS:-} -trimpath"
go install -ldflags "$(ldflags github.com/minio/minio "$MINIO_VERSION")" "github.com/minio/minio@$MINIO_VERSION"
go install -ldflags "$(ldflags github.com/minio/mc "$MC_VERSION")" "github.com/minio/mc@$MC_VERSION"
touch "$stamp"
