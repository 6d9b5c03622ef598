#!/usr/bin/env bash
# Resolve the Kafka broker + tool jars from Maven Central into
# .artifacts/<KAFKA_VERSION>/libs/ (one folder per Kafka line, so 3.9 and 4.x sit side by side).
# Run on the host with cwd = this directory and versions.env (or versions-<tag>.env) in the
# environment. Idempotent: does nothing when the folder matches the pinned versions.
# Quiet: prints nothing on success; mvn's output is shown only on failure.
set -euo pipefail

: "${KAFKA_VERSION:?KAFKA_VERSION not set (source versions.env)}"
: "${SCALA_VERSION:?SCALA_VERSION not set (source versions.env)}"
: "${LOG_JARS:?LOG_JARS not set (source versions.env)}"

out=.artifacts/${KAFKA_VERSION}/libs
stamp="kafka_${SCALA_VERSION}-${KAFKA_VERSION} ${LOG_JARS} v2"
if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" ]]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Kafka's own poms pull in connect-runtime (jetty, jersey...) through
# kafka-tools; none of the shell tools we ship needs it, so it is excluded.
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.midlab</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_${SCALA_VERSION}</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-storage</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-server-common</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-metadata</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-raft</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>${KAFKA_VERSION}</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jaxrs</groupId><artifactId>jackson-jaxrs-json-provider</artifactId></exclusion>
      </exclusions>
    </dependency>
$(for coords in $LOG_JARS; do
    IFS=: read -r g a v <<<"$coords"
    echo "    <dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
  done)
  </dependencies>
</project>
POM

mvn_args=(-B -q -f "$work/pom.xml")
if [[ -n "${MIDLAB_M2_REPO:-}" ]]; then mvn_args+=("-Dmaven.repo.local=$MIDLAB_M2_REPO"); fi

if ! mvn "${mvn_args[@]}" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  echo "prepare.sh: resolving Kafka ${KAFKA_VERSION} from Maven Central failed" >&2
  exit 1
fi

echo "$stamp" >"$work/libs/.stamp"
mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$work/libs" "$out"
