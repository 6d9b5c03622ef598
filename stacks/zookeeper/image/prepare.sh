#!/usr/bin/env bash
# Resolves ZooKeeper's server jars from Maven Central into .artifacts/lib (run on the host
# before `docker build`: the build itself needs no network beyond Debian's mirror).
set -euo pipefail
: "${ZOOKEEPER_VERSION:?}" "${ZOOKEEPER_EXTRAS:?}"
out=.artifacts/lib
stamp=.artifacts/stamp-$(echo "$ZOOKEEPER_VERSION $ZOOKEEPER_EXTRAS" | sha1sum | cut -c1-12)
[ -f "$stamp" ] && exit 0
rm -rf .artifacts && mkdir -p "$out"
pom=$(mktemp -d)
trap 'rm -rf "$pom"' EXIT
deps=""
for coord in "org.apache.zookeeper:zookeeper:$ZOOKEEPER_VERSION" $ZOOKEEPER_EXTRAS; do
  IFS=: read -r g a v <<<"$coord"
  deps="$deps<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
done
cat > "$pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.midlab</groupId><artifactId>zookeeper-image</artifactId><version>1</version>
  <dependencies>$deps</dependencies>
</project>
POM
mvn -q -B -Dstyle.color=never -f "$pom/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
  -DexcludeArtifactIds=netty-tcnative-boringssl-static,netty-tcnative-classes -DoutputDirectory="$PWD/$out"
touch "$stamp"
