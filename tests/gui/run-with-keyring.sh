#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a command against a real Secret Service (gnome-keyring) for tests of the OS keychain.
#
#   tests/gui/run-with-keyring.sh <command> [args...]
#
# With a session bus already present (a desktop session) the command runs as is, against the
# user's keychain. Without one (CI, ssh, containers) the script re-executes itself under
# dbus-run-session with a private, throwaway keyring in a temporary directory, unlocked with a
# throwaway password, so the user's real keyrings are never touched.
# Needs: apt-get install dbus gnome-keyring libsecret-1-0
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 <command> [args...]" >&2
    exit 2
fi

if [[ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]]; then
    for tool in dbus-run-session gnome-keyring-daemon; do
        if ! command -v "$tool" >/dev/null; then
            echo "$0: $tool not found; install: apt-get install dbus gnome-keyring libsecret-1-0" >&2
            exit 1
        fi
    done
    export MTW_KEYRING_PRIVATE=1
    exec dbus-run-session -- "$0" "$@"
fi

if [[ "${MTW_KEYRING_PRIVATE:-}" == 1 ]]; then
    unset MTW_KEYRING_PRIVATE
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/mtw-keyring.XXXXXX")
    trap 'rm -rf "$scratch"' EXIT
    # gnome-keyring keeps its keyrings under XDG_DATA_HOME and its control socket under
    # XDG_RUNTIME_DIR: both private to this run.
    export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/run"
    mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
    chmod 700 "$XDG_RUNTIME_DIR"
    # --unlock reads the password from stdin and creates the login keyring with it.
    eval "$(echo -n mtw-throwaway | gnome-keyring-daemon --unlock --components=secrets)"
    export GNOME_KEYRING_CONTROL
    "$@"
    exit $?
fi

exec "$@"
