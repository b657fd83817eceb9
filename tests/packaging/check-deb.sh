#!/usr/bin/env bash
# check-deb.sh - the Debian package (the deb stage of tests/run-all.sh): builds it with
# `make deb`, runs lintian on it (any error fails; warnings and the rest are printed:
# docs/install.md says which remain and why), then, as root on this throwaway CI machine,
# installs it with dpkg -i and checks `pgpitr --version` (the package's version),
# `man -w pgpitr` and pgpitr-backup(1), `pgpitr check` on an empty repository, the archive
# module in PostgreSQL 15's library directory, the units in /lib/systemd/system (systemd-analyze
# verify of the installed ones), the example configuration, the repository directory made by
# the tmpfiles.d entry when the postgres user exists; then purges it and checks that nothing
# is left but what was there before. When a pgpitr package is already installed, the install
# part is skipped (its state could not be restored). About 2 minutes, most of it the build.
# Prints "deb: N passed, M failed".
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top" || exit 2
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
finish() { echo "deb: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

deb=$(make -s deb 2>&1 | tail -n 1)
if [ ! -f "$deb" ]; then
    bad "make deb: $deb"
    finish
fi
ok "make deb: $deb"
version=$(cat VERSION)

lintian --fail-on error --display-info "$deb" >"$deb.lintian" 2>&1; rc=$?
echo "lintian:"; sed 's/^/  /' "$deb.lintian"
[ "$rc" -eq 0 ] && ok "lintian: no error" || bad "lintian found errors (exit $rc)"

if dpkg-query -W -f='${Status}' pgpitr 2>/dev/null | grep -q 'install ok installed'; then
    echo "skipped: a pgpitr package is installed on this machine; not replacing it"
    finish
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: installing the package needs root"
    finish
fi
had_repo=0
[ -e /var/lib/pgpitr ] && had_repo=1
cleanup() {
    dpkg --purge pgpitr >/dev/null 2>&1
    # The tmpfiles.d entry made it; an empty one that was not there before goes again.
    [ "$had_repo" -eq 1 ] || rmdir /var/lib/pgpitr 2>/dev/null
}
trap cleanup EXIT

if dpkg -i "$deb" >"$deb.install.log" 2>&1; then
    ok "dpkg -i"
else
    bad "dpkg -i: $(tail -n 5 "$deb.install.log")"
    finish
fi
v=$(/usr/bin/pgpitr --version 2>&1)
[ "$v" = "pgpitr $version" ] && ok "/usr/bin/pgpitr --version: $v" || bad "--version said \"$v\""
page=$(man -w pgpitr 2>&1)
[ "$page" = /usr/share/man/man1/pgpitr.1.gz ] && ok "man -w pgpitr: $page" || bad "man -w pgpitr: $page"
man -w pgpitr-backup >/dev/null 2>&1 && ok "man -w pgpitr-backup" || bad "man -w pgpitr-backup"
# The installed binary runs its health check: on a new, empty repository it can reach and
# write, with no backup yet, the verdict is CRITICAL (exit 2) for exactly that.
ckrepo=$(mktemp -d)
rc=0
out=$(/usr/bin/pgpitr --repo "$ckrepo" check 2>&1) || rc=$?
rm -rf "$ckrepo"
if [ "$rc" -eq 2 ] && [ "$(head -n 1 <<<"$out")" = "PGPITR CHECK CRITICAL - 1 critical, 1 warning: backup-age: no complete backup" ] &&
   grep -Eq '^repository +OK ' <<<"$out"; then
    ok "/usr/bin/pgpitr check on an empty repository: CRITICAL, no backup yet"
else
    bad "/usr/bin/pgpitr check (exit $rc): $out"
fi
missing=0
for u in systemd/*.service systemd/*.timer; do
    f=/lib/systemd/system/${u#systemd/}
    [ -f "$f" ] || { bad "not installed: $f"; missing=1; }
    grep -q '/usr/local/bin' "$f" && { bad "$f still runs /usr/local/bin/pgpitr"; missing=1; }
done
[ "$missing" -eq 0 ] && ok "every unit of systemd/ in /lib/systemd/system, running /usr/bin/pgpitr"
vfiles=()
for f in /lib/systemd/system/pgpitr-*.service /lib/systemd/system/pgpitr-*.timer; do
    case $f in *@.service) continue ;; esac
    vfiles+=("$f")
done
out=$(systemd-analyze verify "${vfiles[@]}" 2>&1) && [ -z "$out" ] &&
    ok "systemd-analyze verify of the installed units" || bad "systemd-analyze verify: $out"
[ -f /usr/share/doc/pgpitr/examples/pgpitr.conf.example ] && ok "example configuration" ||
    bad "no /usr/share/doc/pgpitr/examples/pgpitr.conf.example"
if getent passwd postgres >/dev/null; then
    owner=$(stat -c '%U:%G %a' /var/lib/pgpitr 2>&1)
    [ "$owner" = "postgres:postgres 750" ] && ok "/var/lib/pgpitr: $owner" ||
        bad "/var/lib/pgpitr: \"$owner\" (expected postgres:postgres 750)"
fi
# The archive module where archive_library = 'pgpitr' finds it, exporting only its entry
# points (docs/archive-module.md).
so=/usr/lib/postgresql/15/lib/pgpitr.so
syms=$(nm -D --defined-only "$so" 2>&1 | awk '{ print $3 }' | sort | tr '\n' ' ')
[ "$syms" = "Pg_magic_func _PG_archive_module_init _PG_init " ] &&
    ok "archive module $so (exports: $syms)" || bad "archive module $so: $syms"
if dpkg --purge pgpitr >/dev/null 2>&1 && [ ! -e /usr/bin/pgpitr ] && [ ! -e "$so" ] &&
   [ ! -e /lib/systemd/system/pgpitr-backup.service ] && [ ! -e /usr/share/doc/pgpitr ]; then
    ok "dpkg --purge removes it"
else
    bad "dpkg --purge left files behind"
fi
finish
