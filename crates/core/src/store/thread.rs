//! The writer's background thread, where routine batches run below the request path's priority.
//!
//! A routine batch (a few outcomes every `MIN_COMMIT_INTERVAL`) costs tens to a few hundred
//! microseconds of CPU: SQLite's inserts, then the commit writing WAL frames. On a core shared
//! with the request path at the same priority, a request arriving meanwhile waited for the
//! batch's time slice to end; niced, the batch is preempted at once. On the pinned bench that
//! took 0.1–0.2 ms off p99 at 500 and 1,000 req/s (`docs/benchmarks.md`). Against one busy
//! thread, though, nice 10 gets only about a tenth of a core, too little for a saturated
//! gateway's outcomes, and an unprivileged thread can never lower its nice value again: so the
//! writer sends only small batches here and runs the rest (it is behind, or cleaning up) on the
//! blocking pool.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use tokio::sync::oneshot;

/// The background thread's nice value (Linux; elsewhere it keeps the default priority).
pub(crate) const BACKGROUND_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// Runs jobs one at a time on a dedicated, niced thread; the thread ends when this is dropped.
#[derive(Debug)]
pub(crate) struct BackgroundThread {
    jobs: mpsc::Sender<Job>,
}

/// The job panicked (the thread itself lives on), or the thread is gone.
#[derive(Debug)]
pub(crate) struct JobFailed;

impl BackgroundThread {
    pub(crate) fn spawn() -> std::io::Result<BackgroundThread> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("switchboard-store".into())
            .spawn(move || {
                yield_to_requests();
                while let Ok(job) = queue.recv() {
                    // A panicking job drops its reply: the caller sees `JobFailed`.
                    let _ = catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        Ok(BackgroundThread { jobs })
    }

    /// Runs `job` on the thread and waits for its result without blocking the runtime.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JobFailed> {
        let (reply, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(job());
            }))
            .map_err(|_| JobFailed)?;
        result.await.map_err(|_| JobFailed)
    }
}

#[cfg(target_os = "linux")]
fn yield_to_requests() {
    use rustix::process::{getpriority_process, setpriority_process};
    // On Linux the nice value is per thread: this one only. A process started nicer stays so.
    let this_thread = Some(rustix::thread::gettid());
    if getpriority_process(this_thread).is_ok_and(|nice| nice >= BACKGROUND_NICE) {
        return;
    }
    if let Err(err) = setpriority_process(this_thread, BACKGROUND_NICE) {
        tracing::debug!(error = %err, "the store's background thread keeps its priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn yield_to_requests() {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    use super::*;

    #[tokio::test]
    async fn jobs_run_in_order_and_a_panic_fails_only_its_own_job() {
        let thread = BackgroundThread::spawn().unwrap();
        let name = thread
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("switchboard-store"));
        assert!(thread.run(|| panic!("boom")).await.is_err());
        assert_eq!(thread.run(|| 2 + 2).await.unwrap(), 4);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn on_linux_only_the_background_thread_is_niced() {
        let nice_of = |tid| rustix::process::getpriority_process(Some(tid)).unwrap();
        let thread = BackgroundThread::spawn().unwrap();
        let own = nice_of(rustix::thread::gettid());
        let background = thread
            .run(move || nice_of(rustix::thread::gettid()))
            .await
            .unwrap();
        assert_eq!(background, own.max(BACKGROUND_NICE));
        assert_eq!(nice_of(rustix::thread::gettid()), own);
    }
}
