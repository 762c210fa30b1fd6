#!/usr/bin/env python3
"""Tether ÷ peer ratios from criterion's output: a markdown table and an SVG chart.

How to run (from the workspace root):

    cargo bench -p tether-benches        # or: --bench runtime, --bench timers, ...
    bash benches/compare.sh              # wraps this script

What it reads: every `<criterion dir>/**/new/estimates.json` (the median
point estimate of the latest run) with the `benchmark.json` beside it. A
benchmark's id is split into a *bench* and a *peer*: the peer is criterion's
function id (`group.bench_function("tokio", ..)`), or the last id component
when there is none (without `benchmark.json`, the directory path is used, and
`<group>/<peer>/<number>` is read as `BenchmarkId::new(peer, number)`); the
bench is the rest of the id. So `ping_pong/tokio`,
`scope_fanout/100/tokio` (group `scope_fanout/100`) and `scope_fanout/tokio/100`
(`BenchmarkId::new("tokio", 100)`) all work, and a group may hold any number of
peers (tokio, rayon, async-scoped, moro, std, ...). Each non-tether peer is
paired with the tether entry of the same bench; benches without a tether entry
are reported and skipped.

A bench may hold several tether variants (peers named `tether_*` or
`tether-*`, e.g. `tether_scope` and `tether_join_set`). Each other peer is then
compared with `tether` if present, else with the variant with the shortest
name; `--pair moro=tether_scope_one_thread` picks the variant for one peer,
and `--all-variants` compares every peer with every variant. The variant's
name is shown next to its time.

What it writes:
  * the table `| bench | tether | peer | peer time | ratio |` on stdout
    (ratio = tether median ÷ peer median; below 1 means tether is faster);
  * the same table with the date, machine and command to `--markdown`;
  * a horizontal bar chart of the ratios (log scale, line at 1.0) to `--svg`.

On a shared or busy machine one run is noisy; combine several saved runs:

    for r in r1 r2 r3; do cargo bench -p tether-benches -- --save-baseline $r; done
    bash benches/compare.sh --runs r1 r2 r3

Each row then shows the median times, the median of the per-run ratios and
their range.

Only the Python 3 standard library is used.
"""

from __future__ import annotations

import argparse
import datetime
import html
import json
import math
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

#: Peer every other peer is compared with.
BASELINE = "tether"


def is_tether(peer: str) -> bool:
    """`tether`, or a tether variant such as `tether_scope` / `tether-join-set`."""
    return peer == BASELINE or peer.startswith((BASELINE + "_", BASELINE + "-"))


def primary_variant(variants: list[str]) -> str:
    """The tether entry a peer is compared with by default: `tether` itself,
    else the variant with the shortest name (`tether_scope` before
    `tether_scope_one_thread`)."""
    if BASELINE in variants:
        return BASELINE
    return min(variants, key=lambda v: (len(v), v))

#: The goal stated for the foundation benches: tether at most 0.9× the peer.
DEFAULT_GOAL = 0.9


@dataclass(frozen=True)
class Entry:
    """One criterion benchmark: its bench name, peer and median in ns."""

    bench: str
    peer: str
    median_ns: float


@dataclass(frozen=True)
class Pair:
    """A non-baseline peer paired with the baseline of the same bench.

    With several runs, the times are the medians over the runs, `ratio` is
    the median of the per-run ratios and `lo`/`hi` their range.
    """

    bench: str
    tether: str
    peer: str
    tether_ns: float
    peer_ns: float
    ratio: float
    lo: float
    hi: float
    runs: int


def split_id(bench_json: dict | None, rel_parts: list[str]) -> tuple[str, str]:
    """Returns (bench, peer) for one benchmark (see the module docs)."""
    if bench_json is not None:
        group = bench_json.get("group_id") or ""
        function = bench_json.get("function_id")
        value = bench_json.get("value_str")
        if function:
            parts = [p for p in (group, value) if p]
            return "/".join(parts), function
        full = bench_json.get("full_id") or group
        if value and not full.endswith(value):
            full = f"{full}/{value}"
        components = full.split("/")
    else:
        components = rel_parts
    if len(components) < 2:
        return components[0], components[0]
    if len(components) >= 3 and components[-1].isdigit():
        # A directory path of `BenchmarkId::new(peer, param)`: `<group>/<peer>/<param>`.
        return "/".join(components[:-2] + components[-1:]), components[-2]
    return "/".join(components[:-1]), components[-1]


def load_entries(criterion_dir: Path, run: str) -> list[Entry]:
    """Every benchmark with a `<run>/estimates.json` under `criterion_dir`
    (`run` is `new` for the latest run, or a `--save-baseline` name)."""
    entries = []
    for estimates in sorted(criterion_dir.rglob(f"{run}/estimates.json")):
        new_dir = estimates.parent
        rel_parts = list(new_dir.parent.relative_to(criterion_dir).parts)
        if "report" in rel_parts or not rel_parts:
            continue
        try:
            median = json.loads(estimates.read_text())["median"]["point_estimate"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            print(f"warning: skipping {estimates}: {err}", file=sys.stderr)
            continue
        bench_json = None
        bench_file = new_dir / "benchmark.json"
        if bench_file.is_file():
            try:
                bench_json = json.loads(bench_file.read_text())
            except (OSError, ValueError) as err:
                print(f"warning: ignoring {bench_file}: {err}", file=sys.stderr)
        bench, peer = split_id(bench_json, rel_parts)
        entries.append(Entry(bench, peer, float(median)))
    return entries


#: `{(bench, tether variant, peer): (tether_ns, peer_ns)}` for one run.
RunPairs = dict[tuple[str, str, str], tuple[float, float]]


def pair_entries(
    entries: list[Entry],
    overrides: dict[str, str] | None = None,
    all_variants: bool = False,
) -> tuple[RunPairs, set[str]]:
    """Pairs each non-tether entry of one run with a tether entry of its bench.

    A peer is paired with the variant named in `overrides[peer]` if the bench
    has it, else with every variant if `all_variants`, else with the
    `primary_variant`. Returns the pairs and the benches that have peers but
    no tether entry.
    """
    overrides = overrides or {}
    variants: dict[str, dict[str, float]] = {}
    for e in entries:
        if is_tether(e.peer):
            variants.setdefault(e.bench, {})[e.peer] = e.median_ns
    pairs, unpaired = {}, set()
    for e in entries:
        if is_tether(e.peer):
            continue
        bench_variants = variants.get(e.bench)
        if not bench_variants:
            unpaired.add(e.bench)
            continue
        if e.median_ns <= 0:
            print(f"warning: {e.bench}/{e.peer} has a zero median", file=sys.stderr)
            continue
        if overrides.get(e.peer) in bench_variants:
            chosen = [overrides[e.peer]]
        elif all_variants:
            chosen = sorted(bench_variants)
        else:
            chosen = [primary_variant(list(bench_variants))]
        for variant in chosen:
            pairs[(e.bench, variant, e.peer)] = (bench_variants[variant], e.median_ns)
    return pairs, unpaired


def combine_runs(runs: list[RunPairs]) -> list[Pair]:
    """One `Pair` per (bench, variant, peer) seen in any run: medians over the runs."""
    keys = sorted(
        {k for run in runs for k in run}, key=lambda k: (natural_key(k[0]), k[1], k[2])
    )
    pairs = []
    for bench, variant, peer in keys:
        times = [run[(bench, variant, peer)] for run in runs if (bench, variant, peer) in run]
        ratios = [t / p for t, p in times]
        pairs.append(
            Pair(
                bench,
                variant,
                peer,
                tether_ns=statistics.median(t for t, _ in times),
                peer_ns=statistics.median(p for _, p in times),
                ratio=statistics.median(ratios),
                lo=min(ratios),
                hi=max(ratios),
                runs=len(times),
            )
        )
    return pairs


def natural_key(text: str) -> list:
    """Sorts `fanout/10` before `fanout/100` and `fanout/1000`."""
    key = []
    for part in text.split("/"):
        key.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return key


def fmt_time(ns: float) -> str:
    """A duration with a unit chosen for 3–4 significant digits."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}" if ns / scale < 100 else f"{ns / scale:.0f} {unit}"
    return f"{ns:.3g} ns"


def variant_note(p: Pair) -> str:
    """` (tether_scope)` when the tether entry is a variant, else nothing."""
    return "" if p.tether == BASELINE else f" ({p.tether})"


def markdown_table(pairs: list[Pair]) -> str:
    """The ratio table; a range column is added when several runs are combined."""
    several = any(p.runs > 1 for p in pairs)
    lines = [
        "| bench | tether | peer | peer time | ratio |" + (" ratio range |" if several else ""),
        "|---|---:|---|---:|---:|" + ("---:|" if several else ""),
    ]
    for p in pairs:
        row = (
            f"| {p.bench} | {fmt_time(p.tether_ns)}{variant_note(p)} | {p.peer} | "
            f"{fmt_time(p.peer_ns)} | {p.ratio:.2f} |"
        )
        if several:
            row += f" {p.lo:.2f}–{p.hi:.2f} ({p.runs} runs) |"
        lines.append(row)
    return "\n".join(lines)


def machine_description() -> str:
    """CPU model, core count, OS and rustc version of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rustc = subprocess.run(
            ["rustc", "--version"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rustc = "rustc (unknown version)"
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, {rustc}"


def results_markdown(
    pairs: list[Pair], goal: float, command: str, runs_args: list[str], note: str | None
) -> str:
    """RESULTS.md: the table with the date, machine and command."""
    today = datetime.date.today().isoformat()
    meeting = sum(1 for p in pairs if p.ratio <= goal)
    runs = max(p.runs for p in pairs)
    compare = "bash benches/compare.sh"
    if runs_args != ["new"]:
        compare += " --runs " + " ".join(runs_args)
    combined = (
        f"Each row combines {runs} runs of the suite: times are medians over the runs, "
        "ratio is the median of the per-run ratios, and the range shows the spread."
        if runs > 1
        else "One run of the suite."
    )
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"Date: {today}. Machine: {machine_description()}.",
            "",
            f"Commands: `{command}`, then `{compare}`.",
            "Times are criterion median point estimates per iteration; ratio = tether ÷ peer",
            f"(below 1: tether is faster; goal ≤ {goal}, met by {meeting} of {len(pairs)}).",
            "Every multi-thread runtime runs with the same number of worker threads.",
            combined,
            *([note] if note else []),
            "",
            markdown_table(pairs),
            "",
            "![tether ÷ peer median ratios](ratios.svg)",
            "",
        ]
    )


# SVG layout, in pixels.
CHAR_WIDTH = 7  # approximate advance of a 12px sans-serif character
PLOT_WIDTH = 460
VALUE_WIDTH = 60  # the ratio printed past a bar's end
BAR_HEIGHT = 18
BAR_GAP = 6
TOP = 46  # title and axis labels
BOTTOM = 34  # tick labels


def bar_label(p: Pair) -> str:
    """`bench: variant vs peer`, or `bench vs peer` for plain `tether`."""
    if p.tether == BASELINE:
        return f"{p.bench} vs {p.peer}"
    return f"{p.bench}: {p.tether} vs {p.peer}"


def svg_chart(pairs: list[Pair], goal: float) -> str:
    """A horizontal bar chart of the ratios on a log2 axis centred on 1."""
    label_width = 16 + CHAR_WIDTH * max(len(bar_label(p)) for p in pairs)
    # Symmetric log range covering every ratio, in whole powers of two.
    extreme = max([abs(math.log2(r)) for p in pairs for r in (p.lo, p.hi)] + [1.0])
    span = math.ceil(extreme + 0.15)
    lo, hi = -span, span

    def x_of(ratio: float) -> float:
        frac = (math.log2(ratio) - lo) / (hi - lo)
        return label_width + frac * PLOT_WIDTH

    height = TOP + len(pairs) * (BAR_HEIGHT + BAR_GAP) + BOTTOM
    width = label_width + PLOT_WIDTH + VALUE_WIDTH
    plot_bottom = height - BOTTOM
    one = x_of(1.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="14" '
        f'font-weight="bold">tether ÷ peer median time (log scale; left of 1.0: tether faster)</text>',
    ]
    # Ticks and grid lines at powers of two.
    for k in range(lo, hi + 1):
        x = x_of(2.0**k)
        label = f"{2.0**k:g}" if k >= 0 else f"1/{2 ** -k}"
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{plot_bottom}" '
            f'stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{plot_bottom + 16}" text-anchor="middle">{label}</text>'
        )
    gx = x_of(goal)
    out.append(
        f'<line x1="{gx:.1f}" y1="{TOP - 6}" x2="{gx:.1f}" y2="{plot_bottom}" '
        f'stroke="#2a7" stroke-dasharray="4 3"/>'
    )
    out.append(
        f'<text x="{gx - 4:.1f}" y="{TOP - 10}" text-anchor="end" fill="#2a7">goal {goal:g}</text>'
    )
    for i, p in enumerate(pairs):
        y = TOP + i * (BAR_HEIGHT + BAR_GAP)
        x = x_of(p.ratio)
        left, right = min(x, one), max(x, one)
        colour = "#3a7dc9" if p.ratio <= 1.0 else "#d9534f"
        label = html.escape(bar_label(p))
        out.append(
            f'<text x="{label_width - 8}" y="{y + BAR_HEIGHT - 5}" text-anchor="end">{label}</text>'
        )
        out.append(
            f'<rect x="{left:.1f}" y="{y}" width="{max(right - left, 1):.1f}" '
            f'height="{BAR_HEIGHT}" fill="{colour}"><title>{label}: '
            f"{fmt_time(p.tether_ns)} vs {fmt_time(p.peer_ns)}</title></rect>"
        )
        if p.runs > 1:
            # Whisker over the range of the per-run ratios.
            mid = y + BAR_HEIGHT / 2
            x_lo, x_hi = x_of(p.lo), x_of(p.hi)
            out.append(
                f'<line x1="{x_lo:.1f}" y1="{mid}" x2="{x_hi:.1f}" y2="{mid}" stroke="#333"/>'
            )
            for xe in (x_lo, x_hi):
                out.append(
                    f'<line x1="{xe:.1f}" y1="{mid - 4}" x2="{xe:.1f}" y2="{mid + 4}" '
                    f'stroke="#333"/>'
                )
            left, right = min(left, x_lo), max(right, x_hi)
        tx, anchor = (right + 4, "start") if p.ratio > 1.0 else (left - 4, "end")
        if p.ratio <= 1.0 and left - 4 < label_width + 30:
            tx, anchor = right + 4, "start"
        out.append(
            f'<text x="{tx:.1f}" y="{y + BAR_HEIGHT - 5}" text-anchor="{anchor}">{p.ratio:.2f}</text>'
        )
    out.append(
        f'<line x1="{one:.1f}" y1="{TOP - 6}" x2="{one:.1f}" y2="{plot_bottom}" '
        f'stroke="black" stroke-width="1.5"/>'
    )
    out.append(
        f'<text x="{one + 4:.1f}" y="{TOP - 10}" text-anchor="start">1.0</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def default_criterion_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    root = Path(__file__).resolve().parent.parent
    return (Path(target) if target else root / "target") / "criterion"


def main() -> int:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--criterion-dir",
        type=Path,
        default=default_criterion_dir(),
        help="criterion's output directory (default: target/criterion)",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        default=here / "RESULTS.md",
        help="where to write the table with date and machine ('-' to skip)",
    )
    parser.add_argument(
        "--svg",
        type=Path,
        default=here / "ratios.svg",
        help="where to write the chart ('-' to skip)",
    )
    parser.add_argument(
        "--goal", type=float, default=DEFAULT_GOAL, help="ratio goal to mark (default 0.9)"
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["new"],
        metavar="NAME",
        help="criterion baselines to combine (saved with `-- --save-baseline NAME`); "
        "default: the latest run",
    )
    parser.add_argument(
        "--command",
        default="cargo bench -p tether-benches",
        help="the bench command to record in the markdown file",
    )
    parser.add_argument(
        "--note", help="a line to add under the header of the markdown file (e.g. machine load)"
    )
    parser.add_argument(
        "--pair",
        action="append",
        default=[],
        metavar="PEER=VARIANT",
        help="compare PEER with this tether variant where the bench has it "
        "(e.g. moro=tether_scope_one_thread); repeatable",
    )
    parser.add_argument(
        "--all-variants",
        action="store_true",
        help="compare every peer with every tether variant of its bench",
    )
    args = parser.parse_args()
    overrides = {}
    for spec in args.pair:
        peer, sep, variant = spec.partition("=")
        if not sep or not peer or not is_tether(variant):
            parser.error(f"--pair wants PEER=TETHER_VARIANT, got `{spec}`")
        overrides[peer] = variant

    if not args.criterion_dir.is_dir():
        print(
            f"error: {args.criterion_dir} does not exist: run `cargo bench -p tether-benches` first",
            file=sys.stderr,
        )
        return 1
    runs, unpaired = [], set()
    for run in args.runs:
        run_pairs, run_unpaired = pair_entries(
            load_entries(args.criterion_dir, run), overrides, args.all_variants
        )
        if not run_pairs:
            print(f"warning: run `{run}` has no paired bench", file=sys.stderr)
        runs.append(run_pairs)
        unpaired |= run_unpaired
    pairs = combine_runs(runs)
    for bench in sorted(unpaired):
        print(f"warning: {bench} has no `{BASELINE}` entry; skipped", file=sys.stderr)
    if not pairs:
        print(
            f"error: no bench under {args.criterion_dir} has both a `{BASELINE}` entry and a peer",
            file=sys.stderr,
        )
        return 1

    print(markdown_table(pairs))
    if str(args.markdown) != "-":
        args.markdown.write_text(results_markdown(pairs, args.goal, args.command, args.runs, args.note))
        print(f"wrote {args.markdown}", file=sys.stderr)
    if str(args.svg) != "-":
        args.svg.write_text(svg_chart(pairs, args.goal))
        print(f"wrote {args.svg}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
