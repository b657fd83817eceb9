#!/usr/bin/env bash
# check-layout.sh - the source tree keeps the shape docs/architecture.md describes:
#   * an #include goes only down the allowed calls:
#       main -> cmd -> engines (archive, backup, restore, drill) -> repo -> {pg, pipe, storage}
#       -> common; pipe -> crypto -> common (the encryption filters wrap the crypto core);
#       drill may call restore, pg may use pipe; nothing sideways otherwise
#       (archive must not include restore/, repo must not include cmd/ or an engine, pg must
#       not include repo/ ...);
#   * no two .c files under src/ share a basename (a name says where a thing is);
#   * no file under src/ or include/ is over 800 lines;
#   * no function under src/ is over 80 lines (body lines between a "{" and a "}" at column 0,
#     which is how every function here is written).
# Prints each violation and a summary line; exits 1 if there is any. Run from anywhere:
# `make check-layout` and tests/run-all.sh's unit stage run it.
set -uo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 2

MAX_FILE_LINES=800
MAX_FUNC_LINES=80
bad=0
fail() { echo "check-layout: $*"; bad=$((bad + 1)); }

# What each folder may include besides itself.
allowed() {
    case $1 in
        main) echo "cmd common" ;;
        cmd) echo "archive backup restore drill serve repo pg pipe crypto storage common" ;;
        module) echo "cmd archive repo pg pipe crypto storage common" ;;
        archive | backup | restore | serve) echo "repo pg pipe crypto storage common" ;;
        drill) echo "restore repo pg pipe crypto storage common" ;;
        repo) echo "pg pipe crypto storage common" ;;
        pg) echo "pipe crypto common" ;;
        pipe) echo "crypto common" ;;
        crypto | storage) echo "common" ;;
        common) echo "" ;;
        *) echo "?" ;;
    esac
}

# The folder (layer) of a source or header path.
layer_of() {
    case $1 in
        src/main.c) echo main ;;
        src/*/*) echo "$1" | cut -d/ -f2 ;;
        include/pgpitr/*/*) echo "$1" | cut -d/ -f3 ;;
        *) echo "?" ;;
    esac
}

# Known exceptions, "FILE INCLUDE" per line (none today): an exception is a debt, say why.
EXCEPTIONS=""

files=$(find src include -name '*.[ch]' | sort)
for f in $files; do
    from=$(layer_of "$f")
    ok=" $from $(allowed "$from") "
    while IFS=: read -r line inc; do
        case $inc in
            pgpitr/*/*) to=$(echo "$inc" | cut -d/ -f2) ;;
            ../*/*) to=$(echo "$inc" | cut -d/ -f2) ;;
            */*) to="?" ;;
            *) to=$from ;;       # beside the source: its own folder
        esac
        case $ok in
            *" $to "*) ;;
            *) grep -qxF "$f $inc" <<<"$EXCEPTIONS" ||
                   fail "$f:$line: $from must not include \"$inc\" ($to)" ;;
        esac
    done < <(grep -n '^#include "' "$f" | sed -E 's/^([0-9]+):#include "([^"]*)".*/\1:\2/')
done

dups=$(find src -name '*.c' -printf '%f\n' | sort | uniq -d)
for d in $dups; do
    fail "duplicate basename $d: $(find src -name "$d" | tr '\n' ' ')"
done

for f in $files; do
    n=$(wc -l <"$f")
    [ "$n" -le "$MAX_FILE_LINES" ] || fail "$f: $n lines (max $MAX_FILE_LINES)"
done

# One line per function: FILE:LINE NAME BODY_LINES.
funcs=$(for f in $(find src -name '*.c' | sort); do
    awk '
        FNR == 1 { sig = ""; start = 0 }
        /^[A-Za-z_].*\(/ && !/;[ \t]*$/ { sig = $0; sigline = FNR }
        /^\{/ { start = FNR }
        /^\}/ && start {
            name = sig; sub(/\(.*/, "", name); gsub(/.*[ *]/, "", name)
            print FILENAME ":" sigline " " name " " (FNR - start - 1); start = 0
        }' "$f"
done)
while read -r where name len; do
    [ -n "$where" ] || continue
    [ "$len" -le "$MAX_FUNC_LINES" ] || fail "$where: function $name is $len lines (max $MAX_FUNC_LINES)"
done <<<"$funcs"

nfiles=$(echo "$files" | wc -l)
nfuncs=$(echo "$funcs" | grep -c .)
if [ "$bad" -eq 0 ]; then
    echo "check-layout: ok ($nfiles files, $nfuncs functions)"
    exit 0
fi
echo "check-layout: $bad violation(s) ($nfiles files, $nfuncs functions)"
exit 1
