#!/usr/bin/env bash
# Installs, on Debian 12, every package pgpitr needs to build, test and benchmark.
# Idempotent: only missing packages are installed; apt-get update runs only when needed.
# Needs root (or passwordless sudo) only when something is actually missing.
set -euo pipefail

# postgresql-server-dev-15 (PGXS) builds the archive module (make module, src/module/).
# clang + libclang-rt-14-dev (libFuzzer, sanitizer runtimes) build tests/fuzz; llvm gives
# llvm-symbolizer, for readable stack traces in fuzz crash reports.
build_pkgs=(gcc make pkg-config libpq-dev libzstd-dev liblz4-dev libssl-dev libjansson-dev
            libinih-dev libarchive-dev libcurl4-openssl-dev libexpat1-dev libmicrohttpd-dev check valgrind
            libisal-dev
            postgresql-server-dev-15
            clang libclang-rt-14-dev llvm)
run_pkgs=(postgresql-15 postgresql-client-15 postgresql-contrib zstd lz4 util-linux procps
          e2fsprogs python3-jsonschema python3-yaml jq nodejs openssl curl time libmicrohttpd12)
# make check-packaging and the Debian package (tests/packaging/): mandoc -Tlint, man -w,
# systemd-analyze, dpkg-buildpackage with debhelper, lintian.
pkg_pkgs=(mandoc man-db systemd dpkg-dev debhelper lintian)
# promtool (check and unit-test contrib/prometheus, validate `pgpitr metrics`) comes only with
# the server package; installed on its own below so that the server is never started.
prom_pkgs=(prometheus)
bench_pkgs=(pgbackrest time)
want=("${build_pkgs[@]}" "${run_pkgs[@]}" "${pkg_pkgs[@]}" "${prom_pkgs[@]}")
[ "${PGPITR_WITH_BENCH:-0}" = 1 ] && want+=("${bench_pkgs[@]}")
# The S3 test server (tests/integration, ../shared/tools/s3-test-server) runs on node and is
# installed once with npm. A nodejs from NodeSource ships its own npm (and conflicts with
# Debian's npm package): ask for the package only when no npm is there.
command -v npm >/dev/null 2>&1 || want+=(npm)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# The postgresql-15 package would otherwise create and start a "main" cluster we do not use.
if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster = false' /etc/postgresql-common/createcluster.conf; then
  $SUDO mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' | $SUDO tee -a /etc/postgresql-common/createcluster.conf >/dev/null
fi
$SUDO apt-get update -qq
others=()
prom=0
for p in "${missing[@]}"; do
  if [ "$p" = prometheus ]; then prom=1; else others+=("$p"); fi
done
[ ${#others[@]} -eq 0 ] || $SUDO apt-get install -y -qq --no-install-recommends "${others[@]}" >/dev/null
[ "$prom" = 1 ] || exit 0
# prometheus's postinst starts the server (invoke-rc.d without systemd, the unit with it) and
# enables it at boot: a Prometheus nobody configured, listening on :9090, and a failed install
# when that port is taken. A policy-rc.d that forbids every start (the mechanism invoke-rc.d
# and deb-systemd-invoke ask) keeps it stopped during the install; one already there (a
# container image's) is left as it is. Then it is disabled at boot: we only want promtool.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# pgpitr install-deps: no service starts while prometheus installs\nexit 101\n' |
    $SUDO tee "$policy" >/dev/null
  $SUDO chmod 0755 "$policy"
  own_policy=1
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
else
  $SUDO update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
[ "$own_policy" = 0 ] || { $SUDO rm -f "$policy"; trap - EXIT; }
