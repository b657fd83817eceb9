#!/usr/bin/env bash
# check-install.sh - `make install` and what it installs (make check-packaging; the packaging
# stage of tests/run-all.sh). Needs mandoc and systemd (systemd-analyze), which
# contrib/install-deps.sh installs; no root, no PostgreSQL, no running systemd. Checks:
#   * make install DESTDIR=... puts the binary, a page per command (the commands of
#     `pgpitr --help`), pgpitr(1), pgpitr.conf(5), every unit of systemd/, the tmpfiles.d
#     entry, the example configuration and the docs in place; the installed binary runs;
#     make uninstall removes every file again;
#   * mandoc -Tlint: no message but "referenced manual not found" (the pages are not in the
#     system's manual database), and every .Xr names a page that was installed;
#   * every unit of systemd/ (*.service, *.timer; a template checked as an instance) passes
#     systemd-analyze verify with ExecStart= pointing at an installed binary, and every
#     service has the hardening lines of MANDATORY below, or says why not with a comment
#     "# hardening-exception: Key: reason"; systemd-analyze security --offline=true prints
#     each service's exposure, which must stay below MAX_EXPOSURE.
# Prints "packaging: N passed, M failed" and exits non-zero when a check failed.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top" || exit 2
B=${B:-build}
MANDATORY=(NoNewPrivileges=yes PrivateTmp=yes PrivateDevices=yes ProtectSystem=strict
           ProtectHome=yes ProtectKernelTunables=yes ProtectKernelModules=yes
           ProtectKernelLogs=yes ProtectControlGroups=yes RestrictSUIDSGID=yes
           RestrictNamespaces=yes RestrictRealtime=yes LockPersonality=yes
           MemoryDenyWriteExecute=yes SystemCallArchitectures=native CapabilityBoundingSet=
           'UMask=0*[0-7]?[0-7]7' 'RestrictAddressFamilies=.+' 'SystemCallFilter=@system-service')
MAX_EXPOSURE=${MAX_EXPOSURE:-5.0}

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgpitr-pkg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# --- make install into a DESTDIR ---------------------------------------------------------
stage=$tmp/stage
if make -s install B="$B" DESTDIR="$stage" PREFIX=/usr/local >"$tmp/install.log" 2>&1; then
    ok "make install DESTDIR"
else
    bad "make install DESTDIR: $(tail -n 3 "$tmp/install.log")"
fi
(cd "$stage" && find . -type f | sort) >"$tmp/files"
echo "installed:"; sed 's/^\./  /' "$tmp/files"
want=(usr/local/bin/pgpitr usr/local/share/man/man1/pgpitr.1 usr/local/share/man/man5/pgpitr.conf.5
      usr/local/lib/tmpfiles.d/pgpitr.conf usr/local/share/doc/pgpitr/README.md
      usr/local/share/doc/pgpitr/exit-status.md
      usr/local/share/doc/pgpitr/examples/pgpitr.conf.example)
for c in $("$B/pgpitr" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && $1 != "version" {print $1}'); do
    want+=("usr/local/share/man/man1/pgpitr-$c.1")
done
for u in systemd/*.service systemd/*.timer; do want+=("usr/local/lib/systemd/system/${u#systemd/}"); done
missing=0
for w in "${want[@]}"; do
    grep -qxF "./$w" "$tmp/files" || { bad "not installed: $w"; missing=1; }
done
[ "$missing" -eq 0 ] && ok "every expected file installed (${#want[@]})"
v=$("$stage/usr/local/bin/pgpitr" --version 2>&1)
[ "$v" = "pgpitr $(cat VERSION)" ] && ok "installed pgpitr --version: $v" || bad "installed --version said \"$v\""
if grep -l '/usr/local/bin/pgpitr' "$stage"/usr/local/lib/systemd/system/*.service >/dev/null; then
    ok "units run /usr/local/bin/pgpitr"
else
    bad "units do not run /usr/local/bin/pgpitr"
fi
make -s uninstall B="$B" DESTDIR="$stage" PREFIX=/usr/local >/dev/null 2>&1
left=$(cd "$stage" && find . -type f)
[ -z "$left" ] && ok "make uninstall removed every file" || bad "left by make uninstall: $left"

# --- into a real prefix: the units' ExecStart= names a binary that exists ----------------
prefix=$tmp/prefix
make -s install B="$B" PREFIX="$prefix" >"$tmp/install2.log" 2>&1 || bad "make install PREFIX=$prefix"
grep -q "ExecStart=$prefix/bin/pgpitr " "$prefix/lib/systemd/system/pgpitr-backup.service" &&
    ok "ExecStart= follows PREFIX" || bad "ExecStart= does not follow PREFIX"

# --- the manual pages ----------------------------------------------------------------------
lint=$(mandoc -Tlint "$prefix"/share/man/man1/*.1 "$prefix"/share/man/man5/*.5 2>&1 |
       grep -v 'STYLE: referenced manual not found')
[ -z "$lint" ] && ok "mandoc -Tlint clean" || bad "mandoc -Tlint: $lint"
xr_bad=0
while read -r page sect; do
    [ -f "$prefix/share/man/man$sect/$page.$sect" ] || { bad "page $page($sect) referenced, not installed"; xr_bad=1; }
done < <(cat "$prefix"/share/man/man*/* | sed -n 's/^\.Xr \([^ ]*\) \([0-9]\).*/\1 \2/p' | sort -u)
[ "$xr_bad" -eq 0 ] && ok "every .Xr names an installed page"
if MANWIDTH=80 man -M "$prefix/share/man" pgpitr-restore 2>/dev/null | grep -q -- '--target-time TS'; then
    ok "man -M PREFIX pgpitr-restore renders its options"
else
    bad "man pgpitr-restore did not render --target-time"
fi

# --- the systemd units --------------------------------------------------------------------
units=$prefix/lib/systemd/system
for f in "$units"/*@.service; do   # a template is verified as an instance
    [ -e "$f" ] && cp "$f" "${f%@.service}@verify.service"
done
vfiles=()
for f in "$units"/*.service "$units"/*.timer; do
    case $f in *@.service) continue ;; esac
    vfiles+=("$f")
done
# Documentation=man:... pages are looked up: in the manual pages just installed.
out=$(MANPATH="$prefix/share/man" systemd-analyze verify "${vfiles[@]}" 2>&1); rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
    ok "systemd-analyze verify clean (${#vfiles[@]} units)"
else
    bad "systemd-analyze verify (exit $rc): $out"
fi
for u in systemd/*.service; do
    name=${u#systemd/}
    for m in "${MANDATORY[@]}"; do
        key=${m%%=*}
        if ! grep -Eqx "$m" "$u" && ! grep -Eq "^# hardening-exception: $key:" "$u"; then
            bad "$name: no $m (nor a \"# hardening-exception: $key: reason\" comment)"
            continue 2
        fi
    done
    grep -q '^ProtectSystem=strict' "$u" && ! grep -q '^ReadWritePaths=' "$u" &&
        grep -q 'repo' "$u" && { bad "$name: ProtectSystem=strict and no ReadWritePaths="; continue; }
    ok "$name: hardened"
done
echo "systemd-analyze security --offline=true (exposure, 0 best .. 10 worst):"
for f in "$units"/*.service; do
    case $f in *@.service) continue ;; esac
    score=$(systemd-analyze security --offline=true --no-pager "$f" 2>/dev/null |
            sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
    name=$(basename "$f")
    echo "  $name ${score:-?}"
    if [ -z "$score" ]; then
        bad "$name: no exposure score"
    elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then
        bad "$name: exposure $score above $MAX_EXPOSURE"
    else
        ok "$name: exposure $score"
    fi
done

echo "packaging: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
