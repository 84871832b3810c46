//! Where blocking work runs: the async forms of blocking operations hand
//! their fsyncs to tokio's blocking pool, and their blocking forms refuse to
//! run on a runtime thread.
//!
//! A blocking form waits on tokio locks that tasks hold across `.await`; on
//! a current-thread runtime those tasks can only run once the waiting
//! thread lets go, so waiting there would deadlock. The blocking forms
//! therefore check [`tokio::runtime::Handle::try_current`] first and return
//! [`RuntimeError::InsideRuntime`] instead; on a plain thread they drive the
//! async form on a small current-thread runtime of their own.

use std::future::Future;

use crate::error::RuntimeError;

/// Fails with [`RuntimeError::InsideRuntime`] on a thread that runs (or is
/// a blocking thread of) a tokio runtime.
pub fn ensure_blocking_allowed(operation: &'static str) -> Result<(), RuntimeError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(RuntimeError::InsideRuntime { operation }),
        Err(_) => Ok(()),
    }
}

/// Runs `future` to completion on the calling thread, on a current-thread
/// runtime started for it; refused on a runtime thread (see the module).
pub fn block_on<T, E>(
    operation: &'static str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, E>
where
    E: From<RuntimeError>,
{
    ensure_blocking_allowed(operation)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RuntimeError::Start { operation, source })?;
    runtime.block_on(future)
}

/// Runs the blocking `work` on the runtime's blocking pool and awaits it,
/// so the runtime's own threads never wait on storage.
pub async fn off_runtime<T, E>(
    operation: &'static str,
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<RuntimeError> + Send + 'static,
{
    let handle =
        tokio::runtime::Handle::try_current().map_err(|_| RuntimeError::NoRuntime { operation })?;
    match handle.spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => match e.try_into_panic() {
            // A panic in the work is the work's, not this function's: pass it on.
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(RuntimeError::Cancelled { operation }.into()),
        },
    }
}
