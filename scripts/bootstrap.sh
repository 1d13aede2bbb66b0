#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's two set-up commands, on a fresh Debian 12 / Ubuntu 24.04 machine:
#   scripts/bootstrap.sh run [mtwserver options]   install what is missing, build, run mtwserver
#   scripts/bootstrap.sh test                      install what is missing, build with -Werror,
#                                                  check formatting, run every test, run them
#                                                  again on the portable build under ASan +
#                                                  UBSan, run the integration tests under TSan,
#                                                  run the fuzz targets (corpora + 10 s each),
#                                                  build, lint, install, run and purge the
#                                                  Debian packages
# Both are idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
[ $# -gt 0 ] && shift

build_packages=(cmake ninja-build g++ pkg-config git libhttp-parser-dev
                qt6-base-dev qt6-websockets-dev libtomlplusplus-dev libexpected-dev libssl-dev
                qtkeychain-qt6-dev libgl-dev libxkbcommon-dev libqt6svg6 libsqlite3-dev
                libsystemd-dev libhiredis-dev)
test_packages=(clang-format python3 python3-websockets chromium fonts-dejavu-core
               dbus gnome-keyring libsecret-1-0 clang libclang-rt-14-dev
               ccache dpkg-dev fakeroot lintian appstream systemd
               redis-server nodejs node-ws valgrind openssl
               python3-jsonschema python3-yaml prometheus)

install_missing() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "bootstrap: installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

check_format() {
    local files
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        files=$(git ls-files '*.cpp' '*.h')
    else
        files=$(find core server tests bench plugins admin-gui -name '*.cpp' -o -name '*.h' 2>/dev/null)
    fi
    # shellcheck disable=SC2086
    if ! clang-format --dry-run -Werror $files; then
        echo "bootstrap: the files above are not formatted; run: clang-format -i <file>" >&2
        return 1
    fi
    echo "bootstrap: formatting OK ($(echo "$files" | wc -w) files)"
}

# How long each part of the test run takes, for the CI log (docs/testing.md has the budget).
stage_name=""
stage_start=0
stage() {
    local now
    now=$(date +%s)
    [ -n "$stage_name" ] && echo "bootstrap: ${stage_name%%:*} took $((now - stage_start)) s"
    stage_name="$*"
    stage_start=$now
    [ "$*" != done ] && echo "bootstrap: ${stage_name}"
    return 0
}

case "$mode" in
run)
    install_missing "${build_packages[@]}"
    cmake --preset dev >/dev/null
    cmake --build --preset dev
    exec build/dev/bin/mtwserver "$@"
    ;;
test)
    stage setup: install what is missing, check formatting
    install_missing "${build_packages[@]}" "${test_packages[@]}"
    check_format
    # ccache lets the portable and package builds below reuse what the ci build compiled:
    # only the files that differ between the configurations are compiled again.
    export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    stage ci: build and run every test
    cmake --preset ci "${launcher[@]}" >/dev/null
    cmake --build --preset ci
    ctest --preset ci
    # The portable fallbacks (packaging/README.md) under AddressSanitizer + UBSan: the whole
    # suite once more, where a use after free, a leak or undefined behaviour fails the test.
    stage portable-asan: build and run every test under ASan + UBSan
    cmake --preset portable-asan "${launcher[@]}" >/dev/null
    cmake --build --preset portable-asan
    ctest --preset portable-asan
    # ThreadSanitizer over the server, its plugins and the integration tests (docs/testing.md).
    stage tsan: build and run the integration tests under TSan
    cmake --preset tsan "${launcher[@]}" >/dev/null
    cmake --build --preset tsan
    ctest --preset tsan
    # Every libFuzzer target (clang, ASan + UBSan) over its corpus, then 10 s of fuzzing each:
    # a regression in a parser shows up here, and new inputs are tried on every run.
    stage fuzz: corpora and 10 s of fuzzing per target
    tests/fuzz/run --seconds 10
    # Build, lint, install, run and purge the Debian packages.
    stage packages: build, lint, install, run, purge
    MTW_PACKAGE_CMAKE_ARGS="${launcher[*]}" packaging/check-packages.sh
    stage done
    ;;
*)
    echo "usage: scripts/bootstrap.sh run [mtwserver options] | test" >&2
    exit 64
    ;;
esac
