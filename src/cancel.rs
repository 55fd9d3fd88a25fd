//! Cooperative cancellation: a flag a caller raises to stop work at its next cancellation
//! point.
//!
//! The service gives every solve (and every upload it validates) a [`Cancel`] and runs the work
//! inside [`Cancel::scope`]; the readers, the pipeline and the solvers call [`check`] (or
//! [`cancelled`]) at their cancellation points — between stages, every few hundred augmenting
//! paths of the flow solver, between pricing rounds, between the MIPs of the contiguity cut
//! loop, between scenarios — and stop with [`Error::Cancelled`]. Work run outside a scope (the
//! CLI, the library's callers) is never cancelled: [`check`] is then always `Ok`.
//!
//! Cbc cannot be interrupted from here (the C interface `coin_cbc` binds has no callback that
//! may stop branch and bound): a MIP that is running when its flag is raised runs on until Cbc
//! returns, and the work stops at the next point after it. The service therefore does not wait
//! for it at shutdown (see `server::finish_running`).
//!
//! The current flag is per thread: code that hands work to other threads (rayon) passes it on
//! with [`current`] and [`within`] (the scenario runs and the stability curve do).

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cancellation flag, shared by the one who may raise it and the work that checks it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

thread_local! {
    static CURRENT: RefCell<Option<Cancel>> = const { RefCell::new(None) };
}

impl Cancel {
    /// A flag not raised.
    pub fn new() -> Self {
        Self::default()
    }

    /// Raise the flag: the work stops at its next cancellation point.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is raised.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Run `f` on this thread with this flag as the one [`check`] answers to; the previous
    /// flag (if any) is restored afterwards, also when `f` panics.
    pub fn scope<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Cancel>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let prev = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = prev);
            }
        }
        let prev = CURRENT.with(|c| c.borrow_mut().replace(self.clone()));
        let _restore = Restore(prev);
        f()
    }

    /// A guard that raises the flag when dropped, unless [`RaiseOnDrop::disarm`]ed: a request
    /// handler holds one, so that the work it started stops when the request goes away (the
    /// client disconnects, the request times out, the server stops).
    pub fn raise_on_drop(&self) -> RaiseOnDrop {
        RaiseOnDrop(Some(self.clone()))
    }
}

/// Raises its flag when dropped (see [`Cancel::raise_on_drop`]).
#[derive(Debug)]
pub struct RaiseOnDrop(Option<Cancel>);

impl RaiseOnDrop {
    /// The work is done: dropping the guard no longer raises the flag.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RaiseOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

/// The current thread's flag, to hand to the threads it starts (`rayon`): run their work in
/// `Cancel::scope` of it, or [`within`].
pub fn current() -> Option<Cancel> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Run `f` within `flag`'s scope when there is one (from [`current`] on another thread).
pub fn within<R>(flag: Option<&Cancel>, f: impl FnOnce() -> R) -> R {
    match flag {
        Some(c) => c.scope(f),
        None => f(),
    }
}

/// Whether the current thread's flag (see [`Cancel::scope`]) is raised; `false` outside a scope.
pub fn cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(Cancel::is_cancelled))
}

/// A cancellation point: `Err(Error::Cancelled)` when the current thread's flag is raised.
pub fn check() -> Result<()> {
    if cancelled() {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_scope_nothing_is_cancelled() {
        let c = Cancel::new();
        c.cancel();
        assert!(check().is_ok());
        assert!(matches!(c.scope(check), Err(Error::Cancelled)));
        assert!(check().is_ok(), "the scope ends with its closure");
    }

    #[test]
    fn scopes_nest_and_restore() {
        let (outer, inner) = (Cancel::new(), Cancel::new());
        outer.scope(|| {
            inner.cancel();
            assert!(inner.scope(cancelled));
            assert!(!cancelled(), "the outer flag again");
            outer.cancel();
            assert!(cancelled());
        });
    }

    #[test]
    fn a_guard_raises_its_flag_unless_disarmed() {
        let c = Cancel::new();
        c.raise_on_drop().disarm();
        assert!(!c.is_cancelled());
        drop(c.raise_on_drop());
        assert!(c.is_cancelled());
    }
}
