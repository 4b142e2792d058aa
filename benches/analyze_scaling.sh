#!/usr/bin/env bash
# How `grantwatch analyze --json` scales with input size and cores (issue 14):
# for each log given, one run on one core (`taskset -c 0`, `-j 1`) and one
# on two (`taskset -c 0,1`, `-j 2`), each next to `rg -c 'Completed 4'` on
# the same file in the same round, printed as Markdown table rows: wall,
# user and system time, peak RSS, and the ratio to rg.
#
#   cargo build --release --bins
#   target/release/grantwatch-gen --size 100M --oauth-share 0.03 /work/s100.log
#   target/release/grantwatch-gen --size 1G   --oauth-share 0.03 /work/big3.log
#   target/release/grantwatch-gen --size 3G   --oauth-share 0.03 /work/big3x3.log
#   benches/analyze_scaling.sh /work/s100.log /work/big3.log /work/big3x3.log
#
# Each log is read once first (page cache warm, as for rg).
set -euo pipefail
command -v rg > /dev/null || {
    echo "benches/analyze_scaling.sh: needs ripgrep (rg) on PATH (Debian: apt-get install ripgrep)" >&2
    exit 2
}
bin="${GRANTWATCH:-target/release/grantwatch}"
rounds="${ROUNDS:-1}"
echo "| file | size | cores | wall | user | sys | peak RSS | rg -c wall | × rg |"
echo "|---|---|---|---|---|---|---|---|---|"
for file in "$@"; do
    size=$(stat -c %s "$file")
    cat "$file" > /dev/null
    for round in $(seq "$rounds"); do
        for cores in 1 2; do
            cpus=$([ "$cores" = 1 ] && echo 0 || echo 0,1)
            # `rg -c` exits 1 where nothing matches (a Keycloak or Hydra log): a time all the same.
            rg_wall=$( { /usr/bin/time -f "%e" taskset -c "$cpus" rg -c 'Completed 4' "$file" > /dev/null || true; } 2>&1 | tail -1)
            out=$( { /usr/bin/time -f "%e %U %S %M" taskset -c "$cpus" "$bin" analyze --json -j "$cores" "$file" > /dev/null; } 2>&1 | tail -1)
            read -r wall user sys rss <<< "$out"
            # rg under /usr/bin/time's 10 ms resolution: no ratio to print.
            ratio=$(awk -v a="$wall" -v b="$rg_wall" 'BEGIN { if (b > 0) printf "%.1f", a / b; else printf "—" }')
            printf "| %s | %s MB | %s | %s s | %s s | %s s | %s MB | %s s | %s |\n" \
                "$(basename "$file")" "$((size / 1000000))" "$cores" "$wall" "$user" "$sys" \
                "$((rss / 1024))" "$rg_wall" "$ratio"
        done
    done
done
