"""Tests of benches/compare.py on a synthetic criterion output tree.

Run: python3 -m unittest discover -s benches -p 'test_compare.py'
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402

SVG_NS = "{http://www.w3.org/2000/svg}"


def write_bench(
    root: Path,
    directory: str,
    median_ns: float,
    group: str | None = None,
    function: str | None = None,
    value: str | None = None,
    run: str = "new",
) -> None:
    """Writes `<root>/<directory>/<run>/estimates.json`, and benchmark.json
    when `group` is given, in criterion's format."""
    d = root / directory / run
    d.mkdir(parents=True, exist_ok=True)
    (d / "estimates.json").write_text(
        json.dumps({"median": {"point_estimate": median_ns}, "mean": {"point_estimate": 1.0}})
    )
    if group is not None:
        full = "/".join(p for p in (group, function, value) if p)
        (d / "benchmark.json").write_text(
            json.dumps(
                {
                    "group_id": group,
                    "function_id": function,
                    "value_str": value,
                    "full_id": full,
                    "directory_name": directory,
                }
            )
        )


class CompareTest(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def pairs(self, runs: list[str] | None = None) -> list[compare.Pair]:
        per_run = [
            compare.pair_entries(compare.load_entries(self.root, run))[0]
            for run in (runs or ["new"])
        ]
        return compare.combine_runs(per_run)

    def test_pairs_every_layout_and_peer(self) -> None:
        write_bench(self.root, "ping_pong/tether", 900, "ping_pong", "tether")
        write_bench(self.root, "ping_pong/tokio", 1000, "ping_pong", "tokio")
        # Nested group id: `scope_fanout/100/<peer>`.
        write_bench(self.root, "scope_fanout/100/tether", 50, "scope_fanout/100", "tether")
        write_bench(self.root, "scope_fanout/100/rayon", 25, "scope_fanout/100", "rayon")
        write_bench(self.root, "scope_fanout/100/moro", 100, "scope_fanout/100", "moro")
        # BenchmarkId::new(peer, param): `fan/<peer>/10`.
        write_bench(self.root, "fan/tether/10", 30, "fan", "tether", "10")
        write_bench(self.root, "fan/std/10", 60, "fan", "std", "10")
        # Criterion's report directories are not benchmarks.
        (self.root / "ping_pong" / "report").mkdir()
        (self.root / "report").mkdir()

        got = {(p.bench, p.peer): round(p.ratio, 3) for p in self.pairs()}
        self.assertEqual(
            got,
            {
                ("ping_pong", "tokio"): 0.9,
                ("scope_fanout/100", "rayon"): 2.0,
                ("scope_fanout/100", "moro"): 0.5,
                ("fan/10", "std"): 0.5,
            },
        )

    def test_tether_variants(self) -> None:
        # The scope_fanout layout: BenchmarkId::new(peer, n), several tether
        # variants and no plain `tether`.
        for peer, t in {
            "tether_scope": 10,
            "tether_scope_one_thread": 40,
            "tether_join_set": 20,
            "tokio_arc_join_set": 20,
            "moro": 80,
        }.items():
            write_bench(self.root, f"scope_fanout/{peer}/100", t, "scope_fanout", peer, "100")
        entries = compare.load_entries(self.root, "new")

        default = compare.combine_runs([compare.pair_entries(entries)[0]])
        self.assertEqual(
            {(p.tether, p.peer): p.ratio for p in default},
            {("tether_scope", "moro"): 0.125, ("tether_scope", "tokio_arc_join_set"): 0.5},
        )
        self.assertIn(
            "| scope_fanout/100 | 10 ns (tether_scope) | moro | 80 ns | 0.12 |",
            compare.markdown_table(default),
        )
        self.assertIn("scope_fanout/100: tether_scope vs moro", compare.svg_chart(default, 0.9))

        chosen = compare.pair_entries(entries, {"moro": "tether_scope_one_thread"})[0]
        self.assertEqual(
            chosen[("scope_fanout/100", "tether_scope_one_thread", "moro")], (40, 80)
        )
        self.assertEqual(len(chosen), 2)

        every = compare.pair_entries(entries, all_variants=True)[0]
        self.assertEqual(len(every), 6)

    def test_directory_fallback_without_benchmark_json(self) -> None:
        write_bench(self.root, "scope_fanout/1000/tether", 10)
        write_bench(self.root, "scope_fanout/1000/async-scoped", 40)
        write_bench(self.root, "fan/tether/10", 30)
        write_bench(self.root, "fan/std/10", 15)
        got = {(p.bench, p.peer): p.ratio for p in self.pairs()}
        self.assertEqual(
            got, {("scope_fanout/1000", "async-scoped"): 0.25, ("fan/10", "std"): 2.0}
        )

    def test_benches_without_tether_are_reported_not_paired(self) -> None:
        write_bench(self.root, "lonely/tokio", 10, "lonely", "tokio")
        pairs, unpaired = compare.pair_entries(compare.load_entries(self.root, "new"))
        self.assertEqual(pairs, {})
        self.assertEqual(unpaired, {"lonely"})

    def test_natural_order(self) -> None:
        for n in ("1000", "10", "100"):
            write_bench(self.root, f"f/{n}/tether", 1, f"f/{n}", "tether")
            write_bench(self.root, f"f/{n}/tokio", 1, f"f/{n}", "tokio")
        self.assertEqual([p.bench for p in self.pairs()], ["f/10", "f/100", "f/1000"])

    def test_runs_combine_to_median_ratio_and_range(self) -> None:
        for run, (t, k) in {"a": (80, 100), "b": (120, 100), "c": (90, 100)}.items():
            write_bench(self.root, "x/tether", t, "x", "tether", run=run)
            write_bench(self.root, "x/tokio", k, "x", "tokio", run=run)
        (pair,) = self.pairs(["a", "b", "c"])
        self.assertAlmostEqual(pair.ratio, 0.9)
        self.assertAlmostEqual(pair.lo, 0.8)
        self.assertAlmostEqual(pair.hi, 1.2)
        self.assertEqual(pair.runs, 3)
        self.assertIn("0.80–1.20 (3 runs)", compare.markdown_table([pair]))

    def test_table_and_svg(self) -> None:
        write_bench(self.root, "a/tether", 1_500_000, "a", "tether")
        write_bench(self.root, "a/tokio", 1_000_000, "a", "tokio")
        write_bench(self.root, "b/tether", 250, "b", "tether")
        write_bench(self.root, "b/tokio", 1000, "b", "tokio")
        pairs = self.pairs()
        table = compare.markdown_table(pairs).splitlines()
        self.assertEqual(table[0], "| bench | tether | peer | peer time | ratio |")
        self.assertEqual(table[2], "| a | 1.5 ms | tokio | 1 ms | 1.50 |")
        self.assertEqual(table[3], "| b | 250 ns | tokio | 1 µs | 0.25 |")

        svg = ET.fromstring(compare.svg_chart(pairs, 0.9))
        bars = [r for r in svg.iter(f"{SVG_NS}rect") if r.find(f"{SVG_NS}title") is not None]
        self.assertEqual(len(bars), 2)
        texts = [t.text for t in svg.iter(f"{SVG_NS}text")]
        self.assertIn("1.0", texts)
        self.assertIn("1.50", texts)
        self.assertIn("0.25", texts)
        # The slower bench's bar starts at the 1.0 line and the faster one
        # ends there.
        one = [
            float(line.get("x1"))
            for line in svg.iter(f"{SVG_NS}line")
            if line.get("stroke") == "black"
        ]
        self.assertEqual(len(one), 1)
        slow, fast = bars
        self.assertAlmostEqual(float(slow.get("x")), one[0], delta=0.1)
        self.assertAlmostEqual(
            float(fast.get("x")) + float(fast.get("width")), one[0], delta=0.1
        )

    def test_command_line_writes_files_and_fails_cleanly(self) -> None:
        script = Path(__file__).resolve().parent / "compare.py"
        write_bench(self.root, "a/tether", 10, "a", "tether")
        write_bench(self.root, "a/tokio", 20, "a", "tokio")
        md, svg = self.root / "out.md", self.root / "out.svg"
        done = subprocess.run(
            [sys.executable, script, "--criterion-dir", self.root, "--markdown", md, "--svg", svg],
            capture_output=True,
            text=True,
            check=True,
        )
        self.assertIn("| a | 10 ns | tokio | 20 ns | 0.50 |", done.stdout)
        self.assertIn("| a | 10 ns | tokio | 20 ns | 0.50 |", md.read_text())
        self.assertRegex(md.read_text(), r"Date: \d{4}-\d\d-\d\d\. Machine: .*, \d+ cores")
        ET.parse(svg)

        missing = subprocess.run(
            [sys.executable, script, "--criterion-dir", self.root / "nope"],
            capture_output=True,
            text=True,
        )
        self.assertEqual(missing.returncode, 1)
        self.assertIn("cargo bench -p tether-benches", missing.stderr)


if __name__ == "__main__":
    unittest.main()
