//! The runtime: [`Runtime`], its [`Builder`] and the cloneable [`Handle`].

mod handle;

pub use handle::Handle;
