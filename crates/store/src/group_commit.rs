//! Group commit: writes to one file that arrive while it is being written are merged into the
//! next single write, instead of each taking its turn at a full read → rewrite → fsync.
//!
//! Lakepass keeps small whole-file stores (`vault.json`, `~/.databrickscfg`) that every
//! refreshed workspace rewrites, each time atomically and durably (temp file, fsync, rename,
//! fsync of the folder). When many workspaces come due together (a laptop waking after an
//! hour) those rewrites queued one behind another under the file's lock, and the queue, not
//! the network, set how long the pass took: measured in bench/ (figure 3), 100 vault writes of
//! about a millisecond each, in a row. Here the first writer to find the file idle becomes the
//! *leader*: it takes every operation queued so far, applies them in arrival order to one read
//! of the file and writes the result once. Operations that arrive meanwhile queue for the next
//! batch, whose leader is one of their own callers.
//!
//! Durability is unchanged for every caller: [`GroupCommit::submit`] returns only when the
//! write holding its operation has finished, with that write's outcome, so no caller hears
//! "stored" before its data is on disk, and a failed write is reported to every caller whose
//! operation it carried. The cross-process file lock is still taken per write by the leader;
//! this only merges writers inside one process. A caller waits at most for the write under way
//! and then the one carrying its operation, each bounded by the file lock's timeout.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, Weak};

/// The queue of one file. `Op` is one caller's change; `Out` what that caller is told.
pub struct GroupCommit<Op, Out> {
    state: Mutex<State<Op, Out>>,
    done: Condvar,
}

struct State<Op, Out> {
    /// Operations waiting for the next write, with their callers' tickets, in arrival order.
    queued: Vec<(u64, Op)>,
    /// A leader is writing a batch.
    writing: bool,
    /// Outcomes of finished batches not yet collected by their callers. `None`: the leader
    /// panicked.
    finished: HashMap<u64, Option<Out>>,
    next_ticket: u64,
    /// Batches written (a test's view of how much was merged).
    batches: u64,
}

impl<Op, Out> Default for GroupCommit<Op, Out> {
    fn default() -> Self {
        GroupCommit {
            state: Mutex::new(State {
                queued: Vec::new(),
                writing: false,
                finished: HashMap::new(),
                next_ticket: 0,
                batches: 0,
            }),
            done: Condvar::new(),
        }
    }
}

impl<Op, Out> GroupCommit<Op, Out> {
    /// Queues `op` and blocks until a write that carried it has finished; returns what that
    /// write said about `op`.
    ///
    /// When no write is under way, this caller leads: `commit` gets every queued operation
    /// (its own among them) in arrival order and must return one outcome per operation, in the
    /// same order. A caller whose operation a leader took does not run its own `commit`.
    /// Blocks the calling thread: call it off the async threads.
    pub fn submit(&self, op: Op, commit: impl FnOnce(Vec<Op>) -> Vec<Out>) -> Out {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queued.push((ticket, op));
        loop {
            if let Some(out) = state.finished.remove(&ticket) {
                return out.expect("the write that carried this operation panicked");
            }
            if !state.writing {
                break;
            }
            state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        // Lead: take the whole queue (our own operation is in it: nobody else took it).
        state.writing = true;
        let (tickets, ops): (Vec<u64>, Vec<Op>) = std::mem::take(&mut state.queued).into_iter().unzip();
        drop(state);
        let n = tickets.len();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let outs = commit(ops);
            assert_eq!(outs.len(), n, "one outcome per operation");
            outs
        }));
        let mut state = self.lock();
        state.writing = false;
        state.batches += 1;
        let mine = match outcome {
            Ok(outs) => {
                let mut mine = None;
                for (t, out) in tickets.into_iter().zip(outs) {
                    if t == ticket {
                        mine = Some(out);
                    } else {
                        state.finished.insert(t, Some(out));
                    }
                }
                Ok(mine.expect("the leader's own operation is in its batch"))
            }
            Err(panic) => {
                state.finished.extend(tickets.into_iter().filter(|t| *t != ticket).map(|t| (t, None)));
                Err(panic)
            }
        };
        drop(state);
        self.done.notify_all();
        mine.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    /// How many batches have been written (tests observe merging through it).
    pub fn batches(&self) -> u64 {
        self.lock().batches
    }

    /// How many operations wait for the next write.
    pub(crate) fn queued(&self) -> usize {
        self.lock().queued.len()
    }

    /// Waits (up to ten seconds) until `n` operations wait for the next write; for tests.
    pub fn wait_queued(&self, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.queued() < n {
            assert!(std::time::Instant::now() < deadline, "only {} of {n} queued", self.queued());
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<Op, Out>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One queue per file per process, found by path: every writer of a file in this process
/// joins the same queue, whichever handle it writes through. Entries go when the last handle
/// of a queue is dropped.
pub struct Queues<G>(Mutex<BTreeMap<PathBuf, Weak<G>>>);

impl<G: Default> Queues<G> {
    /// An empty registry (for a `static`).
    pub const fn new() -> Self {
        Queues(Mutex::new(BTreeMap::new()))
    }
}

impl<G: Default> Default for Queues<G> {
    fn default() -> Self {
        Queues::new()
    }
}

impl<G: Default> Queues<G> {
    /// The queue of `path`, made if there is none.
    pub fn of(&self, path: &Path) -> Arc<G> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = map.get(path).and_then(Weak::upgrade) {
            return q;
        }
        map.retain(|_, q| q.strong_count() > 0);
        let q = Arc::new(G::default());
        map.insert(path.to_path_buf(), Arc::downgrade(&q));
        q
    }
}

/// An `io::Error` with the same kind and message as `e`, for handing one failed write's error to
/// every caller it carried (`io::Error` is not `Clone`).
pub fn same_io_error(e: &std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::time::Duration;

    /// A "file" that takes a while to write: every caller's operation is in it when its call
    /// returns, and callers that came while a write was under way were merged.
    #[test]
    fn concurrent_callers_share_writes_and_each_sees_its_own_data_written() {
        let q: Arc<GroupCommit<u32, Result<(), String>>> = Arc::default();
        let file: Arc<Mutex<Vec<u32>>> = Arc::default();
        let writes = Arc::new(Mutex::new(0u32));
        let n = 32;
        let start = Arc::new(Barrier::new(n));
        let workers: Vec<_> = (0..n as u32)
            .map(|i| {
                let (q, file, writes, start) = (q.clone(), file.clone(), writes.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let out = q.submit(i, |ops| {
                        std::thread::sleep(Duration::from_millis(5));
                        file.lock().unwrap().extend(&ops);
                        *writes.lock().unwrap() += 1;
                        ops.iter().map(|_| Ok(())).collect()
                    });
                    assert_eq!(out, Ok(()));
                    assert!(file.lock().unwrap().contains(&i), "{i} returned before its data was written");
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let mut all = file.lock().unwrap().clone();
        all.sort();
        assert_eq!(all, (0..n as u32).collect::<Vec<_>>(), "every operation written exactly once");
        let writes = *writes.lock().unwrap();
        assert!(writes < n as u32, "{writes} writes for {n} callers: nothing was merged");
        assert_eq!(q.batches(), u64::from(writes));
    }

    #[test]
    fn each_caller_gets_its_own_outcome() {
        let q: Arc<GroupCommit<u32, Result<u32, String>>> = Arc::default();
        let workers: Vec<_> = (0..16u32)
            .map(|i| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let out = q.submit(i, |ops| {
                        std::thread::sleep(Duration::from_millis(2));
                        ops.iter()
                            .map(|o| if o % 2 == 0 { Ok(*o) } else { Err(format!("odd {o}")) })
                            .collect()
                    });
                    (i, out)
                })
            })
            .collect();
        for w in workers {
            let (i, out) = w.join().unwrap();
            if i % 2 == 0 {
                assert_eq!(out, Ok(i));
            } else {
                assert_eq!(out, Err(format!("odd {i}")));
            }
        }
    }

    /// A batch whose write panics fails every caller it carried (they panic too, rather than
    /// wait forever or hear "stored"), and the queue goes on working.
    #[test]
    fn a_panicking_write_fails_its_whole_batch_and_the_queue_recovers() {
        let q: Arc<GroupCommit<u32, u32>> = Arc::default();
        let entered = Arc::new(Barrier::new(2));
        let (q1, e1) = (q.clone(), entered.clone());
        let first = std::thread::spawn(move || {
            q1.submit(1, |ops| {
                e1.wait();
                std::thread::sleep(Duration::from_millis(200));
                ops
            })
        });
        entered.wait();
        // Both queue behind the first write, so one batch carries both, and its write panics.
        let doomed: Vec<_> = [2, 3]
            .map(|i| {
                let q = q.clone();
                std::thread::spawn(move || q.submit(i, |_| panic!("disk on fire")))
            })
            .into_iter()
            .collect();
        assert_eq!(first.join().unwrap(), 1);
        for d in doomed {
            assert!(d.join().is_err(), "a caller of the panicked batch was told it was stored");
        }
        assert_eq!(q.submit(4, |ops| ops), 4);
        assert_eq!(q.batches(), 3);
    }

    #[test]
    fn one_queue_per_path() {
        static QS: Queues<GroupCommit<u8, u8>> = Queues::new();
        let a = QS.of(Path::new("/x/a"));
        assert!(Arc::ptr_eq(&a, &QS.of(Path::new("/x/a"))));
        assert!(!Arc::ptr_eq(&a, &QS.of(Path::new("/x/b"))));
        let weak = Arc::downgrade(&a);
        drop(a);
        assert!(weak.upgrade().is_none(), "the registry keeps no queue alive");
    }
}
