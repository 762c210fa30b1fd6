//! Helpers shared by tether's integration tests (in `tests/tests/`).
