#!/usr/bin/env bash
# The developer entry point.
#   scripts/dev.sh up     install build dependencies, build allot, start it standalone (allot up)
#   scripts/dev.sh test   build and run every test: unit, property, scenarios, format
#   scripts/dev.sh deps   install the Debian 12 packages the build needs
#   scripts/dev.sh build  configure and build into build/
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(cmake ninja-build g++ pkg-config clang-format libgtest-dev libgmock-dev
          libbenchmark-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
          libsqlite3-dev libcpp-httplib-dev libssl-dev zsh)

deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j "$(nproc)"
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
    build
    ctest --test-dir build --output-on-failure -j "$(nproc)"
    ;;
  *)
    sed -n '2,7p' "$0"
    exit 2
    ;;
esac
