#!/usr/bin/env bash
# Every target of issue 14 (speed) measured in one run, printed as a
# Markdown table: what was measured, the target, the figures of each round
# (min–max) and whether every round met it. Ratios (× `rg -c`, envelope ×
# bare) are taken within one round, so a noisy host moves both sides.
#
#   cargo build --release --bins
#   benches/targets.sh /work            # ROUNDS=3 by default
#   GRANTWATCH=/tmp/other-build ROUNDS=5 benches/targets.sh /work
#
# The logs are made in WORKDIR when missing (about 5 GB in all, a few
# minutes): the Rails gigabyte and its 3 GB sibling by `grantwatch-gen`
# (3% of requests OAuth), the same gigabyte wrapped in CRI, in docker's
# json-file envelope and in syslog (one host and program), a Keycloak and a Hydra gigabyte with 5% failures by
# `gen_server_logs.py`, and `backlog-rails/`, a folder holding the Rails
# gigabyte for `watch`'s catch-up. Each log is read just before it is
# timed (page cache warm, as for `rg`); an envelope's ratio is to a bare
# run just before it. The scaling table is
# `benches/analyze_scaling.sh`'s.
set -euo pipefail
work="${1:?usage: benches/targets.sh WORKDIR}"
command -v rg > /dev/null || {
    echo "benches/targets.sh: needs ripgrep (rg) on PATH (Debian: apt-get install ripgrep)" >&2
    exit 2
}
cd "$(dirname "$0")/.."
bin="$(realpath "${GRANTWATCH:-target/release/grantwatch}")"
gen="$(dirname "$bin")/grantwatch-gen"
rounds="${ROUNDS:-3}"
mkdir -p "$work/backlog-rails"

make_logs() {
    [ -s "$work/big3.log" ] || "$gen" --size 1G --oauth-share 0.03 "$work/big3.log"
    [ -s "$work/big3x3.log" ] || "$gen" --size 3G --oauth-share 0.03 "$work/big3x3.log"
    [ -s "$work/big3-cri.log" ] ||
        awk '{printf "2025-03-11T08:00:00.%09dZ stdout F %s\n", NR, $0}' \
            "$work/big3.log" > "$work/big3-cri.log"
    [ -s "$work/big3-docker.log" ] ||
        python3 benches/docker-wrap.py < "$work/big3.log" > "$work/big3-docker.log"
    [ -s "$work/big3-syslog.log" ] ||
        awk '{print "Mar 11 09:00:00 web1 rails[4711]: " $0}' \
            "$work/big3.log" > "$work/big3-syslog.log"
    for server in keycloak hydra; do
        local out="$work/$([ "$server" = keycloak ] && echo kc || echo hydra).log"
        [ -s "$out" ] || python3 benches/gen_server_logs.py --server "$server" --size 1G \
            --failure-share 0.05 --seed 1 "$out"
    done
    # One name only: two links to one file are one file to `watch`.
    [ -e "$work/backlog-rails/production.log" ] ||
        ln "$work/big3.log" "$work/backlog-rails/production.log"
}

# `analyze --json FILE`: "wall peak_rss_kb".
analyze() {
    { /usr/bin/time -f "%e %M" "$bin" analyze --json "$1" > /dev/null; } 2>&1 | tail -1
}

rg_wall() {
    { /usr/bin/time -f "%e" rg -c 'Completed 4' "$1" > /dev/null; } 2>&1 | tail -1
}

# The figures of one target, one per round, kept in files under $tmp.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
note() { echo "$2" >> "$tmp/$1"; }

# Reads a log into the page cache just before it is timed: all of them
# together are more than this host's page cache holds.
warm() { cat "$work/$1.log" > /dev/null; }

make_logs
# Logs just written are still being written back: timed meanwhile, the
# Rails gigabyte took 1.01 s and 14 × rg.
sync
for round in $(seq "$rounds"); do
    warm big3
    rg=$(rg_wall "$work/big3.log")
    read -r bare rss < <(analyze "$work/big3.log")
    note rails "$bare"
    note rg_ratio "$(awk -v a="$bare" -v b="$rg" 'BEGIN { printf "%.2f", a / b }')"
    note rss1 "$((rss / 1024))"
    warm big3x3
    read -r _ rss3 < <(analyze "$work/big3x3.log")
    note rss3 "$((rss3 / 1024))"
    for envelope in cri docker syslog; do
        warm big3 && warm "big3-$envelope"
        read -r bare _ < <(analyze "$work/big3.log")
        read -r wrapped _ < <(analyze "$work/big3-$envelope.log")
        note "$envelope" "$(awk -v a="$wrapped" -v b="$bare" 'BEGIN { printf "%.2f", a / b }')"
    done
    for server in kc hydra; do
        warm "$server"
        read -r wall _ < <(analyze "$work/$server.log")
        note "$server" "$wall"
    done
    warm big3
    python3 benches/watch_bench.py catchup --binary "$bin" --dir "$work/backlog-rails" --timeout 120 \
        > "$tmp/catchup.out"
    note catchup "$(sed -n 's/.*every line read .* s after the start: \([0-9]*\) MB\/s.*/\1/p' \
        "$tmp/catchup.out")"
    for route in / /incidents; do
        name=$([ "$route" = / ] && echo overview || echo incidents)
        note "$name" "$(awk -v r="$route" '$1 == "GET" && $2 == r {
            if ($0 !~ /\(0 not 200\)/) { print "error"; next }
            for (i = 1; i <= NF; i++) if ($i == "p99") print $(i + 1) }' "$tmp/catchup.out")"
    done
done

# One table row: label, unit, target text, file, comparison (le/ge), limit.
row() {
    local label="$1" unit="$2" target="$3" file="$4" cmp="$5" limit="$6"
    local figures met
    figures=$(sort -g "$tmp/$file" | awk 'NR == 1 { lo = $1 } { hi = $1 } END {
        print (lo == hi ? lo : lo "–" hi) }')
    met=$(awk -v c="$cmp" -v l="$limit" '
        $1 == "error" || $1 == "" { bad = 1; next }
        (c == "le" && $1 > l) || (c == "ge" && $1 < l) { bad = 1 }
        END { print (bad ? "no" : "yes") }' "$tmp/$file")
    printf "| %s | %s | %s %s | %s |\n" "$label" "$target" "$figures" "$unit" "$met"
}

echo "| measured ($rounds rounds, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)) | target | figures | met every round |"
echo "|---|---|---|---|"
row "Rails gigabyte, \`analyze --json\`" s "≤ 1.0 s" rails le 1.0
row "the same, × \`rg -c 'Completed 4'\` in the same round" × "≤ 5 ×" rg_ratio le 5
row "its peak RSS" MB "≤ 64 MB" rss1 le 64
row "peak RSS of the 3 GB log" MB "≤ 64 MB" rss3 le 64
row "CRI-wrapped, × bare" × "≤ 1.25 ×" cri le 1.25
row "docker json-file, × bare" × "≤ 1.25 ×" docker le 1.25
row "syslog (RFC 3164), × bare (an envelope the issue does not name)" × "≤ 1.25 ×" syslog le 1.25
row "Keycloak gigabyte (5% failing)" s "≤ 1.5 s" kc le 1.5
row "Hydra gigabyte (5% failing)" s "≤ 1.5 s" hydra le 1.5
row "\`watch\` catching up the Rails gigabyte" MB/s "≥ 500 MB/s" catchup ge 500
row "meanwhile, \`/\` p99 (every answer 200)" ms "≤ 100 ms" overview le 100
row "meanwhile, \`/incidents\` p99 (every answer 200)" ms "≤ 50 ms" incidents le 50
