//! The runtime: [`Runtime`], its [`Builder`] and the cloneable [`Handle`].

mod builder;
pub(crate) mod context;
mod handle;
mod hooks;
mod metrics;
#[allow(clippy::module_inception)]
mod runtime;

pub use builder::Builder;
pub use handle::{EnterGuard, Handle, TryCurrentError};
pub use metrics::RuntimeMetrics;
pub use runtime::Runtime;

pub(crate) use hooks::ThreadHooks;
