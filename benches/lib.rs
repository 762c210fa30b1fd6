//! Helpers shared by tether's criterion benchmarks (in `benches/benches/`).
