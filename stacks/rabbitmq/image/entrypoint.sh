#!/bin/sh
# midlab RabbitMQ node entrypoint.
#
# Contract: before `docker start`, the runtime copies
#   /etc/midlab/erlang.cookie      (required) the lab's Erlang cookie, one line of
#                                  [A-Za-z0-9] (20+ chars), identical on every node
#   /etc/rabbitmq/rabbitmq.conf    (optional but expected) node configuration
#   /etc/rabbitmq/enabled_plugins  (optional) default: [rabbitmq_management].
#   /etc/rabbitmq/advanced.config  (optional)
# The node name is rabbit@<container hostname> (docker run --hostname rabbitN),
# and that hostname must resolve on the lab network (--network-alias rabbitN).
#
# The entrypoint installs the cookie as /var/lib/rabbitmq/.erlang.cookie
# (rabbitmq:rabbitmq, 0400) on every start, fixes ownership of the config
# files, then runs the broker in the foreground as user rabbitmq via setpriv
# (keeps the container's open-file limit, unlike su/runuser). Logs go to stdout.
set -eu

COOKIE_SRC=/etc/midlab/erlang.cookie
COOKIE_DST=/var/lib/rabbitmq/.erlang.cookie

log() { echo "midlab-entrypoint: $*"; }

if [ ! -s "$COOKIE_SRC" ]; then
  log "FATAL: $COOKIE_SRC is missing or empty; copy the lab's Erlang cookie there before start" >&2
  exit 64
fi
cookie=$(tr -d ' \t\r\n' < "$COOKIE_SRC")
case "$cookie" in
  *[!A-Za-z0-9]*|'') log "FATAL: cookie must be non-empty [A-Za-z0-9] only" >&2; exit 64 ;;
esac
umask 077
rm -f "$COOKIE_DST"
printf '%s' "$cookie" > "$COOKIE_DST"
chown rabbitmq:rabbitmq "$COOKIE_DST"
chmod 0400 "$COOKIE_DST"
umask 022

# Files copied in by `docker cp` keep the copier's uid; the broker (and
# `rabbitmq-plugins enable`, which rewrites enabled_plugins) runs as rabbitmq.
chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq /var/log/rabbitmq

for f in rabbitmq.conf enabled_plugins advanced.config; do
  if [ -f "/etc/rabbitmq/$f" ]; then log "using /etc/rabbitmq/$f"; fi
done
log "node rabbit@$(hostname -s), nofile limit $(ulimit -n)"

export HOME=/var/lib/rabbitmq
cd /var/lib/rabbitmq
# The rabbitmq-server script traps SIGTERM (docker stop) and stops the node
# cleanly; exec so it is PID 1 and receives the signal directly.
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
  /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
