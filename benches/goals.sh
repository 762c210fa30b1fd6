#!/usr/bin/env bash
# Runs the criterion benches that carry a goal (runtime core, scoped
# fan-out, recursive and single joins) several times, one after the
# other, and writes each run's ratios, with the goal and whether that run
# met it, to benches/GOALS.md; then the `rounds` bench, which measures the
# comparisons that move most with the machine's speed in interleaved
# rounds, and appends its table.
#
#   bash benches/goals.sh          # 3 rounds, about 10 minutes on 2 cores
#   ROUNDS=5 bash benches/goals.sh
#   GOALS_OUT=path bash benches/goals.sh
#
# Why rounds: the machine's speed drifts by up to 2x over seconds when
# other processes share the cores, and criterion measures one contender
# after the other, so a single run's ratio can measure the drift. A goal
# is claimed only if every round meets it; the median is printed beside.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${GOALS_OUT:-$here/GOALS.md}"
rounds="${ROUNDS:-3}"
raw="$(mktemp)"
errors="$(mktemp)"
trap 'rm -f "$raw" "$errors"' EXIT

# `cargo bench -q -p tether-benches <args>`, its progress output (stderr)
# kept aside and shown only if it fails.
bench() {
    if ! cargo bench -q -p tether-benches "$@" 2>"$errors"; then
        cat "$errors" >&2
        echo "goals.sh: cargo bench $* failed" >&2
        return 1
    fi
}

# One line per measurement: "<round> <bench id> <median estimate in ns>".
measure() {
    local round="$1"
    shift
    bench "$@" | awk -v round="$round" '
        # criterion prints the id alone on a line when it is long, else on
        # the line of its estimate: "<id>  time:   [lo unit mid unit hi unit]".
        /^[A-Za-z_]+\/[^ ]*/ { id = $1 }
        /time:/ {
            for (i = 1; i <= NF; i++) if ($i == "time:") break
            v = $(i + 3); u = $(i + 4)
            sub(/^\[/, "", v)
            f = (u == "ns") ? 1 : (u == "µs" || u == "us") ? 1e3 : (u == "ms") ? 1e6 : (u == "s") ? 1e9 : 0
            if (f > 0) printf "%s %s %.1f\n", round, id, v * f
        }'
}

for round in $(seq 1 "$rounds"); do
    echo "round $round of $rounds" >&2
    measure "$round" --bench runtime >> "$raw"
    measure "$round" --bench scope_fanout -- \
        '(tether_scope|moro|rayon_scope|tokio_arc_join_set)/100$' >> "$raw"
    measure "$round" --bench join -- \
        'join_fib/(fine|coarse)/(tether|rayon)|join_pair/(tether|rayon)' >> "$raw"
done
rounds_table="$(bench --bench rounds)"

# goal rows: label, numerator id, denominator id, bound (ratio must be <= it)
goals='runtime spawn_many_local ≤ 0.9 of tokio|spawn_many_local/tether|spawn_many_local/tokio|0.9
runtime spawn_many_remote ≤ 0.9 of tokio|spawn_many_remote/tether|spawn_many_remote/tokio|0.9
runtime ping_pong ≤ 0.9 of tokio|ping_pong/tether|ping_pong/tokio|0.9
runtime yield_many ≤ 0.9 of tokio|yield_many/tether|yield_many/tokio|0.9
runtime chained_spawn ≤ 0.9 of tokio|chained_spawn/tether|chained_spawn/tokio|0.9
fan-out N=100 ≤ 0.7 of tokio + Arc|scope_fanout/tether_scope/100|scope_fanout/tokio_arc_join_set/100|0.7
fan-out N=100 ≤ 1.3 of rayon::scope|scope_fanout/tether_scope/100|scope_fanout/rayon_scope/100|1.3
fan-out N=100 ≤ 0.8 of moro|scope_fanout/tether_scope/100|scope_fanout/moro/100|0.8
join! fine ≤ 3 × rayon::join|join_fib/fine/tether|join_fib/fine/rayon|3.0
join! coarse ≤ 1.1 × rayon::join|join_fib/coarse/tether|join_fib/coarse/rayon|1.1
join! of one pair ≈ rayon::join (≤ 1.3, no goal in the issue)|join_pair/tether|join_pair/rayon|1.3'

cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
tree="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
{
    echo "# Criterion goals, round by round"
    echo
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(uname -sr), $(rustc --version)."
    echo
    echo "Command: \`bash benches/goals.sh\` ($rounds rounds; each round runs the runtime, scope_fanout (N = 100) and join benches once; a ratio compares the two contenders' criterion median estimates of the same round)."
    echo "Tree: $tree. Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)."
    echo
    header="| goal |"
    rule="|---|"
    for round in $(seq 1 "$rounds"); do
        header="$header round $round |"
        rule="$rule---:|"
    done
    echo "$header median | met in every round |"
    echo "$rule---:|:---:|"
    while IFS='|' read -r label num den bound; do
        awk -v label="$label" -v num="$num" -v den="$den" -v bound="$bound" -v rounds="$rounds" '
            $2 == num { n[$1] = $3 }
            $2 == den { d[$1] = $3 }
            END {
                line = "| " label " |"; k = 0; all = 1
                for (r = 1; r <= rounds; r++) {
                    if ((r in n) && (r in d) && d[r] > 0) {
                        x = n[r] / d[r]; v[++k] = x
                        line = line sprintf(" %.2f |", x)
                        if (x > bound) all = 0
                    } else { line = line " — |"; all = 0 }
                }
                # median of the measured rounds (insertion sort: k is small)
                for (i = 2; i <= k; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
                med = (k == 0) ? "—" : (k % 2) ? sprintf("%.2f", v[(k + 1) / 2]) : sprintf("%.2f", (v[k / 2] + v[k / 2 + 1]) / 2)
                print line " " med " | " (all ? "yes" : "**no**") " |"
            }' "$raw"
    done <<< "$goals"
    echo
    echo "$rounds_table" | sed 's/^### /## /'
    echo
    echo "Raw criterion median estimates (ns), by round:"
    echo
    echo '```'
    cat "$raw"
    echo '```'
} > "$out"
cat "$out"
echo "wrote $out" >&2
