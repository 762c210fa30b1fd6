#!/usr/bin/env bash
# Runs the latency benches (echo_latency, cpu_siblings, remote_spawn) and
# writes their tables, with the date, machine and command, to
# benches/LATENCY.md (the README's latency tables come from there).
#
#   bash benches/latency.sh            # full run, a few minutes on 2 cores
#   bash benches/latency.sh --quick    # smoke run, well under a minute
#   bash benches/latency.sh soak       # only sections whose name contains "soak"
#
# Arguments are passed to every bench (see the header comment of each
# benches/benches/<name>.rs). TETHER_BENCH_QUICK=1 is the same as --quick.
# With LATENCY_OUT=path the tables go there instead of benches/LATENCY.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${LATENCY_OUT:-$here/LATENCY.md}"
tables="$(mktemp)"
trap 'rm -f "$tables"' EXIT

cargo bench -p tether-benches \
    --bench echo_latency --bench cpu_siblings --bench remote_spawn \
    -- "$@" | tee "$tables"

cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)"
# Before the output file is truncated below (it is tracked: writing it would
# always read as an uncommitted change).
tree="$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
{
    echo "# Latency benchmark results"
    echo
    echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: ${cpu:-unknown CPU}, $(nproc) cores, $(uname -sr), $(rustc --version)."
    echo
    echo "Command: \`bash benches/latency.sh${*:+ $*}\` (release build, one process per bench, every peer in the same process)."
    echo "Tree: $tree. Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
    echo "(above the core count, other processes shared the cores: compare the ratios within one run, not absolute times across runs)."
    echo
    cat "$tables"
} > "$out"
echo "wrote $out" >&2
