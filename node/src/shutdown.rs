//! One shutdown signal for every task: SIGINT or SIGTERM cancels it, each
//! task's loop selects on it and returns, and `main` then waits for the
//! tasks in reverse order of start (a keeper joins its HTTP API last, so
//! workers can hand in proofs until the end).

use {
    tokio::task::JoinHandle,
    tokio_util::sync::CancellationToken,
    tracing::{info, warn},
};

/// A cloneable handle every task waits on.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves once shutdown has been requested.
    pub async fn wait(&self) {
        self.0.cancelled().await
    }

    pub fn trigger(&self) {
        self.0.cancel()
    }

    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Triggers on the first SIGINT or SIGTERM.
    pub fn on_signals(&self) -> std::io::Result<JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let shutdown = self.clone();
        Ok(tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => info!("SIGINT: shutting down"),
                _ = terminate.recv() => info!("SIGTERM: shutting down"),
                _ = shutdown.wait() => return,
            }
            shutdown.trigger();
        }))
    }
}

/// Named tasks, joined in reverse order of start.
#[derive(Default)]
pub struct Tasks(Vec<(&'static str, JoinHandle<()>)>);

impl Tasks {
    pub fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.0.push((name, tokio::spawn(task)));
    }

    /// Waits for every task, last started first.
    pub async fn join(self) {
        for (name, handle) in self.0.into_iter().rev() {
            match handle.await {
                Ok(()) => info!(task = name, "stopped"),
                Err(err) => warn!(task = name, error = %err, "task failed"),
            }
        }
    }
}

/// A background task aborted when this is dropped: one that lives exactly
/// as long as what holds it.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use {super::*, std::time::Duration};

    #[tokio::test]
    async fn sigterm_stops_every_task() {
        let shutdown = Shutdown::new();
        let _signals = shutdown.on_signals().unwrap();
        let mut tasks = Tasks::default();
        for name in ["watch", "decide"] {
            let shutdown = shutdown.clone();
            tasks.spawn(name, async move { shutdown.wait().await });
        }
        // SAFETY: raising a signal at our own process, whose handler tokio installed above.
        unsafe { libc::raise(libc::SIGTERM) };
        tokio::time::timeout(Duration::from_secs(5), tasks.join())
            .await
            .expect("the tasks stop on SIGTERM");
        assert!(shutdown.is_triggered());
    }
}
