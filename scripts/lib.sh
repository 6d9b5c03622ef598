# Shared by the scripts: which Node (and, for the images built from Go, which Go) midlab runs on.
NODE_VERSION=24.21.0
# The npm registry's Node build for this host: node-<linux|darwin>-<x64|arm64>.
case "$(uname -s)" in Darwin) HOST_OS=darwin ;; *) HOST_OS=linux ;; esac
case "$(uname -m)" in aarch64 | arm64) HOST_ARCH=arm64 ;; *) HOST_ARCH=x64 ;; esac
NODE_PACKAGE="node-$HOST_OS-$HOST_ARCH"
LOCAL_NODE="$PWD/.tools/node_modules/$NODE_PACKAGE/bin/node"

# node_ok PATH: is PATH a Node the Kafka client runs on (22.22+ on 22, 24.6+ from 24 on)?
node_ok() {
  [ -n "$1" ] && [ -x "$1" ] || return 1
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>24||(a===24&&b>=6)||(a===22&&b>=22)?0:1)' 2>/dev/null
}

# use_node: put a supported Node first on PATH.
use_node() {
  if ! node_ok "$(command -v node || true)" && node_ok "$LOCAL_NODE"; then
    export PATH="$(dirname "$LOCAL_NODE"):$PATH"
  fi
}

# version_ge A B: is version A >= B (dotted numbers)?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# use_go MIN: put a Go >= MIN first on PATH. Without one, fetch the toolchain from the Go
# module proxy (it serves toolchains as the module golang.org/toolchain) into .tools/.
use_go() {
  local min=$1 root="${MIDLAB_ROOT:-$PWD}" os arch proxy dir zip
  [ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"
  if command -v go >/dev/null && version_ge "$(go env GOVERSION 2>/dev/null | sed 's/^go//')" "$min"; then return 0; fi
  os=$(uname -s | tr '[:upper:]' '[:lower:]')
  case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
  dir="$root/.tools/go$min"
  if [ ! -x "$dir/bin/go" ]; then
    proxy=${GOPROXY:-https://proxy.golang.org}; proxy=${proxy%%,*}
    case "$proxy" in direct | off | "") proxy=https://proxy.golang.org ;; esac
    zip="$root/.tools/go$min.zip"
    mkdir -p "$root/.tools"
    echo "fetching Go $min ($os/$arch) from the Go module proxy" >&2
    curl -fsSL "$proxy/golang.org/toolchain/@v/v0.0.1-go$min.$os-$arch.zip" -o "$zip"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" && unzip -q "$zip" -d "$dir.tmp"
    mv "$dir.tmp"/golang.org/toolchain@*/ "$dir" && rm -rf "$dir.tmp" "$zip"
  fi
  export PATH="$dir/bin:$PATH" GOTOOLCHAIN=local
}
