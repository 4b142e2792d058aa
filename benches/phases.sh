#!/usr/bin/env bash
# Where the wall time of one `analyze` run goes, by phase, from `perf`
# samples per thread: when the range readers stopped (the read phase
# ends), when the last other worker thread stopped (the index sort and
# the diagnosis end), and when the process ended (the report, on the main
# thread alone). With `--threads`, each thread's samples per tenth of a
# second too (at 999 Hz, 100 samples a tenth are one core busy), which
# shows how much of two cores a phase keeps busy.
#
#   benches/phases.sh BUILD LOG [--threads | --cpu]
#
# With `--cpu`, the CPU each thread spent in each phase (its samples over
# the rate): what a change saves where three threads share two cores and
# a thread's wall time says little. An instruction count can drop while
# the time does not (a sort that scatters its keys first: benches/README.md).
#
# The readers are taken to be the two non-main threads with the most
# samples among those that started in the first tenth of a second (as
# `analyze -j 2` starts them); on one core or a small log the figures say
# little.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: benches/phases.sh BUILD LOG [--threads | --cpu]" >&2; exit 2; }
build="$1"
log="$2"
command -v perf > /dev/null || { echo "phases.sh: perf is not installed (Debian: linux-perf)" >&2; exit 2; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
perf record -q -F 999 -o "$data" -- "$build" analyze --json "$log" > /dev/null 2> /dev/null
perf script -i "$data" -F tid,time 2> /dev/null | awk -v threads="${3:-}" '
NR == 1 { t0 = $2 + 0; main = $1 }
{
    t = $2 + 0 - t0
    n[$1]++
    if (!($1 in first)) first[$1] = t
    last[$1] = t
    end = t
    tenth[int(t * 10) " " $1]++
    samples++
    tid[samples] = $1
    at[samples] = t
}
END {
    for (k in n)
        if (k != main && first[k] < 0.1) {
            if (n[k] > n1) { r2 = r1; n2 = n1; r1 = k; n1 = n[k] }
            else if (n[k] > n2) { r2 = k; n2 = n[k] }
        }
    read_end = last[r1] > last[r2] ? last[r1] : last[r2]
    work_end = read_end
    for (k in n) if (k != main && k != r1 && k != r2 && last[k] > work_end) work_end = last[k]
    printf "read %.3f s, sort and diagnosis %.3f s, report %.3f s, total %.3f s\n",
        read_end, work_end - read_end, end - work_end, end
    if (threads == "--cpu") {
        split("read,sort and diagnosis,report", phase_name, ",")
        for (i = 1; i <= samples; i++) {
            p = at[i] <= read_end ? 1 : at[i] <= work_end ? 2 : 3
            who = tid[i] == main ? "main" : tid[i] == r1 || tid[i] == r2 ? "readers" : "others"
            cpu[p " " who]++
            cpu[p]++
            if (who == "others") other[p " " tid[i]]++
        }
        for (p = 1; p <= 3; p++) {
            line = sprintf("cpu %s %.2f s: main %.2f, readers %.2f, others %.2f",
                phase_name[p], cpu[p] / 999, cpu[p " main"] / 999, cpu[p " readers"] / 999,
                cpu[p " others"] / 999)
            for (k in n) if (other[p " " k]) line = line sprintf(" (%s %.2f)", k, other[p " " k] / 999)
            print line
        }
        printf "cpu total %.2f s\n", samples / 999
    }
    if (threads == "--threads")
        for (b = 0; b <= int(end * 10); b++) {
            line = sprintf("%4.1f s:", b / 10)
            for (k in n) if (tenth[b " " k]) line = line sprintf(" %s=%d", k == main ? "main" : k, tenth[b " " k])
            print line
        }
}'
