#!/usr/bin/env bash
# Installs the npm packages the server tests use (the official openai client, and
# @huggingface/jinja as the reference chat-template renderer) into
# tests/server/npm/node_modules, exactly as package-lock.json pins them. Idempotent: does
# nothing while node_modules matches the lock file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tests/server/npm"
stamp="$dir/node_modules/.loom-lock.sha256"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm-server-test-deps: npm is not installed (install Node.js 20 and npm)" >&2
  exit 1
fi

want=$(sha256sum "$dir/package.json" "$dir/package-lock.json" | sha256sum | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
complete=1
for pkg in $(node -e 'const l = require(process.argv[1]);
  for (const k of Object.keys(l.packages)) if (k) console.log(k);' "$dir/package-lock.json"); do
  [ -f "$dir/$pkg/package.json" ] || complete=0
done

if [ "$want" = "$have" ] && [ "$complete" = 1 ]; then
  echo "npm-server-test-deps: up to date"
  exit 0
fi

echo "npm-server-test-deps: installing into $dir/node_modules"
npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
