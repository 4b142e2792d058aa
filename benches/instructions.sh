#!/usr/bin/env bash
# Instructions a build spends analyzing the first MB of a log, counted by
# callgrind: on this shared 2-core host wall times move by a fifth from run
# to run, instruction counts by about a tenth of a percent, so a change of
# one percent is told by these (benches/README.md). Prints the md5 of the
# `analyze --json` output (the same for two builds that agree: the slice
# is kept at one path), the total, and the TOP functions by inclusive count
# (a function's count may be split over several lines, by the file its
# inlined code comes from).
#
#   benches/instructions.sh BUILD LOG [MB] [TOP]      # 40 MB, top 30
set -euo pipefail
build="$1"
log="$2"
mb="${3:-40}"
top="${4:-30}"
command -v valgrind > /dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 2; }
# Named by the log's full path too: two logs of one file name get two slices.
key=$(realpath "$log" | md5sum | cut -c1-8)
slice="${TMPDIR:-/tmp}/instructions-$(basename "$log" .log)-$key-${mb}MB.log"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Whole lines only: the last, likely cut, is left out.
[ -s "$slice" ] || head -c $((mb * 1000000)) "$log" | head -n -1 > "$slice"
echo "$slice: $(wc -l < "$slice") lines, output md5 $(valgrind --tool=callgrind \
    --callgrind-out-file="$out" "$build" analyze --json "$slice" 2> /dev/null | md5sum | cut -c1-8)"
callgrind_annotate --inclusive=yes "$out" 2> /dev/null \
    | grep -E '^ *[0-9,]+ \( *[0-9.]+%\)  ' | grep -Ev 'backtrace|thread_start|call_once|start_thread|libc_start|lifecycle.rs|below main|main \[|::main$' \
    | head -n $((top + 1)) | sed -E 's|  [^ ]*/([^/ ]+):|  \1:|; s| \[[^]]*\]$||' | cut -c1-150
