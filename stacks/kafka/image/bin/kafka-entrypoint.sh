#!/bin/bash
# Container entrypoint of midlab/kafka.
#
#   (no arguments)  start a Kafka node from /etc/kafka/server.properties
#   any command     run it instead (e.g. a tool, bash, zookeeper-server-start.sh)
#
# Inputs (all optional except where said):
#   /etc/kafka/server.properties  base config, mounted or `docker cp`-ed before start
#   KAFKA_CFG_<KEY>=<value>       appended after the file (the last value of a key
#                                 wins): KEY upper-case, '_' -> '.', '__' -> '_'
#                                 e.g. KAFKA_CFG_NODE_ID=1 -> node.id=1
#   KAFKA_CLUSTER_ID              KRaft only and then required: 22-char base64 UUID
#                                 (same for every node of a cluster)
#   KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS
#                                 broker JVM settings (see kafka-server-start.sh)
# The effective config is written to /run/kafka/server.properties.
# KRaft mode (process.roles set): log dirs are formatted with the cluster id
# before start; already formatted dirs are left alone (--ignore-formatted).
set -euo pipefail

if [[ $# -gt 0 ]]; then
  exec "$@"
fi

src=/etc/kafka/server.properties
eff=/run/kafka/server.properties
mkdir -p /run/kafka
{
  if [[ -f $src ]]; then cat "$src"; echo; fi
  # env overrides, sorted for a stable file
  while IFS='=' read -r name value; do
    key=${name#KAFKA_CFG_}
    key=${key,,}
    key=${key//__/$'\x01'}
    key=${key//_/.}
    key=${key//$'\x01'/_}
    printf '%s=%s\n' "$key" "$value"
  done < <(env | grep '^KAFKA_CFG_' | sort || true)
} >"$eff"

if ! grep -Eq '^[[:space:]]*(node\.id|broker\.id)[[:space:]]*=' "$eff"; then
  echo "kafka-entrypoint: no node.id/broker.id: provide $src or KAFKA_CFG_* variables" >&2
  exit 64
fi

if grep -Eq '^[[:space:]]*process\.roles[[:space:]]*=' "$eff"; then
  if [[ -z ${KAFKA_CLUSTER_ID:-} ]]; then
    echo "kafka-entrypoint: KRaft mode (process.roles is set) needs KAFKA_CLUSTER_ID" >&2
    exit 64
  fi
  kafka-storage.sh format --ignore-formatted -t "$KAFKA_CLUSTER_ID" -c "$eff"
fi

exec kafka-server-start.sh "$eff"
