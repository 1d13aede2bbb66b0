#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The packaging check CI runs after the tests (scripts/bootstrap.sh test), on a Debian 12
# machine where it may install and purge packages (root, or sudo):
#   1. build the DEB and TGZ packages (preset "package"), lintian with no error allowed;
#   2. apt-get install ./*.deb; the installed unit passes systemd-analyze verify, the
#      metainfo appstreamcli validate, the installed mtwserver --check-config;
#   3. the installed binary runs as the unit's user with the unit's ExecStart, environment and
#      directories (check-installed.py): READY=1, /status, a WebSocket round trip, the admin
#      token, SIGTERM -> STOPPING=1 and exit 0; once more with the SQLite store module, which
#      must load from the default plugin directory and write into the state directory;
#   4. apt-get purge leaves nothing behind but the system user mtw (Debian keeps those).
# Extra configure arguments (a compiler launcher, for instance) come from MTW_PACKAGE_CMAKE_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=()
[ "$(id -u)" -ne 0 ] && sudo=(sudo)
say() { echo "check-packages: $*"; }
die() { echo "check-packages: FAIL: $*" >&2; exit 1; }

# The packages target Debian 12; elsewhere (Ubuntu 24.04 runs bootstrap.sh too) neither the
# dependencies nor lintian's verdict have been checked, so only run there when asked to.
# shellcheck disable=SC1091
os=$(. /etc/os-release && echo "${ID:-}-${VERSION_ID:-}")
if [ "$os" != "debian-12" ] && [ "${MTW_CHECK_PACKAGES:-}" != 1 ]; then
    say "skipped on $os: the packages are checked on Debian 12 (MTW_CHECK_PACKAGES=1 forces it)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive

# shellcheck disable=SC2086
cmake --preset package ${MTW_PACKAGE_CMAKE_ARGS:-} >/dev/null
cmake --build --preset package --target package
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' build/package/CMakeCache.txt)
arch=$(dpkg --print-architecture)
debs=("build/package/mtwserver_${version}_${arch}.deb" "build/package/mtwadmin_${version}_${arch}.deb")
tgz=(build/package/mtwserver-"${version}"-*.tar.gz)
for file in "${debs[@]}" "${tgz[@]}"; do
    [ -f "$file" ] || die "$file was not built"
done
listing=$(tar -tzf "${tgz[0]}")
grep -q '/usr/bin/mtwserver$' <<<"$listing" || die "${tgz[0]} has no usr/bin/mtwserver"

say "lintian ${debs[*]}"
lintian --fail-on error --display-info "${debs[@]}"

# A package left by an earlier run would hide what the install does.
if dpkg-query -W -f='${Status}' mtwserver 2>/dev/null | grep -qv '^unknown\|not-installed'; then
    "${sudo[@]}" apt-get purge -y -qq mtwadmin mtwserver >/dev/null
fi

say "apt-get install ${debs[*]}"
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${debs[@]/#/./}" >/dev/null
unit=/usr/lib/systemd/system/mtwserver.service
for path in /usr/bin/mtwserver /usr/bin/mtwadmin /etc/mtw/mtw.toml "$unit" \
            /usr/share/man/man1/mtwserver.1.gz /usr/share/man/man1/mtwadmin.1.gz \
            /usr/share/doc/mtwserver/operations.md /usr/share/doc/mtwserver/copyright \
            /usr/share/applications/mtwadmin.desktop \
            /usr/share/metainfo/org.mtwserver.mtwadmin.metainfo.xml; do
    [ -e "$path" ] || die "$path is not installed"
done
files=$(dpkg -L mtwserver)
plugins=$(dirname "$(grep '/mtw/plugins/mtw-store-sqlite\.so$' <<<"$files")")
[ -n "$plugins" ] || die "mtw-store-sqlite is not installed"
for plugin in mtw-auth-jwt mtw-proxy-http; do
    grep -qx "$plugins/$plugin.so" <<<"$files" || die "$plugin is not installed in $plugins"
done
grep -qx '/etc/mtw/mtw.toml' /var/lib/dpkg/info/mtwserver.conffiles || die "mtw.toml is not a conffile"
getent passwd mtw >/dev/null || die "postinst did not create the system user mtw"

# No man-db on a minimal machine: then the Documentation= man page cannot be looked up.
man_check=--man=no
command -v man >/dev/null && man_check=--man=yes
systemd-analyze verify "$man_check" "$unit"
appstreamcli validate --no-net /usr/share/metainfo/org.mtwserver.mtwadmin.metainfo.xml
(cd / && mtwserver --check-config --config /etc/mtw/mtw.toml)
mtwserver --version

# The unit's EnvironmentFile= chooses a free port on loopback for the run.
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'MTW_HOST=127.0.0.1\nMTW_PORT=%s\n' "$port" | "${sudo[@]}" tee /etc/default/mtwserver >/dev/null
"${sudo[@]}" /usr/bin/python3 packaging/check-installed.py --unit "$unit" --port "$port"

# The store module from the default plugin directory, writing into the state directory (the
# second --config wins over the one in ExecStart).
store_config=$(mktemp /tmp/mtw-store-XXXXXX.toml)
chmod 0644 "$store_config"
cat >"$store_config" <<TOML
[[modules]]
name = "mtw-store-sqlite"
required = true
config = { path = "/var/lib/mtw/check.db" }
TOML
"${sudo[@]}" /usr/bin/python3 packaging/check-installed.py --unit "$unit" --port "$port" \
    --extra "--config $store_config" --expect-file /var/lib/mtw/check.db
say "mtw-store-sqlite loaded from $plugins and wrote /var/lib/mtw/check.db"
rm -f "$store_config"
"${sudo[@]}" rm -f /etc/default/mtwserver
"${sudo[@]}" rm -rf /run/mtwserver # what systemd does with RuntimeDirectory= at stop

say "apt-get purge mtwadmin mtwserver"
"${sudo[@]}" apt-get purge -y -qq mtwadmin mtwserver >/dev/null
left=()
for path in /usr/bin/mtwserver /usr/bin/mtwadmin /etc/mtw /var/lib/mtw "$plugins" \
            "$(dirname "$plugins")" "$unit" /etc/systemd/system/mtwserver.service \
            /etc/systemd/system/multi-user.target.wants/mtwserver.service \
            /var/lib/systemd/deb-systemd-helper-enabled/mtwserver.service.dsh-also \
            /var/lib/systemd/deb-systemd-helper-masked/mtwserver.service \
            /usr/share/doc/mtwserver /usr/share/doc/mtwadmin; do
    [ -e "$path" ] || [ -L "$path" ] && left+=("$path")
done
[ ${#left[@]} -eq 0 ] || die "purge left ${left[*]}"
if dpkg-query -W -f='${Status}\n' mtwserver mtwadmin 2>/dev/null | grep -q 'installed\|config-files'; then
    die "dpkg still lists mtwserver or mtwadmin"
fi
say "OK: built, lintian clean, installed, ran as $(getent passwd mtw | cut -d: -f1) under the unit's settings, purged (the system user mtw stays, as Debian policy allows)"
