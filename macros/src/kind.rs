//! Which of the two attributes is being expanded.

use crate::config::Flavor;

/// `#[tether::main]` or `#[tether::test]`: they share parsing and code
/// generation and differ only in defaults, checks and the added `#[test]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[tether::main]`: multi-thread by default, like a server's `main`.
    Main,
    /// `#[tether::test]`: current-thread by default, so that a test is
    /// deterministic and cheap unless it asks for worker threads.
    Test,
}

impl Kind {
    /// The attribute as a user writes it, for error messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[tether::main]",
            Kind::Test => "#[tether::test]",
        }
    }

    /// The flavor used when no `flavor = "..."` is given.
    pub(crate) fn default_flavor(self) -> Flavor {
        match self {
            Kind::Main => Flavor::MultiThread,
            Kind::Test => Flavor::CurrentThread,
        }
    }
}
