#!/usr/bin/env bash
# Hand-run recipe for 3-node Kafka clusters on one docker network (scratch names).
#   lab.sh create kraft|zk   create network + containers (not started), copy configs in
#   lab.sh start             docker start every node in parallel, wait until healthy, print seconds
#   lab.sh down              remove every scratch-kafka-* container and the network
# Host ports: kafkaN EXTERNAL listener (9094) -> 127.0.0.1:$((BASE_PORT+N))
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
IMAGE=${IMAGE:-midlab/kafka:latest}
ZK_IMAGE=${ZK_IMAGE:-$IMAGE}
NET=scratch-kafka-net
LABEL=dev.midlab.lab=scratch-kafka
BASE_PORT=${BASE_PORT:-19090}
state=/tmp/scratch-kafka.mode

bootstrap() { echo "127.0.0.1:$((BASE_PORT+1)),127.0.0.1:$((BASE_PORT+2)),127.0.0.1:$((BASE_PORT+3))"; }

render() { # template N -> stdout
  sed -e "s/@N@/$2/g" -e "s/@HOSTPORT@/$((BASE_PORT+$2))/g" "$1"
}

create() {
  local mode=$1 n tmp
  tmp=$(mktemp -d)
  docker network create --label "$LABEL" "$NET" >/dev/null
  if [[ $mode == kraft ]]; then
    # 16 random bytes, base64url without padding = a Kafka Uuid
    local cid; cid=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    for n in 1 2 3; do
      { render "$here/kraft-node.properties.tmpl" $n; echo; cat "$here/lab.properties" "$here/kraft-lab.properties"; } >"$tmp/s$n"
      docker create --name scratch-kafka-kafka$n --hostname kafka$n --network "$NET" --network-alias kafka$n \
        --label "$LABEL" -e KAFKA_CLUSTER_ID="$cid" ${KAFKA_HEAP_OPTS:+-e KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS"} \
        ${KAFKA_JVM_PERFORMANCE_OPTS:+-e KAFKA_JVM_PERFORMANCE_OPTS="$KAFKA_JVM_PERFORMANCE_OPTS"} \
        -p 127.0.0.1:$((BASE_PORT+n)):9094 "$IMAGE" >/dev/null
      docker cp "$tmp/s$n" scratch-kafka-kafka$n:/etc/kafka/server.properties
    done
  else
    for n in 1 2 3; do
      printf '#!/bin/sh\nmkdir -p /var/lib/zookeeper && echo %s > /var/lib/zookeeper/myid\nexec zookeeper-server-start.sh /etc/kafka/zoo.cfg\n' $n >"$tmp/zk$n"
      chmod +x "$tmp/zk$n"
      docker create --name scratch-kafka-zk$n --hostname zk$n --network "$NET" --network-alias zk$n \
        --label "$LABEL" "$ZK_IMAGE" /etc/kafka/zk-start.sh >/dev/null
      docker cp "$here/zoo.cfg.tmpl" scratch-kafka-zk$n:/etc/kafka/zoo.cfg
      docker cp "$tmp/zk$n" scratch-kafka-zk$n:/etc/kafka/zk-start.sh
    done
    for n in 1 2 3; do
      { render "$here/zk-broker.properties.tmpl" $n; echo; cat "$here/lab.properties" "$here/zk-lab.properties"; } >"$tmp/s$n"
      docker create --name scratch-kafka-kafka$n --hostname kafka$n --network "$NET" --network-alias kafka$n \
        --label "$LABEL" ${KAFKA_HEAP_OPTS:+-e KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS"} \
        ${KAFKA_JVM_PERFORMANCE_OPTS:+-e KAFKA_JVM_PERFORMANCE_OPTS="$KAFKA_JVM_PERFORMANCE_OPTS"} \
        -p 127.0.0.1:$((BASE_PORT+n)):9094 "$IMAGE" >/dev/null
      docker cp "$tmp/s$n" scratch-kafka-kafka$n:/etc/kafka/server.properties
    done
  fi
  echo "$mode" >"$state"
  rm -rf "$tmp"
}

# healthy = host metadata (kcat) lists 3 brokers and a controller id >= 0
healthy() {
  local j
  j=$(kcat -b "$(bootstrap)" -L -J -m 1 2>/dev/null) || return 1
  python3 -c '
import json,sys
m=json.loads(sys.argv[1])
ok = len(m.get("brokers",[]))==3 and m.get("controllerid",-1) >= 0
sys.exit(0 if ok else 1)' "$j"
}

start() {
  local names t0 t1
  names=$(docker ps -a --filter label=$LABEL --filter name=scratch-kafka- --format '{{.Names}}' | sort)
  t0=$(date +%s.%N)
  for c in $names; do docker start "$c" >/dev/null & done
  wait
  t1=$(date +%s.%N)
  until healthy; do
    sleep 0.2
    if (( $(date +%s) - ${t0%.*} > 180 )); then echo "not healthy after 180 s" >&2; return 1; fi
  done
  python3 -c "import time,sys; print('docker start returned after %.1f s, healthy after %.1f s' % (float(sys.argv[2])-float(sys.argv[1]), time.time()-float(sys.argv[1])))" "$t0" "$t1"
}

down() {
  local ids
  ids=$(docker ps -aq --filter label=$LABEL)
  [[ -n $ids ]] && docker rm -f $ids >/dev/null
  docker network ls -q --filter name=$NET --filter label=$LABEL | xargs -r docker network rm >/dev/null
  rm -f "$state"
}

"$@"
