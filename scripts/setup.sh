#!/usr/bin/env bash
# Installs what loom needs to build and test on Debian 12 (non-interactive, idempotent):
# compilers, CMake, and the libraries named in DESIGN.md. With --tests it also installs
# what only the test suite drives: Chromium for the web page's browser tests, HAProxy (and
# curl) for the replicas test of deploy/.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev libxxhash-dev
  libcpp-httplib-dev libedit-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-jsonschema python3-jinja2
)
# tmux drives `loom chat` through a real pseudo-terminal in the tests; clang and its
# runtime libraries build the libFuzzer targets (scripts/fuzz.sh); haproxy balances the
# replicas of tests/deploy (deploy/rolling-restart.sh reads its view with curl).
[ "${1:-}" = "--tests" ] && packages+=(chromium tmux clang libclang-rt-14-dev haproxy curl)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js and npm run the test tools (the openai client, reference renderers); a machine
# that has them from elsewhere keeps its own.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
else
  echo "setup: all packages present"
fi
