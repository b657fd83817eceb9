#!/usr/bin/env bash
# pgpitr notify UNIT (run by pgpitr-notify@.service through OnFailure=) with fake systemctl and
# journalctl on PATH (this machine has no systemd as PID 1; the seam is the two programs notify
# runs) and a notify-command that writes its stdin to a file: the JSON event (jq) carries the
# unit, result, exit status, host, time and the log lines byte for byte, hostile ones
# included, and nothing of them is ever run; hostile unit names are refused before anything
# runs; notify-command from the configuration file and from PGPITR_NOTIFY_COMMAND; a failing,
# a hanging (killed at notify-timeout, its children too) and a missing notify-command; an
# event without systemctl still goes out, naming what it could not learn.
# Needs no repository: the same on every repository kind.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
source "$HERE/lib.sh"

fake="$WORK/fakebin"
out="$WORK/notify"
mkdir_pg "$fake" "$out"
# systemctl show ... -- UNIT: records its arguments, answers like systemd for a failed unit
cat >"$fake/systemctl" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$out/systemctl.args"
printf 'Result=exit-code\nExecMainStatus=5\nExecMainCode=1\nActiveState=failed\nSubState=failed\nInvocationID=0123abcd\n'
EOF
# journalctl: hostile log lines (shell syntax, quotes, a control byte, a JSON breaker)
cat >"$fake/journalctl" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$out/journalctl.args"
cat "$out/log.txt"
EOF
printf '%s\n' 'pgpitr: error: $(touch '"$out"'/pwned1) `touch '"$out"'/pwned2`; touch '"$out"'/pwned3' \
    'quote " backslash \ brace } bracket ]", "injected": "x' \
    "$(printf 'bell\aend')" 'tail line' >"$out/log.txt"
chmod 0755 "$fake/systemctl" "$fake/journalctl"
own "$fake" "$out"
FAKEPATH="$fake:$PATH"

# notify UNIT [env...]: pgpitr notify -- UNIT (as pgpitr-notify@.service runs it: a unit
# name may start with "-") as the cluster user with the fakes on PATH
notify() {
    local unit=$1
    shift
    env "$@" "${AS_PG[@]}" env PATH="$FAKEPATH" "$PGPITR" notify -- "$unit" \
        >"$WORK/last.out" 2>"$WORK/last.err" && RC=0 || RC=$?
    OUT=$(cat "$WORK/last.out")
    ERR=$(cat "$WORK/last.err")
    check_san_stderr "$WORK/last.err" "pgpitr notify"
}
ev() { jq -r "$1" "$out/event.json"; }
writer="cat > $out/event.json"

log "an event through PGPITR_NOTIFY_COMMAND"
t0=$(date +%s)
notify pgpitr-backup.service PGPITR_NOTIFY_COMMAND="$writer"
assert_eq 0 "$RC" "notify exit status ($ERR)"
jq empty "$out/event.json" || fail "the event is not JSON"
assert_eq pgpitr-backup.service "$(ev .unit)" "unit"
assert_eq unit-failed "$(ev .event)" "event"
assert_eq exit-code "$(ev .result)" "result"
assert_eq 5 "$(ev .exit_status)" "exit status"
assert_eq failed "$(ev .systemd.ActiveState)" "ActiveState"
assert_eq "$(hostname)" "$(ev .host)" "host"
t=$(date -u -d "$(ev .time)" +%s)
[ "$t" -ge "$t0" ] && [ "$t" -le "$(date +%s)" ] || fail "event time $(ev .time) is not now"
assert_eq 0 "$(ev '.errors | length')" "errors"
assert_eq "$(sed -n 1p "$out/log.txt")" "$(ev '.log[0]')" "hostile log line kept as it was"
assert_eq "$(sed -n 2p "$out/log.txt")" "$(ev '.log[1]')" "JSON-breaking log line kept as it was"
assert_eq "$(printf 'bell\aend')" "$(ev '.log[2]')" "control byte kept (escaped in the JSON)"
assert_eq 4 "$(ev '.log | length')" "log lines"
assert_eq 'x' "$(ev '.injected // "x"')" "a log line added a key"
for f in pwned1 pwned2 pwned3; do assert_absent "$out/$f" "a log line was run ($f)"; done
assert_eq "show
--property=Result,ExecMainStatus,ExecMainCode,ActiveState,SubState,InvocationID
--
pgpitr-backup.service" "$(cat "$out/systemctl.args")" "systemctl arguments"
assert_eq "--unit=pgpitr-backup.service
-n
20
--no-pager
--output=short-iso" "$(cat "$out/journalctl.args")" "journalctl arguments"

log "unit names: odd but valid ones pass whole, hostile ones are refused before anything runs"
for unit in '-.mount' 'pgpitr-drill@a\x2db:c.service'; do
    rm -f "$out/event.json" "$out/systemctl.args"
    notify "$unit" PGPITR_NOTIFY_COMMAND="$writer"
    assert_eq 0 "$RC" "notify $unit ($ERR)"
    assert_eq "$unit" "$(ev .unit)" "unit $unit in the event"
    assert_eq "$unit" "$(tail -n 1 "$out/systemctl.args")" "unit $unit given to systemctl as it is"
done
for unit in 'x;touch '"$out"'/pwned4' '$(touch '"$out"'/pwned5).service' 'a b.service' \
    "$(printf 'a\nb.service')" 'a"b.service' '' "$(head -c 300 /dev/zero | tr '\0' a)"; do
    rm -f "$out/event.json" "$out/systemctl.args"
    notify "$unit" PGPITR_NOTIFY_COMMAND="$writer"
    assert_eq 2 "$RC" "notify of a hostile unit name"
    assert_one_line_error "notify of a hostile unit name"
    assert_absent "$out/event.json" "notify-command ran for a hostile unit name"
    assert_absent "$out/systemctl.args" "systemctl ran for a hostile unit name"
done
assert_absent "$out/pwned4" "a unit name was run"
assert_absent "$out/pwned5" "a unit name was run"

log "notify-command from the configuration file, notify-timeout"
cfg="$WORK/pgpitr.conf"
printf '[global]\nnotify-command = %s\nnotify-timeout = 2s\n' "$writer" >"$cfg"
own "$cfg"
rm -f "$out/event.json"
notify pgpitr-expire.service PGPITR_CONFIG="$cfg"
assert_eq 0 "$RC" "notify with notify-command from the configuration ($ERR)"
assert_eq pgpitr-expire.service "$(ev .unit)" "unit (configuration file)"

log "a failing, a hanging and a missing notify-command"
notify pgpitr-backup.service PGPITR_NOTIFY_COMMAND='cat >/dev/null; exit 3'
assert_eq 5 "$RC" "notify-command exiting 3"
assert_contains "$ERR" "notify-command exited with status 3" "error of a failing command"
t0=$(date +%s)
notify pgpitr-backup.service PGPITR_NOTIFY_TIMEOUT=2s \
    PGPITR_NOTIFY_COMMAND="sh -c 'echo \$\$ > $out/child.pid; exec sleep 300' & wait"
elapsed=$(($(date +%s) - t0))
assert_eq 5 "$RC" "notify-command that hangs"
assert_contains "$ERR" "did not finish within 2 s" "error of a hanging command"
[ "$elapsed" -lt 20 ] || fail "notify took ${elapsed}s with notify-timeout 2s"
child=$(cat "$out/child.pid")
wait_gone "$child" 10 || fail "the hanging command's child $child is still running"
notify pgpitr-backup.service
assert_eq 3 "$RC" "notify without notify-command"
assert_contains "$ERR" "no notify-command configured" "error without notify-command"
assert_eq pgpitr-backup.service "$(jq -r .unit <<<"$OUT")" "the event printed on stdout instead"

log "without systemctl the event still goes out"
rm -f "$fake/systemctl" "$out/event.json"
FAKEPATH=$fake   # no other systemctl either (the journalctl fake needs only printf and cat)
sed -i "s|^cat |/bin/cat |" "$fake/journalctl"
notify pgpitr-backup.service PGPITR_NOTIFY_COMMAND="/bin/cat > $out/event.json"
assert_eq 0 "$RC" "notify without systemctl ($ERR)"
assert_eq null "$(ev .result)" "result without systemctl"
assert_eq null "$(ev .exit_status)" "exit status without systemctl"
assert_contains "$(ev '.errors[0]')" 'cannot run "systemctl"' "the event says what it could not learn"
assert_eq 4 "$(ev '.log | length')" "log lines without systemctl"
log "ok"
