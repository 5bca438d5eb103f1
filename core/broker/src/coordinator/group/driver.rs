//! Runs one [`GroupShard`]: steps it under a short lock, sends its answers and
//! performs its appends outside that lock.
//!
//! Appends of a shard are serialized by a separate `append_order` lock that is held
//! across "append, then report the outcome to the shard". The shard therefore
//! applies outcomes in log order: of two racing commits of the same partition, the
//! one acknowledged later is the one in memory and the later one in the log. A slow
//! append (an fsync) only holds `append_order`; heartbeats and every other request
//! that does not append keep being served meanwhile.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::codec;
use super::journal::OffsetJournal;
use super::shard::{Append, GroupShard, Now, Outbox, Reply, Token};
use crate::api::codes::{coordinator_code, log_error_code};
use klog_protocol::Clock;

/// One loaded shard and the log it persists to.
pub(crate) struct ShardDriver {
    shard: Mutex<GroupShard>,
    journal: Box<dyn OffsetJournal>,
    /// Held from an append until the shard has seen its outcome.
    append_order: Mutex<()>,
    waiters: Mutex<HashMap<Token, oneshot::Sender<Reply>>>,
    next_token: AtomicU64,
    clock: Arc<dyn Clock>,
}

impl ShardDriver {
    /// Drives `shard`, appending to `journal`.
    pub fn new(shard: GroupShard, journal: Box<dyn OffsetJournal>, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(ShardDriver {
            shard: Mutex::new(shard),
            journal,
            append_order: Mutex::new(()),
            waiters: Mutex::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            clock,
        })
    }

    /// The current time, as the shard sees it.
    fn now(&self) -> Now {
        Now { instant: Instant::now(), wall_ms: self.clock.now_ms() }
    }

    /// Steps the shard with `input` (under the lock only while it runs), then sends
    /// the answers and starts the appends it asked for.
    pub fn step<R>(self: &Arc<Self>, input: impl FnOnce(&mut GroupShard) -> R) -> R {
        let (result, outbox) = {
            let mut shard = self.shard.lock();
            shard.set_now(self.now());
            let result = input(&mut shard);
            (result, shard.take_outbox())
        };
        self.dispatch(outbox);
        result
    }

    /// Reads the shard without stepping it.
    pub fn read<R>(&self, read: impl FnOnce(&GroupShard) -> R) -> R {
        read(&self.shard.lock())
    }

    /// Steps the shard with a request whose answer goes to a token, runs `stepped`,
    /// and waits for that answer (`None` if the shard dropped it).
    pub async fn call(
        self: &Arc<Self>,
        input: impl FnOnce(&mut GroupShard, Token),
        stepped: impl FnOnce(),
    ) -> Option<Reply> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(token, tx);
        self.step(|shard| input(shard, token));
        stepped();
        let reply = rx.await.ok();
        self.waiters.lock().remove(&token);
        reply
    }

    fn dispatch(self: &Arc<Self>, outbox: Outbox) {
        self.deliver(outbox.replies);
        if outbox.appends.is_empty() {
            return;
        }
        let driver = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || driver.run_appends(outbox.appends));
            }
            Err(_) => driver.run_appends(outbox.appends),
        }
    }

    fn deliver(&self, replies: Vec<(Token, Reply)>) {
        if replies.is_empty() {
            return;
        }
        let mut waiters = self.waiters.lock();
        for (token, reply) in replies {
            if let Some(tx) = waiters.remove(&token) {
                let _ = tx.send(reply);
            }
        }
    }

    /// Appends in order; each outcome reaches the shard before the next append
    /// starts (appends it causes run after these).
    fn run_appends(&self, appends: Vec<Append>) {
        let mut queue: VecDeque<Append> = appends.into();
        while let Some(append) = queue.pop_front() {
            let _order = self.append_order.lock();
            let result = self.write(&append);
            let outbox = {
                let mut shard = self.shard.lock();
                shard.set_now(self.now());
                shard.appended(append.id, result);
                shard.take_outbox()
            };
            self.deliver(outbox.replies);
            queue.extend(outbox.appends);
        }
    }

    /// Writes one append as a batch; the error is the coordinator's Kafka code.
    fn write(&self, append: &Append) -> Result<(), i16> {
        let now_ms = self.clock.now_ms();
        let batch = codec::encode_batch(&append.records, now_ms).map_err(|e| {
            tracing::error!("cannot encode offsets batch: {e}");
            kafka_protocol::ResponseError::UnknownServerError.code()
        })?;
        self.journal.append(batch, now_ms).map_err(|e| {
            tracing::warn!("cannot append to the offsets log: {e}");
            coordinator_code(log_error_code(&e))
        })
    }
}
