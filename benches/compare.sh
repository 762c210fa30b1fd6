#!/usr/bin/env bash
# Prints a table of tether ÷ peer median ratios from criterion's output, and
# writes it (with the date and machine) to benches/RESULTS.md and a bar chart
# of the ratios to benches/ratios.svg.
#
# How to run, from anywhere in the workspace:
#
#   cargo bench -p tether-benches      # all benches; or --bench runtime, ...
#   bash benches/compare.sh            # table on stdout, RESULTS.md, ratios.svg
#
# Every group `<bench>[/<param>]/<peer>` under target/criterion (or
# $CARGO_TARGET_DIR/criterion) with a `tether` entry is paired with each of its
# other peers (tokio, rayon, async-scoped, moro, std, ...); benches with tether
# variants (`tether_scope`, ...) compare each peer with the shortest-named one,
# or as chosen with `--pair PEER=VARIANT` / `--all-variants`. Options are
# passed to benches/compare.py; see `bash benches/compare.sh --help`. Its
# tests: `python3 -m unittest discover -s benches -p test_compare.py`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec python3 "$here/compare.py" "$@"
