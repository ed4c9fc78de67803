//! Writes worth making late: retried in a task of their own until the store answers again.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable as _};
use tracing::Instrument as _;

/// The pause between attempts: short, since the store usually comes back within seconds.
const MIN_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_millis(500);

/// Runs `attempt` in a task of its own until it succeeds, for at most `within`, and logs how
/// it ended under `what`. For a write that gives up a claim (a lease's release) when the
/// database went away as it was due: made late, it saves the others the wait for the claim to
/// expire; after `within` the claim has expired by itself and the task gives up.
pub fn in_background_within<F, Fut, E>(what: &'static str, within: Duration, attempt: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .without_max_times();
    let task = async move {
        match tokio::time::timeout(within, attempt.retry(backoff)).await {
            Ok(Ok(())) => tracing::info!(what, "done once the store answered again"),
            Ok(Err(err)) => tracing::warn!(what, error = %err, "given up"),
            Err(_) => tracing::warn!(what, ?within, "given up: the store did not answer in time"),
        }
    };
    tokio::spawn(task.in_current_span());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::in_background_within;

    #[tokio::test]
    async fn the_write_is_retried_until_it_succeeds_and_no_longer_than_allowed() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (done, mut on_done) = tokio::sync::mpsc::unbounded_channel();
        let counted = calls.clone();
        in_background_within("a test write", Duration::from_secs(10), move || {
            let (counted, done) = (counted.clone(), done.clone());
            async move {
                if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                    return Err("connection refused");
                }
                done.send(()).map_err(|_| "the test is gone")
            }
        });
        tokio::time::timeout(Duration::from_secs(5), on_done.recv())
            .await
            .expect("the third attempt succeeds");
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        in_background_within(
            "a write that never succeeds",
            Duration::from_millis(300),
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>("connection refused") }
            },
        );
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let attempts = calls.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            attempts,
            "no attempt after the time allowed"
        );
        assert!(attempts >= 2, "retried within it ({attempts} attempts)");
    }
}
