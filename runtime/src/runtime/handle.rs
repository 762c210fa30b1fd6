//! [`Handle`]: a cloneable reference to a running runtime.

use crate::loom::sync::Arc;

/// A cloneable, `Send` reference to a runtime.
#[derive(Debug, Clone)]
pub struct Handle {
    /// The runtime's drivers.
    driver: Arc<crate::driver::Handle>,
}

thread_local! {
    static CURRENT: std::cell::RefCell<Option<Handle>> = const { std::cell::RefCell::new(None) };
}

impl Handle {
    /// The handle of the runtime this thread is running on.
    ///
    /// # Panics
    ///
    /// Panics if called outside a tether runtime.
    #[track_caller]
    pub fn current() -> Handle {
        CURRENT
            .with(|c| c.borrow().clone())
            .expect("there is no tether runtime running on this thread")
    }

    /// The runtime's I/O and timer drivers.
    pub(crate) fn driver(&self) -> &crate::driver::Handle {
        &self.driver
    }
}
