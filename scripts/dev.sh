#!/usr/bin/env bash
# The developer entry point.
#   scripts/dev.sh up     install build dependencies, build allot, start it standalone (allot up)
#   scripts/dev.sh test   build and run every test: unit, property, scenarios, CLI, crash,
#                         format, the dashboard in headless Chromium, then the
#                         request-decoding fuzzer for FUZZ_SECONDS (60)
#   scripts/dev.sh deps   install the Debian 12 packages and the dashboard's npm packages
#   scripts/dev.sh build  configure and build into build/ (RelWithDebInfo)
#   scripts/dev.sh build-release  build everything as Release into build-release/ (warnings are
#                         errors there too; `test` runs it after the tests)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake ninja-build g++ pkg-config clang-format libgtest-dev libgmock-dev
          libbenchmark-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
          libsqlite3-dev libcpp-httplib-dev libssl-dev zsh clang-14 libclang-rt-14-dev
          podman runc busybox-static curl libboost-dev jupyter-notebook tmux hey wrk
          python3-torch postgresql-15 libpq-dev openssl iproute2)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Node.js builds the dashboard: Debian's (18) unless the machine has one.
  command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  web_deps
}

# The dashboard's npm packages (web/package-lock.json), when they changed.
web_deps() {
  if [ ! -f web/node_modules/.package-lock.json ] ||
     [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The browser the dashboard's end-to-end test drives (Debian's Chromium).
browser_deps() {
  command -v chromium >/dev/null && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
}

build() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DALLOT_REQUIRE_DASHBOARD=ON \
    -DALLOT_REQUIRE_BROWSER_TESTS="${ALLOT_REQUIRE_BROWSER_TESTS:-OFF}" >/dev/null
  cmake --build build -j "$(nproc)"
}

# Every build type builds with warnings as errors; the tests run in
# RelWithDebInfo, and `test` also compiles Release (-O3), where GCC's
# flow-sensitive warnings differ most. Debug builds the same way.
build_release() {
  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-release -j "$(nproc)"
}

# The libFuzzer target (clang, sanitizers) in a build of its own, run for a
# bounded time on a copy of the seed corpus; a crash fails the run.
fuzz() {
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DALLOT_FUZZ=ON >/dev/null
  cmake --build build-fuzz -j "$(nproc)" --target request_decoding_fuzzer
  local corpus
  corpus="$(mktemp -d)"
  cp tests/fuzz/corpus/* "$corpus"/
  build-fuzz/tests/request_decoding_fuzzer -max_total_time="${FUZZ_SECONDS:-60}" \
    -max_len=4096 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
  local status=${PIPESTATUS[0]}
  rm -rf "$corpus"
  return "$status"
}

case "${1:-}" in
  deps) deps ;;
  build) deps; build ;;
  up)
    deps
    build
    echo "allot is built: build/src/cli/allot. Starting it standalone (Ctrl-C stops it):"
    exec build/src/cli/allot up "${@:2}"
    ;;
  test)
    deps
    browser_deps
    ALLOT_REQUIRE_BROWSER_TESTS=ON build
    ctest --test-dir build --output-on-failure -j "$(nproc)"
    fuzz
    build_release
    ;;
  fuzz) deps; fuzz ;;
  build-release) deps; build_release ;;
  *)
    sed -n '2,9p' "$0"
    exit 2
    ;;
esac
