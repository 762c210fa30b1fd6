//! The engine shared by [`scope`](super::scope), [`ScopedJoinSet`](super::ScopedJoinSet)
//! and [`join_all`](super::join_all): the children of one owner, and the one
//! loop that polls them — a *session* per poll of the owner.
//!
//! # A session
//!
//! [`Engine::poll`] is the owner's `poll`. It registers the parent's waker
//! (which suppresses parent wakes, see `shared`) and runs sessions until one
//! ends with nothing to do:
//!
//! 1. The owner's thread runs a *pull loop*: pop a ready child from the
//!    scope's ready queue (the body and `!Send` children first, from the
//!    owner-only queue), poll it, repeat. A child woken while the session
//!    runs is pushed onto the queue at once (see `child`'s wake protocol)
//!    and polled by whichever pull loop is free next — not on a later poll
//!    of the owner. A loop takes a few entries at once (a *batch*, one
//!    lock per batch); the batch stays where the other loops can take it
//!    (`Batch`), so no sibling waits behind a long poll of the loop that
//!    happened to take it: a loop that runs out of work takes half of
//!    another's batch, and a loop about to start a poll while a thread of
//!    the session sleeps hands its batch back to the queue, which wakes
//!    that thread.
//! 2. On a worker, the session starts with a *standby* helper
//!    (`Session::standby`): a helper pull loop published without waking
//!    anyone, taken by a worker that becomes free while the owner is still
//!    in its loop (one that just woke some of these children from the
//!    driver) and popped back unused otherwise. It is woken for at once
//!    when the previous session was long, or when more is ready than the
//!    owner can poll. A pull loop that pops a child while more are ready,
//!    with fewer helpers
//!    than the runtime has other workers, *forks*: through
//!    [`fork::join`](crate::scheduler::fork::join), it
//!    goes on with its own loop (inline) and offers a helper pull loop to
//!    idle workers. If nobody steals it, the forker pops it
//!    back after its own loop and it finds nothing left to do. Nested forks
//!    are bounded by [`MAX_FORK_DEPTH`]. Off the workers (an owner in
//!    `block_on`) a fork wakes a parked worker, so the owner's loop forks
//!    only once it has run [`OFF_WORKER_FORK_DELAY`], or before the first
//!    poll of a child, or before the poll of a child seen polling long
//!    lately ([`LONG_POLL`]; then even if nothing else is ready).
//! 3. A pull loop ends when no child is ready, or when the session's budget
//!    of re-polls is spent (or the body or a child panicked): then it takes
//!    no new child. For an owner that returns with any completed child (a
//!    join set), a completion spends the budget at the next re-poll. A loop
//!    of many polls looks at the I/O driver and timers about every
//!    millisecond (`DriverLooks`), as a worker does between tasks. A helper
//!    loop that finds nothing ready while another loop is inside a child
//!    poll *lingers* instead (`Session::linger`): it waits for a push onto
//!    the queues or for the end of the last poll in flight,
//!    so a sibling woken during a long poll on the owner's thread is polled
//!    at once. `fork::join` returns only after both closures returned
//!    or unwound, so when the owner's loop returns **no child poll of this
//!    session is in flight**. While a thread waits in such a join for loops
//!    still in flight, it keeps serving the session (the session is the
//!    join's `fork::Serve`): it polls children woken meanwhile in a loop
//!    that does not fork, taking the owner role if it is the owner's thread
//!    and the role is free, and a push onto the queues wakes it from its
//!    sleep (`shared`'s "Serving while waiting").
//! 4. The owner adopts children spawned meanwhile into its slab (bookkeeping
//!    only), hands completed children to the [`Owner`], and checks whether
//!    it is finished. Otherwise it re-enables parent wakes and looks at the
//!    queues one last time: work that arrived meanwhile starts another
//!    session; if the budget is spent, the owner wakes itself and yields.
//!
//! A child is never polled by two threads at once: a ready-queue entry is
//! unique per child (it moves between the queue and the batches, one place
//! at a time, under their locks), and starting its poll moves the child to
//! `RUNNING`, during which wakes only set a flag (the poller re-queues the
//! child after the poll). A batch's entries go back to the queue when its
//! loop ends, so none outlives the session's loops.
//!
//! # Invariants
//!
//! After `poll` returns (or unwinds — nothing in the loop does, except the
//! owner's documented re-raise of a child panic after the join), no thread
//! holds a reference to any child (I1). If the engine is leaked, its
//! children are leaked with it, queue entries included (I2); dropping it
//! cancels them on the dropping thread (I4).

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use crossbeam_utils::CachePadded;
use slab::Slab;

use super::child::{COMPLETE, PANICKED, Payload, RawChild, STARTED, UNADOPTED, keep_first};
use super::shared::Shared;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use crate::loom::sync::{Arc, Mutex};
use crate::scheduler::fork::{Serve, Unparker};

/// Re-polls (polls of a child that was polled before) one poll of the owner
/// may run, per live child: 16 lets bursts of sibling wake-ups (pipelines,
/// channels between children) settle within one poll, while still bounding
/// how long a scope can monopolise its thread. First polls are free: they
/// are bounded by the number of spawns.
const REPOLLS_PER_CHILD: usize = 16;

/// Most nested forks on one chain of pull loops. A loop forks only while
/// helpers are missing, and a helper that runs out of work ends; this bounds
/// the stack depth when helpers come and go within one session.
const MAX_FORK_DEPTH: u32 = 8;

/// Most ready children a pull loop takes from the queue at once (one lock
/// per batch). A loop takes at most a share of the queue (half of it per
/// running loop), so a short queue is still spread over the helpers.
const MAX_BATCH: usize = 16;

/// Batch slots of a session (see `Batch`): one per pull loop running at
/// once, which on this runtime's usual sizes is the owner's loop, a helper
/// or two, and a serving loop of a fork wait. A loop that finds every slot
/// taken takes one child at a time instead.
const BATCH_SLOTS: usize = 4;

/// Spin rounds a lingering helper loop (see `Session::linger`) looks for
/// work before it sleeps: most child polls are short, and the wake of a
/// sleeping thread costs more than they do.
const LINGER_SPINS: u32 = if cfg!(loom) { 1 } else { 64 };

/// Longest sleep of a lingering helper between checks of its worker's
/// queues (tasks queued there wait for it to stop lingering).
const LINGER_SLEEP: std::time::Duration = std::time::Duration::from_millis(1);

/// Sleeps in a row, each ended without a ready child, after which a
/// lingering helper gives up anyway. Helpers that run on top of a poll do
/// not linger at all (see `fork`): the poll beneath could be the one they
/// wait for. This bound is the second line of defence, should a helper
/// ever wait for its own stack some other way: a bounded detour (about a
/// quarter of a second) instead of a hang. (Unbounded under loom, whose
/// sleeps end only by wakes.)
const LINGER_MAX_IDLE_SLEEPS: u32 = if cfg!(loom) { u32::MAX } else { 250 };

/// A session that took at least this long makes the next session of the
/// same owner wake a parked worker for its standby helper at once (see
/// `Session::standby`): a wake costs a few microseconds of the waker's time
/// and tens of the wakee's, worth it when the owner is likely to stay busy
/// for much longer (a CPU-heavy child), not for sessions of short polls.
const STANDBY_WAKE_AFTER: std::time::Duration = std::time::Duration::from_micros(200);

/// Off the workers (an owner in `block_on`), a session gets a standby
/// helper only after a session at least this long (and then wakes a worker
/// for it at once). Every such helper costs a fork through the runtime's
/// fork injector and a wake; a busy server's sessions of short polls
/// (hundreds of microseconds) do not need it, a session that ran a
/// CPU-heavy child poll does: without a helper, siblings woken during the
/// next such poll of the owner wait for its end (timer siblings of a child
/// doing 20 ms polls measured 1.36–1.53× tokio's time, 1.05–1.20× with it).
const STANDBY_OFF_WORKER_AFTER: std::time::Duration = std::time::Duration::from_millis(2);

/// Off the workers, how long an owner's loop runs before it forks a helper
/// (unless the child it is about to poll was never polled or is a long
/// one, see `LONG_POLL`). On a worker a fork is published where searching
/// workers find it (a parked one is woken only when that pays, see
/// `scheduler::fork`); off the workers it
/// goes through the runtime's fork injector and wakes a parked worker,
/// which costs the wakee tens of microseconds and, with every core busy,
/// preempts another thread. Most sessions of a busy server are shorter
/// than that: at 1024 echo connections (FIFO client), 94 % of 100 000
/// sessions of a scope in `block_on` took under 50 µs, and forking in
/// them at once put the scope's p99 at 14–21 ms, against 12–15 ms with
/// this delay (alternated runs of one binary; tokio 14–23 ms). A loop
/// that has run this long is a long one: a helper pays, as for a CPU
/// fan-out from `#[tether::main]`.
const OFF_WORKER_FORK_DELAY: std::time::Duration = std::time::Duration::from_micros(100);

/// Off the workers, a child with a poll on the owner's thread at least this
/// long (a CPU-heavy child) in the last `LONG_CHILD_MEMORY` is a *long*
/// child: before its next poll there, the owner's loop forks a helper at
/// once, even if nothing else is ready yet, so that siblings woken during
/// that poll are served during it (`OFF_WORKER_FORK_DELAY` alone would
/// make them wait whenever the long poll comes early in a session, and a
/// sibling woken by a timer or by another thread would wait with nobody in
/// the I/O driver). Remembered per child, not per scope: a poll that was
/// long only because its thread was preempted costs that child early
/// forks for a while. The first long poll of a child whose polls were
/// short is the one this cannot foresee: siblings ready beside it wait for
/// it if the session is younger than `OFF_WORKER_FORK_DELAY`.
const LONG_POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// How long a child stays long after its last long poll (see `LONG_POLL`):
/// many times the gaps between the heavy polls of a CPU-bound handler
/// (compute, then short polls to write and read, then compute again).
const LONG_CHILD_MEMORY: std::time::Duration = std::time::Duration::from_millis(100);

/// Long children an engine remembers (see `LONG_POLL`); a fifth replaces
/// one of them.
const LONG_CHILDREN: usize = 4;

/// The instant the long-child expiries count from (nanoseconds since it).
fn epoch() -> std::time::Instant {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

/// Nanoseconds from [`epoch`] to `t` (saturating).
fn since_epoch(t: std::time::Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// What an owner's loop off the workers may do before a poll (see
/// `Session::fork_gate`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ForkGate {
    /// Fork as on a worker: while more children are ready.
    Open,
    /// The child is a long one: fork even if nothing else is ready.
    Long,
    /// Too early in the session: do not fork.
    Wait,
}

/// A remembered long child (see `LONG_POLL`): its address (0 for none;
/// only compared, never dereferenced) and until when it counts as long
/// (see [`since_epoch`]). Used by the owner's thread only.
#[derive(Debug, Default)]
struct LongChild {
    addr: AtomicUsize,
    until: AtomicU64,
}

/// What a session whose owner runs off the workers knows (see
/// `OFF_WORKER_FORK_DELAY` and `LONG_POLL`).
#[derive(Debug)]
struct OffWorker<'a> {
    /// The owner's first loop forks no helper before this instant.
    fork_from: std::time::Instant,
    /// The engine's long children.
    long_children: &'a [LongChild; LONG_CHILDREN],
}

impl OffWorker<'_> {
    /// The remembered long child at `addr`, if it has not expired at `now`.
    fn long_child(&self, addr: usize, now: std::time::Instant) -> Option<&LongChild> {
        let now = since_epoch(now);
        self.long_children.iter().find(|c| {
            c.addr.load(Ordering::Relaxed) == addr && c.until.load(Ordering::Relaxed) > now
        })
    }

    /// Remembers the child at `addr` as long until `LONG_CHILD_MEMORY`
    /// after `now` (in its own slot, else a free or expired one, else one
    /// chosen by its address). Plain loads and stores: only the owner's
    /// thread uses the slots.
    fn note_long(&self, addr: usize, now: std::time::Instant) {
        let at = since_epoch(now);
        let slot = self
            .long_children
            .iter()
            .find(|c| c.addr.load(Ordering::Relaxed) == addr)
            .or_else(|| {
                self.long_children
                    .iter()
                    .find(|c| c.until.load(Ordering::Relaxed) <= at)
            })
            .unwrap_or(&self.long_children[(addr >> 6) % LONG_CHILDREN]);
        slot.addr.store(addr, Ordering::Relaxed);
        slot.until.store(
            at.saturating_add(LONG_CHILD_MEMORY.as_nanos() as u64),
            Ordering::Relaxed,
        );
    }
}

/// Most child polls of a pull loop between two looks at the clock, to see
/// whether it is time to look at the I/O driver (`DriverLooks`): the worker
/// loop's event interval, since to a server a child is what a task is.
/// Loops of longer polls look at the clock more often, down to every poll,
/// so that about one look falls in each `DRIVER_LOOK_EVERY`.
const DRIVER_LOOK_TICKS: u32 = 61;

/// Child polls of a pull loop before its first look at the clock: the many
/// short loops of a busy server never read it.
const DRIVER_FIRST_CLOCK_TICKS: u32 = 4;

/// Longest a pull loop runs child polls without a non-blocking look at the
/// I/O driver and timers (once it has looked at the clock). A session is
/// one poll of its owner however many child polls it runs, so without
/// these looks a session kept busy by always-ready children (up to its
/// whole re-poll budget: 2 ms timers of a sibling beside 1 000 children
/// polling for 50 µs each fired after 410 ms) would leave I/O and timers
/// unwatched while every worker is inside it. A look costs a system call,
/// so tiny polls do not pay one every `DRIVER_LOOK_TICKS` (a 10k-child
/// fan-out measured 10–15 % slower that way).
const DRIVER_LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// When a pull loop looks at the I/O driver (see `DRIVER_LOOK_EVERY`).
struct DriverLooks {
    /// Child polls since the last look at the clock.
    ticks: u32,
    /// Child polls between two looks at the clock.
    interval: u32,
    /// The last look at the clock, if any.
    clock: Option<std::time::Instant>,
    /// The last look at the driver, or the first look at the clock.
    anchor: Option<std::time::Instant>,
}

impl DriverLooks {
    fn new() -> Self {
        DriverLooks {
            ticks: 0,
            interval: DRIVER_FIRST_CLOCK_TICKS,
            clock: None,
            anchor: None,
        }
    }

    /// Counts a child poll.
    fn polled(&mut self) {
        self.ticks += 1;
    }

    /// Between two polls: every `interval` polls, looks at the clock (and
    /// sets `interval` to the polls that fit in `DRIVER_LOOK_EVERY`, at the
    /// pace of the last ones, at most `DRIVER_LOOK_TICKS`), and at the
    /// driver if its last look (or the first look at the clock) is
    /// `DRIVER_LOOK_EVERY` old. What the driver wakes is pushed onto the
    /// scopes' queues (this one's children are polled in this session).
    /// Returns true if the runtime is shutting down (seen at a look).
    fn between_polls(&mut self) -> bool {
        if self.ticks < self.interval || cfg!(loom) {
            return false;
        }
        let now = std::time::Instant::now();
        if let Some(clock) = self.clock {
            let took = now.duration_since(clock).as_nanos().max(1);
            let fit = DRIVER_LOOK_EVERY.as_nanos() * u128::from(self.ticks) / took;
            self.interval = fit.clamp(1, u128::from(DRIVER_LOOK_TICKS)) as u32;
        }
        self.clock = Some(now);
        self.ticks = 0;
        let anchor = *self.anchor.get_or_insert(now);
        if now.duration_since(anchor) < DRIVER_LOOK_EVERY {
            return false;
        }
        self.anchor = Some(now);
        // Whichever runtime this thread runs (each looks only at its own
        // context).
        let multi = crate::scheduler::multi_thread::worker::poll_driver_from_session();
        multi || crate::scheduler::current_thread::poll_driver_from_session()
    }
}

/// Completions a helper loop collects before it hands them to the owner
/// (one lock per batch; the rest at the end of the loop).
const FLUSH_BATCH: usize = 32;

/// What an owner (scope, join set, `join_all`) does with its body and its
/// completed children.
pub(crate) trait Owner {
    /// Polls the body with the body record's context (scopes only; called on
    /// the owner's thread). Returns false if the session must stop (the
    /// body panicked).
    fn poll_body(&mut self, cx: &mut Context<'_>) -> bool;

    /// Takes over a completed child (its output or panic) and releases it.
    /// Called on the owner's thread after the session joined; must not
    /// unwind.
    fn complete(&mut self, child: RawChild);

    /// Called after each session: true if `poll` may return `Ready`. May
    /// re-raise a panic (no child poll is in flight then).
    fn finished(&mut self, engine: &mut Engine<'_>) -> bool;

    /// True if any completed child makes [`Owner::finished`] true (a join
    /// set returns it from `join_next`): a session then ends soon after a
    /// child completes instead of running its whole re-poll budget first
    /// (see `Session::should_stop`). False by default: a scope or
    /// `join_all` is not done before its last child.
    fn returns_per_completion(&self) -> bool {
        false
    }
}

/// See the module docs. `'env` is invariant: children may borrow `'env`
/// data, so the engine must not be usable with a shorter lifetime.
#[derive(Debug)]
pub(crate) struct Engine<'env> {
    /// The owner's records of its children.
    books: Books,
    /// The wake hub.
    shared: Arc<Shared>,
    /// The body's wake record, for scopes.
    body: Option<RawChild>,
    /// How long the last session took (zero where it was not timed).
    last_session: std::time::Duration,
    /// Off the workers: children seen polling long recently (see
    /// `LONG_POLL`), address 0 in unused slots. Only compared, never
    /// dereferenced (a completed child's address may come back as a new
    /// child's: that child gets early forks until the entry expires).
    long_children: [LongChild; LONG_CHILDREN],
    /// Invariance over `'env`.
    _env: PhantomData<fn(&'env ()) -> &'env ()>,
}

/// The owner's records: touched only on the owner's thread.
#[derive(Debug, Default)]
struct Books {
    /// Live (adopted, not yet completed) children.
    slab: Slab<RawChild>,
    /// Reused buffer for adoption.
    adopt: Vec<RawChild>,
}

impl Books {
    /// Moves children spawned through handles into the slab.
    fn adopt(&mut self, shared: &Shared) {
        shared.take_pending(&mut self.adopt);
        for child in self.adopt.drain(..) {
            child.set_index(self.slab.insert(child));
        }
    }

    /// Hands completed children to the owner and forgets them, so a
    /// long-lived scope stays as large as its peak of live children.
    fn settle(&mut self, shared: &Shared, done: &mut Vec<RawChild>, owner: &mut dyn Owner) {
        if done.is_empty() {
            return;
        }
        // A child may complete before its adoption: adopt first.
        if done.iter().any(|c| c.index() == UNADOPTED) {
            self.adopt(shared);
        }
        for child in done.drain(..) {
            self.slab.remove(child.index());
            owner.complete(child);
        }
    }
}

impl<'env> Engine<'env> {
    /// An engine without a body (join sets, `join_all`).
    pub(crate) fn new() -> Engine<'env> {
        Engine {
            books: Books::default(),
            shared: Shared::new(),
            body: None,
            last_session: std::time::Duration::ZERO,
            long_children: Default::default(),
            _env: PhantomData,
        }
    }

    /// An engine with a wake record for a body future (queued: the body is
    /// polled first).
    pub(crate) fn with_body() -> Engine<'env> {
        let mut e = Engine::new();
        let body = RawChild::new_body(&e.shared);
        e.shared.push_new(body);
        e.body = Some(body);
        e
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Number of children not yet completed and handed out (adopted ones;
    /// children spawned through a handle count once adopted).
    pub(crate) fn len(&self) -> usize {
        self.books.slab.len()
    }

    /// Capacity of the slab (tests check that slots are reused).
    #[cfg(test)]
    pub(crate) fn slab_capacity(&self) -> usize {
        self.books.slab.capacity()
    }

    /// Makes room for `n` more children created by the owner itself (the
    /// slab and the ready queue grow once, not by doubling).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.books.slab.reserve(n);
        self.shared.reserve_ready(n);
    }

    /// Inserts a child created by the owner itself, with its first entry
    /// (it is polled in the next session).
    pub(crate) fn insert(&mut self, child: RawChild) {
        child.set_index(self.books.slab.insert(child));
        self.shared.push_new(child);
    }

    /// Moves children spawned through handles into the slab.
    fn adopt(&mut self) {
        self.books.adopt(&self.shared);
    }

    /// True (and spawning closed) if there is no live or pending child.
    pub(crate) fn close_if_idle(&mut self) -> bool {
        self.adopt();
        self.books.slab.is_empty() && self.shared.close_if_idle()
    }

    /// Requests cancellation of every live child; each completes with a
    /// cancellation error in the next session.
    pub(crate) fn abort_all(&mut self) {
        self.adopt();
        for (_, child) in self.books.slab.iter() {
            child.abort();
        }
    }

    /// The owner's poll: runs sessions (see the module docs) until the owner
    /// is finished, nothing is ready, or the budget is spent.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, owner: &mut dyn Owner) -> Poll<()> {
        crate::runtime::context::note_owner_polled();
        self.shared.begin_poll(cx.waker());
        let limit = REPOLLS_PER_CHILD.saturating_mul(self.books.slab.len() + 1);
        let repolls = AtomicUsize::new(0);
        loop {
            let mut done = self.session(owner, &repolls, limit);
            self.books.settle(&self.shared, &mut done, owner);
            if owner.finished(self) {
                return Poll::Ready(());
            }
            let more = self.shared.end_poll();
            if !more {
                return Poll::Pending;
            }
            if repolls.load(Ordering::Relaxed) >= limit {
                // Out of budget with work left: yield, and ask to be polled
                // again (parent wakes stay suppressed until then).
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// Runs one session and returns the children it completed.
    fn session(
        &mut self,
        owner: &mut dyn Owner,
        repolls: &AtomicUsize,
        limit: usize,
    ) -> Vec<RawChild> {
        let mut session = Session::new(
            &self.shared,
            self.body,
            OwnerSlot::new(owner, &mut self.books),
            repolls,
            limit,
            max_helpers(),
        );
        // Timed only where a helper is possible (two clock reads per
        // session).
        let start = (session.max_helpers > 0).then(std::time::Instant::now);
        let off_worker = start.filter(|_| !crate::scheduler::multi_thread::worker::on_worker());
        session.off_worker = off_worker.map(|start| OffWorker {
            fork_from: start + OFF_WORKER_FORK_DELAY,
            long_children: &self.long_children,
        });
        if !session.standby(self.last_session) {
            session.pull(true, None, None, 0, false);
        }
        self.last_session = start.map_or(std::time::Duration::ZERO, |t| t.elapsed());
        let Session { done, .. } = session;
        into_inner(done)
    }

    /// Closes spawning and cancels every pending and live child on this
    /// thread (I4), then drains the ready queues. Returns the first panic
    /// raised by a child's destructor (later ones are discarded). Never
    /// unwinds.
    pub(crate) fn cancel_all(&mut self) -> Option<Payload> {
        let mut first = None;
        let pending = self.shared.close();
        let live = std::mem::take(&mut self.books.slab);
        let children = pending.into_iter().chain(live.into_iter().map(|(_, c)| c));
        for child in children {
            // SAFETY: I4: we are in the owner's poll or drop, 'env is alive,
            // and no session is running, so nobody else touches the child.
            if let Err(p) = unsafe { child.cancel() } {
                keep_first(&mut first, p);
            }
            // SAFETY: I4: the child is complete (cancelled); released once.
            if let Err(p) = unsafe { child.release_owner() } {
                keep_first(&mut first, p);
            }
        }
        // Every child is complete now, so no wake pushes a new entry; a
        // racing push that comes late is refused by the closed queues.
        for entry in self.shared.close_queues() {
            // SAFETY: popped from a queue, so the entry's reference is ours.
            unsafe { entry.drop_entry() };
        }
        first
    }
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// How many helper pull loops may run beside the owner's: one per other
/// worker of the current multi-thread runtime; none elsewhere, nor inside a
/// task-local scope.
fn max_helpers() -> usize {
    // Under loom, or while a task-local value is in place on this thread
    // (children must be polled where they can see it; see `task_local`).
    if cfg!(loom) || crate::runtime::context::task_locals_active() {
        return 0;
    }
    crate::runtime::context::with_current(|h| h.num_workers())
        .unwrap_or(1)
        .saturating_sub(1)
}

impl Drop for Engine<'_> {
    fn drop(&mut self) {
        let panic = self.cancel_all();
        if let Some(body) = self.body.take() {
            // SAFETY: the engine created the body record and releases it once.
            unsafe { body.release_body() };
        }
        if let Some(p) = panic
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(p);
        }
    }
}

/// The owner, reachable from the pull loops of a session. Only the owner's
/// thread may use it (the body and `!Send` children live there).
struct OwnerSlot<'a> {
    /// The owner, borrowed for the session.
    owner: *mut (dyn Owner + 'a),
    /// The owner's records, borrowed for the session.
    books: *mut Books,
    /// The owner thread's mark (see [`thread_mark`]).
    thread: usize,
    /// [`Owner::returns_per_completion`], read once when the slot is made:
    /// once a child completed, the session's budget ends with the next
    /// re-poll (see `Session::after_poll`). Any thread may read it.
    per_completion: bool,
}

// SAFETY: the pointer is dereferenced only on the thread that created the
// slot (checked with `thread_mark`), by the one pull loop that holds the
// owner role there; other threads only copy the slot's address.
unsafe impl Sync for OwnerSlot<'_> {}

impl<'a> OwnerSlot<'a> {
    fn new(owner: &mut (dyn Owner + 'a), books: &'a mut Books) -> Self {
        OwnerSlot {
            per_completion: owner.returns_per_completion(),
            owner,
            books,
            thread: thread_mark(),
        }
    }

    fn on_owner_thread(&self) -> bool {
        self.thread == thread_mark()
    }
}

/// A number unique to the calling thread among live threads: the address of
/// a thread-local. Its own thread-local, not a field of the runtime context:
/// it has no destructor, so it works during thread teardown too.
fn thread_mark() -> usize {
    thread_local! {
        static MARK: u8 = const { 0 };
    }
    MARK.with(|m| m as *const u8 as usize)
}

/// Runs `a` inline and `b` possibly on another worker, returning after both
/// returned or unwound (the first panic is resumed): `fork::join` on a
/// worker (the cheap two-way fork); `fork::join_all` elsewhere, which can
/// also fork from a thread inside a multi-thread runtime's `block_on` (as in
/// `#[tether::main]`) through the runtime's fork injector.
pub(super) fn fork2(a: impl FnOnce() + Send, b: impl FnOnce() + Send, serve: &dyn Serve) {
    let Some((a, b)) = crate::scheduler::fork::join_on_worker(a, b, serve) else {
        return;
    };
    // `join_all` wants one `Fn`; each part is taken out exactly once (job 0
    // and job 1 run once each).
    let (a, b) = (Mutex::new(Some(a)), Mutex::new(Some(b)));
    crate::scheduler::fork::join_all_serving(
        2,
        &|job| {
            if job == 0 {
                let a = crate::loom::lock(&a).take();
                if let Some(a) = a {
                    a();
                }
            } else {
                let b = crate::loom::lock(&b).take();
                if let Some(b) = b {
                    b();
                }
            }
        },
        serve,
    );
}

/// The state of one session, shared by its pull loops (see the module docs).
struct Session<'a> {
    /// The wake hub (ready queues).
    shared: &'a Shared,
    /// The body's record, if any.
    body: Option<RawChild>,
    /// The owner (body polls, `!Send` children).
    owner: OwnerSlot<'a>,
    /// Set when a pull loop must take no new child (the body or a child
    /// panicked: the owner re-raises or returns the panic).
    stop: AtomicBool,
    /// Re-polls so far in this poll of the owner.
    repolls: &'a AtomicUsize,
    /// Budget for `repolls`; lowered when a completion waits for an owner
    /// that returns it (see `OwnerSlot::per_completion`).
    limit: AtomicUsize,
    /// Helper pull loops running.
    helpers: AtomicUsize,
    /// Most helpers worth forking.
    max_helpers: usize,
    /// Set when the owner runs off the workers (see `OffWorker`).
    off_worker: Option<OffWorker<'a>>,
    /// Children completed by helper loops, for the owner.
    done: Mutex<Vec<RawChild>>,
    /// Hint: `done` may be non-empty.
    has_done: AtomicBool,
    /// The owner role is held: a pull loop with the role is running (it
    /// may be inside a child's or the body's poll, or forking), so nobody
    /// else on the owner's thread may take it. Only the owner's thread
    /// touches this (see `fork` and `serve`).
    owner_busy: AtomicBool,
    /// A standby helper is published and nobody has taken it yet (see
    /// `Session::standby`).
    standby: AtomicBool,
    /// The owner's pull loop of a standby session is running: a helper
    /// lingers while it does, not only while a poll is in flight, so that
    /// a helper that started between two of the owner's polls is still
    /// there when the owner enters a long one (see `Session::linger`).
    /// Cleared when that loop ends, or as soon as it forks (the owner's
    /// thread then waits for the forked helpers: see `OwnerLoopEnd`).
    owner_loop: AtomicBool,
    /// The in-flight words of [`Session::in_flight`] when the re-poll
    /// budget was first found spent (see `Session::should_stop`).
    spent: Mutex<Option<[usize; 2]>>,
    /// The pull loops' batches (see `Batch`).
    batches: [CachePadded<BatchSlot>; BATCH_SLOTS],
    /// Bit `i` set: slot `i` of `batches` belongs to a running loop.
    batch_claims: AtomicUsize,
    /// Child (or body) polls in progress (lower half of each word) and
    /// started (upper half, see [`ONE_POLL_STARTED`]): `[0]` on the owner's thread,
    /// `[1]` on the others. Two padded counters, not one, so the owner's
    /// polls and a helper's do not bounce one cache line between them on
    /// every poll (a fan-out of small children pays that per child).
    in_flight: [CachePadded<AtomicUsize>; 2],
}

impl<'a> Session<'a> {
    /// A session that has not started: no helper, nothing done, the owner
    /// busy (its loop is about to run).
    fn new(
        shared: &'a Shared,
        body: Option<RawChild>,
        owner: OwnerSlot<'a>,
        repolls: &'a AtomicUsize,
        limit: usize,
        max_helpers: usize,
    ) -> Self {
        Session {
            shared,
            body,
            owner,
            stop: AtomicBool::new(false),
            repolls,
            limit: AtomicUsize::new(limit),
            helpers: AtomicUsize::new(0),
            max_helpers,
            off_worker: None,
            done: Mutex::new(Vec::new()),
            has_done: AtomicBool::new(false),
            owner_busy: AtomicBool::new(true),
            in_flight: Default::default(),
            standby: AtomicBool::new(false),
            owner_loop: AtomicBool::new(false),
            spent: Mutex::new(None),
            batches: Default::default(),
            batch_claims: AtomicUsize::new(0),
        }
    }
}

impl<'a> Session<'a> {
    /// The runtime is shutting down: no loop takes a new child, and the
    /// owner's poll returns after this session (its budget is spent: it
    /// wakes itself and yields, and the runtime drops it). Without this,
    /// a runtime's drop waited for busy sessions to spend their budget (a
    /// scope of always-ready children with 10 ms polls held a drop for
    /// 0.7 s on four workers, 1.6 s on eight).
    fn end_for_shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.repolls.fetch_max(usize::MAX / 2, Ordering::Relaxed);
    }

    /// True if no new child may be taken.
    ///
    /// Once the re-poll budget is spent the session takes no new child,
    /// with one exception: while a poll that was already running when the
    /// budget ran out is still running (a long poll), the other loops keep
    /// serving its siblings. The session cannot end before that poll
    /// anyway, so serving them does not make it longer (by more than the
    /// one sibling poll in progress when the long poll ends); stopping them
    /// would leave every sibling waiting for the long poll. A poll is "the
    /// same" when its side of `in_flight` has a poll in flight and started
    /// none since the budget ran out: loops that keep starting short polls
    /// do not hold a spent session open.
    fn should_stop(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if self.repolls.load(Ordering::Relaxed) < self.limit.load(Ordering::Relaxed) {
            return false;
        }
        let now = self.in_flight_words();
        let spent = *crate::loom::lock(&self.spent).get_or_insert(now);
        !same_poll_in_flight(spent, now)
    }

    /// One pull loop (see the module docs). `owner_role`: this loop may
    /// poll the body and `!Send` children (it runs on the owner's thread
    /// and no other loop there holds the role). `first`: an entry already
    /// popped, polled first; `counted`: its poll, already counted in flight
    /// (see `fork`). `linger`: when nothing is ready, wait for work while
    /// another loop is inside a child poll ([`Session::linger`]).
    fn pull<'s>(
        &'s self,
        owner_role: bool,
        first: Option<RawChild>,
        mut counted: Option<InFlight<'s, 'a>>,
        depth: u32,
        linger: bool,
    ) {
        let side = self.side(owner_role);
        let mut done = Vec::new();
        // Entries popped from the ready queue but not yet polled.
        let mut mine = Batch::claim(self);
        let mut next = first;
        // The owner alternates between its own queue and the shared one, so
        // a body that keeps waking itself cannot starve the children (nor
        // the reverse). Children first: what was left ready by the previous
        // poll is older than anything the body is about to spawn.
        let mut local_turn = false;
        // Child polls since this loop last looked at the clock, and when it
        // last looked at the I/O driver (see `DriverLooks`).
        let mut looks = DriverLooks::new();
        // Off the workers, the owner's polls are timed (see `LONG_POLL`).
        let mut clock = (owner_role && self.off_worker.is_some()).then(std::time::Instant::now);
        loop {
            if looks.between_polls() {
                self.end_for_shutdown();
            }
            // The poll of the entry about to be taken counts in flight from
            // before it leaves the queue or a batch: a loop that finds
            // neither holding it then sees the poll (and lingers, instead of
            // ending while this one is about to start a poll that may be
            // long).
            let mut pre = None;
            let (child, more_ready) = match next.take() {
                Some(c) => (c, 0),
                None => {
                    // The body's (or a `!Send` child's) turn comes before
                    // the budget check: once the re-poll budget is spent,
                    // every session polls one child and ends, and the
                    // owner's next poll starts with the children again, so
                    // a body woken meanwhile would wait until no child is
                    // ready (an always-ready child with one long poll per
                    // session kept a woken body waiting for seconds). One
                    // poll past the budget at most.
                    if owner_role
                        && local_turn
                        && !self.stop.load(Ordering::Relaxed)
                        && let Some(c) = self.shared.pop_local()
                    {
                        local_turn = false;
                        mine.before_poll();
                        self.run_local(c, &mut done);
                        self.time_owner_poll(&mut clock, None);
                        looks.polled();
                        continue;
                    }
                    if self.should_stop() {
                        break;
                    }
                    pre = Some(InFlight::new(self, side));
                    let more = mine.refill();
                    match mine.pop() {
                        Some(c) => {
                            local_turn = true;
                            (c, more)
                        }
                        None if owner_role && !local_turn => {
                            drop(pre.take());
                            if let Some(c) = self.shared.pop_local() {
                                self.run_local(c, &mut done);
                                self.time_owner_poll(&mut clock, None);
                                looks.polled();
                                continue;
                            }
                            break;
                        }
                        None => {
                            drop(pre.take());
                            if linger && self.linger() {
                                continue;
                            }
                            break;
                        }
                    }
                }
            };
            // Off the workers, a long child gets a helper beside it even if
            // nothing else is ready yet: its siblings may be woken during
            // its poll (the helper lingers for them).
            let gate = self.fork_gate(depth, child, clock);
            if (more_ready > 0 || gate == ForkGate::Long)
                && depth < MAX_FORK_DEPTH
                && gate != ForkGate::Wait
            {
                let helpers = self.reserve_helpers(more_ready.max(1));
                if helpers == 0 && self.standby.swap(false, Ordering::Relaxed) {
                    // More is ready than this loop can poll at once, and
                    // the standby helper is still waiting to be taken: wake
                    // a worker for it (once), as a fork would, and as a
                    // fork does, hand back what this loop took but did not
                    // start, so the helper finds it (`child` may be a long
                    // poll).
                    mine.hand_back();
                    crate::scheduler::multi_thread::worker::with_forker(false, |f| {
                        if let Some(f) = f {
                            f.wake_helper();
                        }
                    });
                }
                if helpers > 0 {
                    // The helpers should find work: hand back what this loop
                    // took but did not start.
                    drop(mine);
                    self.flush(&mut done);
                    // `pre` becomes the count of the forking part's first
                    // poll: it must end with that poll, not with the join.
                    // A loop that may not linger forks helpers that may not
                    // either, and its own part does not (see `fork`).
                    self.fork(owner_role, child, depth, helpers, pre, owner_role || linger);
                    return;
                }
            }
            mine.before_poll();
            let addr = child.addr();
            self.run(child, &mut done, side, counted.take().or(pre));
            looks.polled();
            if owner_role {
                self.time_owner_poll(&mut clock, Some(addr));
                self.settle(&mut done);
            } else if done.len() >= FLUSH_BATCH {
                self.flush(&mut done);
            }
        }
        // Stopped early (budget or panic): entries not started go back.
        drop(mine);
        if owner_role {
            self.settle(&mut done);
        }
        self.flush(&mut done);
    }

    /// Before a poll of `child` by a loop at `depth`: on a worker, or in a
    /// nested loop, `Open`. In an owner's first loop off the workers
    /// (`clock`, the end of its last poll, is then known): `Long` for a
    /// long child (see `LONG_POLL`), `Open` for a child never polled (how
    /// long its poll takes is unknown, so the loop forks at once as on a
    /// worker: 51 children spawned together, one of them polling for 20 ms
    /// at a time, waited for its first poll without this, 1.19× tokio's
    /// time instead of 1.01×) or once the session is
    /// `OFF_WORKER_FORK_DELAY` old, else `Wait`.
    fn fork_gate(
        &self,
        depth: u32,
        child: RawChild,
        clock: Option<std::time::Instant>,
    ) -> ForkGate {
        let (Some(off), Some(now), 0) = (&self.off_worker, clock, depth) else {
            return ForkGate::Open;
        };
        if off.long_child(child.addr(), now).is_some() {
            ForkGate::Long
        } else if now >= off.fork_from || child.state() & STARTED == 0 {
            ForkGate::Open
        } else {
            ForkGate::Wait
        }
    }

    /// After a poll of a loop with the owner role off the workers (`clock`
    /// is then the end of its previous poll, or the loop's start): if
    /// `child` was polled and its poll took at least `LONG_POLL`, remembers
    /// it as long (`OffWorker::note_long`). One clock read per poll, only
    /// off the workers.
    fn time_owner_poll(&self, clock: &mut Option<std::time::Instant>, child: Option<usize>) {
        let (Some(last), Some(off)) = (clock.as_mut(), &self.off_worker) else {
            return;
        };
        let now = std::time::Instant::now();
        let long = now.duration_since(*last) >= LONG_POLL;
        *last = now;
        if let (Some(addr), true) = (child, long) {
            off.note_long(addr, now);
        }
    }

    /// Owner role only: hands completions (this loop's and the helpers'
    /// flushed ones) to the owner at once.
    fn settle(&self, done: &mut Vec<RawChild>) {
        if self.has_done.load(Ordering::Relaxed) {
            self.has_done.store(false, Ordering::Relaxed);
            done.append(&mut crate::loom::lock(&self.done));
        }
        if done.is_empty() {
            return;
        }
        // SAFETY: the owner role is held by exactly one loop, on the owner's
        // thread (see `pull`), so these are the only live uses of the owner
        // and its books; both borrows end before the next use.
        let (books, owner) = unsafe { (&mut *self.owner.books, &mut *self.owner.owner) };
        books.settle(self.shared, done, owner);
    }

    /// Reserves up to `wanted` of the missing helpers; returns how many.
    fn reserve_helpers(&self, wanted: usize) -> usize {
        let mut cur = self.helpers.load(Ordering::Relaxed);
        loop {
            let n = wanted.min(self.max_helpers.saturating_sub(cur));
            if n == 0 {
                return 0;
            }
            match self.helpers.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return n,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Forks `helpers` helper pull loops and goes on with this one, starting
    /// with `child`: one helper through the two-way `fork::join`, several
    /// through `fork::join_all` (job 0 is this loop).
    /// `pre`: the poll of `child`, counted in flight by the loop that took
    /// it (see `pull`), if it was. `may_linger`: false if the forking loop
    /// may not linger (see `helper_loop`); then neither its own part nor the
    /// helpers it forks do, since its thread joins them.
    fn fork<'s>(
        &'s self,
        owner_role: bool,
        child: RawChild,
        depth: u32,
        helpers: usize,
        pre: Option<InFlight<'s, 'a>>,
        may_linger: bool,
    ) {
        // The helper may start before this loop polls `child`: count that
        // poll in flight now, so that a helper finding nothing to do lingers
        // for it instead of ending (its siblings may be woken during it).
        // The count ends with that poll. A count held across the join
        // instead would keep the helper lingering on this thread's wait for
        // that very helper: with a ticking sibling, until the re-poll budget
        // ran out (`pull` counted the poll before it took the child and
        // passes that count on, so it is counted once, without a gap).
        let counted = match pre {
            Some(pre) if pre.0.is_some() => pre,
            _ => InFlight::new(self, self.side(owner_role)),
        };
        let counted = Mutex::new(Some(counted));
        // The owner role stays with the owner's thread only (the first part
        // of a fork runs inline; if it ever did not, the owner's work would
        // wait for the end of the join).
        let mine = || {
            let counted = crate::loom::lock(&counted).take();
            self.forking_part(owner_role, child, counted, depth, may_linger);
        };
        let forking_thread = thread_mark();
        let helper = || self.helper_loop(forking_thread, depth + 1, may_linger);
        // I1: both fork functions return only after every part returned or
        // unwound, so no pull loop outlives the session.
        if helpers == 1 {
            fork2(mine, helper, self);
        } else {
            crate::scheduler::fork::join_all_serving(
                helpers + 1,
                &|job| if job == 0 { mine() } else { helper() },
                self,
            );
        }
    }

    /// The forking loop's own part of a fork (see `fork`), run inline: goes
    /// on with this loop at `depth + 1`, starting with `child`, whose poll
    /// `counted` already counts in flight; it lingers only if `may_linger`
    /// (see `fork`) and it does not hold the owner role.
    fn forking_part<'s>(
        &'s self,
        owner_role: bool,
        child: RawChild,
        counted: Option<InFlight<'s, 'a>>,
        depth: u32,
        may_linger: bool,
    ) {
        let role = owner_role && self.owner.on_owner_thread();
        // The owner's loop ends with this part (the loop that forked
        // returns right after the fork): however it ends, a standby
        // session's `owner_loop` is cleared *before* this thread waits
        // for the helper forked beside it. That helper lingers while the
        // owner's loop runs; left set, the flag would keep it lingering
        // while the owner's loop waits for it, and neither would end until
        // the re-poll budget is spent or the helper sees
        // `LINGER_MAX_IDLE_SLEEPS` idle sleeps in a row (never, while a
        // sibling ticks): the owner's task stalls meanwhile.
        let _end = role.then(|| OwnerLoopEnd(self));
        self.pull(role, Some(child), counted, depth + 1, !role && may_linger);
        if role {
            // While this thread waits for the helpers, the role is free
            // for the loops it runs meanwhile (`serve`).
            self.owner_busy.store(false, Ordering::Relaxed);
        }
    }

    /// Starts the session with a *standby* helper: the owner's
    /// loop runs inline and one helper pull loop is published without
    /// waking anyone (`fork::join_standby`). A worker that becomes free
    /// while the owner is still inside its loop — typically the one in the
    /// driver, right after it woke some of this scope's children — steals
    /// it and polls them, and lingers while the owner is inside a long poll
    /// (so siblings of a CPU-heavy child are served even when that child
    /// was the only one ready when the session began). If the owner's loop
    /// finds more ready than it can poll while the helper is still
    /// unclaimed, it wakes a parked worker for it (see `pull`). Nobody
    /// free: the owner pops the job back after its loop, and it ends at
    /// once. Returns false (having done nothing) where no standby is
    /// possible: no other worker, a task-local scope, or off the workers
    /// after a short session.
    fn standby(&self, last_session: std::time::Duration) -> bool {
        let wake = last_session >= STANDBY_WAKE_AFTER;
        // Off the workers (a thread in `block_on`), only after a long
        // session (see `STANDBY_OFF_WORKER_AFTER`), and then woken for at
        // once (`fork2`, through the runtime's fork injector, which offers
        // no quiet publication).
        let on_worker = crate::scheduler::multi_thread::worker::on_worker();
        if self.max_helpers == 0
            || !(on_worker || last_session >= STANDBY_OFF_WORKER_AFTER)
            || self.reserve_helpers(1) == 0
        {
            return false;
        }
        self.standby.store(true, Ordering::Relaxed);
        let forking_thread = thread_mark();
        let mine = || {
            self.owner_loop.store(true, Ordering::SeqCst);
            let _end = OwnerLoopEnd(self);
            self.pull(true, None, None, 1, false);
            // While this thread waits for the helper, the role is free for
            // the loops it runs meanwhile (`serve`).
            self.owner_busy.store(false, Ordering::Relaxed);
        };
        let helper = || {
            self.standby.store(false, Ordering::Relaxed);
            self.helper_loop(forking_thread, 1, true);
        };
        // I1: both forks return only after both loops returned or unwound.
        if on_worker {
            crate::scheduler::fork::join_standby(mine, helper, self, wake);
        } else {
            fork2(mine, helper, self);
        }
        true
    }

    /// A helper pull loop forked from `forking_thread` (see `fork` and
    /// `standby`); un-reserves its helper however it ends. It never lingers
    /// unless `may_linger` (the forking loop could).
    fn helper_loop(&self, forking_thread: usize, depth: u32, may_linger: bool) {
        let _release = Release(&self.helpers);
        // A helper run on the forking thread itself was popped back
        // (nobody stole it) after this loop, or popped by a fork wait
        // inside a child's poll; and one run on top of any child poll
        // (a nested fork wait popped or stole it) may sit on the very
        // poll it would wait for. Either way lingering could only wait
        // for this thread's own stack. And one run as help by a thread
        // waiting in a fork (of any owner) must not keep that wait from
        // returning once its own join is done: lingering would tie the
        // waiting owner's poll to this session's longest poll.
        let in_child_poll = crate::runtime::context::in_child_poll();
        let linger = may_linger
            && thread_mark() != forking_thread
            && !in_child_poll
            && !crate::runtime::context::in_fork_wait_help();
        // Run on the owner's thread while no loop holds the owner role (a
        // standby helper popped back after the owner's loop ended): take
        // the role, as `serve` does, or the body and `!Send` children woken
        // meanwhile wait until nothing `Send` is ready (an always-ready
        // long child kept a woken body waiting for seconds). A loop with the
        // role does not linger.
        let owner_role = self.owner_role_free() && !in_child_poll;
        self.pull_holding_role(owner_role, depth, linger && !owner_role);
    }

    /// A pull loop started with nothing in hand, marking the owner role
    /// held (`owner_busy`) while it runs if it takes the role (`owner_role`:
    /// the role was free, see `owner_role_free`).
    fn pull_holding_role(&self, owner_role: bool, depth: u32, linger: bool) {
        if owner_role {
            self.owner_busy.store(true, Ordering::Relaxed);
        }
        self.pull(owner_role, None, None, depth, linger);
        if owner_role {
            self.owner_busy.store(false, Ordering::Relaxed);
        }
    }

    /// Which in-flight counter (see `in_flight`) the polls of a pull loop
    /// on this thread use, with or without the owner role.
    fn side(&self, owner_role: bool) -> usize {
        usize::from(!(owner_role || self.owner.on_owner_thread()))
    }

    /// True if the calling thread may take the owner role now: it is the
    /// owner's thread and no loop holds the role.
    fn owner_role_free(&self) -> bool {
        self.owner.on_owner_thread() && !self.owner_busy.load(Ordering::Relaxed)
    }

    /// Polls a `Send` child from an entry this loop owns.
    /// `counted`: this poll, already counted in flight (by the forking loop,
    /// see `fork`, or before its entry was taken, see `pull`); counted here
    /// otherwise, or if that count was not taken (no helper then).
    fn run<'s>(
        &'s self,
        child: RawChild,
        done: &mut Vec<RawChild>,
        side: usize,
        counted: Option<InFlight<'s, 'a>>,
    ) {
        let _in_flight = match counted {
            Some(counted) if counted.0.is_some() => counted,
            _ => InFlight::new(self, side),
        };
        let _on_stack = crate::runtime::context::enter_child_poll();
        if !child.begin_run() {
            self.repolls.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: I1: this runs inside the owner's poll (on its thread, or in
        // a fork job that `fork::join` joins before the session ends), and
        // `begin_run` made this thread the child's only poller (the entry was
        // unique and the child is now RUNNING).
        unsafe { child.poll() };
        self.after_poll(child, done);
    }

    /// Polls the body or a `!Send` child (owner's thread, owner role).
    fn run_local(&self, child: RawChild, done: &mut Vec<RawChild>) {
        let _in_flight = InFlight::new(self, 0);
        let _on_stack = crate::runtime::context::enter_child_poll();
        if !child.begin_run() {
            self.repolls.fetch_add(1, Ordering::Relaxed);
        }
        if Some(child) == self.body {
            // SAFETY: the owner role is held by exactly one loop on the
            // owner's thread (see `pull`), so this is the only live use of
            // the owner; the borrow ends before the next use.
            let owner = unsafe { &mut *self.owner.owner };
            let ok = child.with_waker(|waker| owner.poll_body(&mut Context::from_waker(waker)));
            if !ok {
                self.stop.store(true, Ordering::Relaxed);
            }
            child.end_run();
            return;
        }
        // SAFETY: I1: inside the owner's poll, on the owner's thread (a
        // `!Send` child never leaves it); RUNNING makes us its only poller.
        unsafe { child.poll() };
        self.after_poll(child, done);
    }

    /// Called by a helper loop that found nothing ready: if another loop
    /// of the session is inside a child poll, waits for work instead of
    /// ending (a sibling woken by that poll, or by a timer or I/O meanwhile,
    /// is then polled at once, not after the poll). Returns true when work
    /// is ready, false when the loop should end: no poll in flight, or the
    /// session takes no new child.
    ///
    /// It spins a little, then sleeps registered as a sleeper of the hub:
    /// a push wakes it, and so does the end of the last poll in flight
    /// (`InFlight`). The registration comes before the last look at the
    /// count and the queues, and the poll's end decrements the count before
    /// it looks for sleepers (a SeqCst fence on both sides, Dekker-style),
    /// so neither wake is lost. While it
    /// sleeps, tasks woken on this worker stay stealable (the LIFO slot is
    /// off), and if tasks wait in its queues it stops lingering so the
    /// worker loop runs them.
    fn linger(&self) -> bool {
        let mut spins = 0;
        let mut idle_sleeps = 0;
        loop {
            if self.should_stop() {
                return false;
            }
            // Work first: entries in the batch of a loop that is between
            // two polls are as ready as queue entries (that loop's next
            // poll may be long, and it forks no helper while its batch
            // lasts).
            if self.has_ready(false) {
                return true;
            }
            if !self.polls_in_flight() {
                return false;
            }
            if spins < LINGER_SPINS {
                spins += 1;
                crate::loom::spin_loop();
                continue;
            }
            spins = 0;
            if idle_sleeps >= LINGER_MAX_IDLE_SLEEPS {
                return false;
            }
            idle_sleeps += 1;
            let wake = Unparker::current();
            self.shared.register_sleeper(&wake);
            // Pairs with the fence in `InFlight::drop` (see above).
            fence(Ordering::SeqCst);
            let sleep = !self.should_stop() && self.polls_in_flight() && !self.has_ready(false);
            let go = if sleep {
                crate::scheduler::multi_thread::worker::with_forker(false, |forker| {
                    let _lifo_off = forker.as_ref().map(|f| f.enter());
                    // The poll it waits for may be the only other thread
                    // awake: serve I/O and timers while sleeping (what they
                    // wake may be a sibling, which ends the sleep).
                    match &forker {
                        Some(f) => f.sleep_serving_driver(&wake, LINGER_SLEEP),
                        None => wake.park_timeout(LINGER_SLEEP),
                    }
                    // Tasks waiting behind this thread, or a runtime
                    // shutting down (its workers are being joined): stop.
                    !forker
                        .as_ref()
                        .is_some_and(|f| f.has_queued_work() || f.is_shutdown())
                })
            } else {
                true
            };
            self.shared.unregister_sleeper(&wake);
            if !go {
                return false;
            }
        }
    }

    /// True if a child is ready for a loop on this thread: in the ready
    /// queue, in another loop's batch (see `Batch`), or, with the owner
    /// role (`local`), in the owner-only queue.
    fn has_ready(&self, local: bool) -> bool {
        // The queue first: a batch is filled from it under its lock (see
        // `Batch::refill`).
        self.shared.has_ready_for(local)
            || self
                .batches
                .iter()
                .any(|slot| slot.len.load(Ordering::SeqCst) != 0)
    }

    /// True if a pull loop of the session is inside a poll, or the owner's
    /// loop of a standby session is still running (it may enter one).
    fn polls_in_flight(&self) -> bool {
        self.owner_loop.load(Ordering::SeqCst)
            || self
                .in_flight
                .iter()
                .any(|n| in_flight_count(n.load(Ordering::SeqCst)) != 0)
    }

    /// Both in-flight words (see `in_flight`).
    fn in_flight_words(&self) -> [usize; 2] {
        [0, 1].map(|side| self.in_flight[side].load(Ordering::SeqCst))
    }

    /// Records a completion and ends the run.
    fn after_poll(&self, child: RawChild, done: &mut Vec<RawChild>) {
        let state = child.state();
        if state & COMPLETE != 0 {
            if state & PANICKED != 0 {
                // Every owner ends its poll with a child's panic (a scope
                // and `join_all` re-raise it, a join set returns it): take
                // no new child, so it surfaces after the polls in flight
                // instead of after the whole re-poll budget.
                self.stop.store(true, Ordering::Relaxed);
            } else if self.owner.per_completion {
                // The owner returns this completion: the budget ends with
                // the next re-poll. First polls go on (a fan-out's children
                // complete in their first poll: stopping at the first of
                // them would cost a session per child), re-polls of
                // always-ready children do not hold the result back.
                // (A load first: in a fan-out every child completes, and
                // only the first completion lowers the limit; the others
                // only read its cache line.)
                let next = self.repolls.load(Ordering::Relaxed).saturating_add(1);
                if self.limit.load(Ordering::Relaxed) > next {
                    self.limit.fetch_min(next, Ordering::Relaxed);
                }
            }
            done.push(child);
        }
        child.end_run();
    }

    /// Hands this loop's completions to the owner's list.
    fn flush(&self, done: &mut Vec<RawChild>) {
        if !done.is_empty() {
            crate::loom::lock(&self.done).append(done);
            self.has_done.store(true, Ordering::Relaxed);
        }
    }
}

/// A pull loop's batch: ready entries it took from the queue (one lock per
/// batch) and has not started. They sit in a slot of the session, not on
/// the loop's stack, so that a loop that runs out of work takes half of
/// them (`Batch::refill`) instead of leaving them to wait behind a long poll
/// of their holder: which poll is long is known only once it has begun.
/// Whatever is left when the loop ends goes back to the queue.
struct Batch<'s, 'a> {
    session: &'s Session<'a>,
    /// The slot, or `None` if every slot was taken (then the loop takes one
    /// entry at a time and holds it in `single`).
    slot: Option<usize>,
    /// The one entry of a loop without a slot.
    single: Option<RawChild>,
}

/// One slot of `Session::batches`.
#[derive(Default)]
struct BatchSlot {
    /// The entries, oldest first.
    entries: Mutex<VecDeque<RawChild>>,
    /// `entries.len()`, for looks without the lock. Written under the lock;
    /// in its own cache line with it, so a loop's pops do not bounce a
    /// line shared with the other loops.
    len: AtomicUsize,
}

impl<'s, 'a> Batch<'s, 'a> {
    fn claim(session: &'s Session<'a>) -> Self {
        let mut claims = session.batch_claims.load(Ordering::Relaxed);
        let slot = loop {
            let free = (!claims).trailing_zeros() as usize;
            if free >= BATCH_SLOTS {
                break None;
            }
            match session.batch_claims.compare_exchange_weak(
                claims,
                claims | 1 << free,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break Some(free),
                Err(actual) => claims = actual,
            }
        };
        Batch {
            session,
            slot,
            single: None,
        }
    }

    /// Takes the next entry of the batch.
    fn pop(&mut self) -> Option<RawChild> {
        let Some(slot) = self.slot else {
            return self.single.take();
        };
        let slot = &self.session.batches[slot];
        let mut entries = crate::loom::lock(&slot.entries);
        let child = entries.pop_front();
        if child.is_some() {
            // The caller counted this poll in flight before the pop (see
            // `pull`): a loop that sees the batch shrink sees that count.
            slot.len.store(entries.len(), Ordering::Release);
        }
        child
    }

    /// If the batch is empty, fills it: from the ready queue (at most a
    /// share of it, see `MAX_BATCH`), else with half of another loop's
    /// batch. Returns how many entries the queue still holds.
    fn refill(&mut self) -> usize {
        let session = self.session;
        let Some(index) = self.slot else {
            if self.single.is_some() {
                return 0;
            }
            let mut one = VecDeque::new();
            let more = session.shared.pop_batch(&mut one, |_| 1);
            self.single = one.pop_front().or_else(|| {
                let mut taken = self.steal();
                let first = taken.pop_front();
                session.shared.unpop(&mut taken);
                first
            });
            return more;
        };
        let threads = session.helpers.load(Ordering::Relaxed) + 1;
        let Some(more) = self.fill(index, |len| (len / (2 * threads)).clamp(1, MAX_BATCH)) else {
            return 0;
        };
        let slot = &session.batches[index];
        if slot.len.load(Ordering::Relaxed) == 0 {
            let mut taken = self.steal();
            if !taken.is_empty() {
                let mut entries = crate::loom::lock(&slot.entries);
                entries.append(&mut taken);
                publish(slot, entries.len());
            }
        }
        more
    }

    /// Fills this loop's slot `index`, if it is empty, with `share(len)`
    /// (at most `len`) of the `len` entries of the ready queue. Returns how
    /// many entries the queue still holds, or `None` if the slot was not
    /// empty.
    fn fill(&self, index: usize, share: impl FnOnce(usize) -> usize) -> Option<usize> {
        let session = self.session;
        let slot = &session.batches[index];
        let mut entries = crate::loom::lock(&slot.entries);
        if !entries.is_empty() {
            return None;
        }
        Some(session.shared.pop_batch(&mut entries, |len| {
            let n = share(len).min(len);
            if n > 0 {
                // Under the queue's lock: a loop that finds the queue empty
                // after this drain then sees the batch (`Session::has_ready`
                // looks at the queue first).
                publish(slot, n);
            }
            n
        }))
    }

    /// Takes half (rounded up) of the first non-empty batch of another
    /// loop (this loop's own is empty when it steals). Entries taken this
    /// way were popped from the queue and never started, so they are as
    /// good as queue entries.
    fn steal(&self) -> VecDeque<RawChild> {
        let session = self.session;
        let claims = session.batch_claims.load(Ordering::Acquire);
        for (victim, slot) in session.batches.iter().enumerate() {
            if claims & 1 << victim == 0 || slot.len.load(Ordering::SeqCst) == 0 {
                continue;
            }
            let mut theirs = crate::loom::lock(&slot.entries);
            let len = theirs.len();
            let taken = theirs.split_off(len / 2);
            slot.len.store(theirs.len(), Ordering::Relaxed);
            if !taken.is_empty() {
                return taken;
            }
        }
        VecDeque::new()
    }

    /// Called before each poll of the loop: if a thread of the session
    /// sleeps, the rest of the batch goes back to the queue, which wakes
    /// it, so that it polls them should this poll be long. (A loop that is
    /// still awake takes them from the batch if it runs out of work.)
    fn before_poll(&mut self) {
        if self.session.shared.has_sleepers() {
            self.hand_back();
        }
    }

    /// Puts the entries not started back at the front of the ready queue
    /// (waking the session's sleepers).
    fn hand_back(&mut self) {
        let mut entries = match self.slot {
            Some(index) => {
                let slot = &self.session.batches[index];
                let mut entries = crate::loom::lock(&slot.entries);
                slot.len.store(0, Ordering::Relaxed);
                std::mem::take(&mut *entries)
            }
            None => self.single.take().into_iter().collect(),
        };
        self.session.shared.unpop(&mut entries);
    }
}

/// Publishes a batch that grew to `len` entries (`BatchSlot::len`, under
/// the slot's lock). Pairs with the fence in `linger` (and the
/// registration's SeqCst in `prepare_sleep`): a sleeper that registers
/// after this either sees the batch or is seen by `Batch::before_poll`.
fn publish(slot: &BatchSlot, len: usize) {
    slot.len.store(len, Ordering::SeqCst);
    fence(Ordering::SeqCst);
}

impl Drop for Batch<'_, '_> {
    fn drop(&mut self) {
        self.hand_back();
        if let Some(slot) = self.slot {
            self.session
                .batch_claims
                .fetch_and(!(1 << slot), Ordering::Release);
        }
    }
}

/// Ends the owner's loop of a session however it ends (`Session::owner_loop`),
/// waking lingering helpers (as the end of the last poll in flight does).
/// Dropped at the end of a standby session's owner loop, and earlier when
/// that loop forks (`Session::fork`): from then on the owner's thread only
/// waits for the helpers it forked (serving the session meanwhile), and
/// they must not linger for it.
struct OwnerLoopEnd<'s, 'a>(&'s Session<'a>);

impl Drop for OwnerLoopEnd<'_, '_> {
    fn drop(&mut self) {
        self.0.owner_loop.store(false, Ordering::SeqCst);
        // Pairs with the fence in `linger`, as in `InFlight`.
        fence(Ordering::SeqCst);
        self.0.shared.wake_sleepers();
    }
}

/// Un-reserves a helper however its loop ends.
struct Release<'s>(&'s AtomicUsize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The unit of the polls-started count kept in the upper half of each
/// `Session::in_flight` word (the lower half counts polls in flight), so
/// one atomic add at the start of a poll maintains both.
const ONE_POLL_STARTED: usize = 1 << (usize::BITS / 2);

/// Polls in flight in an `in_flight` word.
fn in_flight_count(word: usize) -> usize {
    word & (ONE_POLL_STARTED - 1)
}

/// Polls started (modulo the half word) in an `in_flight` word.
fn polls_started(word: usize) -> usize {
    word / ONE_POLL_STARTED
}

/// True if a poll in flight when the in-flight words read `then` is still
/// in flight at `now`: a side with a poll in flight at both times that
/// started no poll in between (a long poll, see `Session::should_stop`).
fn same_poll_in_flight(then: [usize; 2], now: [usize; 2]) -> bool {
    (0..2).any(|side| {
        in_flight_count(then[side]) != 0
            && in_flight_count(now[side]) != 0
            && polls_started(now[side]) == polls_started(then[side])
    })
}

/// Counts one poll in flight (see `Session::linger`); its end wakes the
/// lingering helpers when it was the last. Only counted while the session
/// has helpers (only they linger, and the loop that forks one reserves it
/// before its next poll): a session without helpers pays nothing.
struct InFlight<'s, 'a>(Option<(&'s Session<'a>, usize)>);

impl<'s, 'a> InFlight<'s, 'a> {
    fn new(session: &'s Session<'a>, side: usize) -> Self {
        if session.helpers.load(Ordering::Relaxed) == 0 {
            return InFlight(None);
        }
        session.in_flight[side].fetch_add(ONE_POLL_STARTED + 1, Ordering::SeqCst);
        InFlight(Some((session, side)))
    }
}

impl Drop for InFlight<'_, '_> {
    fn drop(&mut self) {
        if let Some((session, side)) = self.0
            && in_flight_count(session.in_flight[side].fetch_sub(1, Ordering::SeqCst)) == 1
        {
            // Pairs with the fence in `linger`: either this thread sees the
            // sleeper's registration, or the sleeper sees the count at zero.
            fence(Ordering::SeqCst);
            session.shared.wake_sleepers();
        }
    }
}

/// While a thread of the session waits in a fork join for pull loops still
/// in flight (one may be stuck in a long child poll), it keeps serving the
/// session: children woken meanwhile are polled at once, by a pull loop
/// that does not fork (bounded stack) and takes the owner role if this is
/// the owner's thread and the role is free. Its sleep is cut short by any
/// push onto the queues (`shared`'s "Serving while waiting"). I1 holds: the
/// join returns only after these loops returned.
impl Serve for Session<'_> {
    fn serve(&self) -> bool {
        if self.should_stop() {
            return false;
        }
        let owner_role = self.owner_role_free();
        if !self.has_ready(owner_role) {
            return false;
        }
        self.pull_holding_role(owner_role, MAX_FORK_DEPTH, false);
        true
    }

    fn prepare_sleep(&self, wake: &Unparker) -> bool {
        self.shared.register_sleeper(wake);
        if !self.should_stop() && self.has_ready(self.owner_role_free()) {
            self.shared.unregister_sleeper(wake);
            return false;
        }
        true
    }

    fn end_sleep(&self, wake: &Unparker) {
        self.shared.unregister_sleeper(wake);
    }
}

#[cfg(all(test, loom))]
pub(crate) mod loom_support {
    //! Entry points for the loom models: a session whose helper loops run on
    //! loom threads instead of fork jobs.
    use super::*;
    use crate::scheduler::fork::ForkLatch;

    /// A session over `shared` with no budget and no forks.
    fn session<'a>(
        shared: &'a Shared,
        body: Option<RawChild>,
        owner: OwnerSlot<'a>,
        repolls: &'a AtomicUsize,
    ) -> Session<'a> {
        Session::new(shared, body, owner, repolls, usize::MAX, 0)
    }

    /// Runs `helpers` helper pull loops on loom threads beside the owner's
    /// pull loop on this thread, joins them, and settles the completions
    /// with `owner`, as one session of `Engine::poll` does.
    pub(crate) fn session_with_helpers(
        engine: &mut Engine<'static>,
        owner: &mut dyn Owner,
        helpers: usize,
    ) {
        let shared = engine.shared.clone();
        let theirs: std::sync::Arc<std::sync::Mutex<Vec<RawChild>>> = Default::default();
        let mut threads = Vec::new();
        for _ in 0..helpers {
            let shared = shared.clone();
            let theirs = theirs.clone();
            threads.push(loom::thread::spawn(move || {
                let repolls = AtomicUsize::new(0);
                let mut no_owner = NoOwner;
                let mut books = Books::default();
                let s = session(
                    &shared,
                    None,
                    OwnerSlot::new(&mut no_owner, &mut books),
                    &repolls,
                );
                s.pull(false, None, None, 0, false);
                let Session { done, .. } = s;
                theirs.lock().unwrap().extend(into_inner(done));
            }));
        }
        let repolls = AtomicUsize::new(0);
        let mut mine = {
            let s = session(
                &shared,
                engine.body,
                OwnerSlot::new(owner, &mut engine.books),
                &repolls,
            );
            s.pull(true, None, None, 0, false);
            let Session { done, .. } = s;
            into_inner(done)
        };
        for t in threads {
            t.join().unwrap();
        }
        mine.extend(std::mem::take(&mut *theirs.lock().unwrap()));
        engine.books.settle(&shared, &mut mine, owner);
    }

    /// A session of `engine` shared with loom threads through
    /// [`SessionPtr`], with the owner role free (as while the owner's
    /// thread waits in a fork join). Runs `f` on this thread, then settles
    /// the session's completions with `owner`. `f` must join every thread
    /// it gave the pointer to.
    pub(crate) fn with_session(
        engine: &mut Engine<'static>,
        owner: &mut dyn Owner,
        f: impl FnOnce(&SessionPtr),
    ) {
        let shared = engine.shared.clone();
        let repolls = AtomicUsize::new(0);
        let mut done = {
            let s = session(
                &shared,
                engine.body,
                OwnerSlot::new(owner, &mut engine.books),
                &repolls,
            );
            s.owner_busy.store(false, Ordering::Relaxed);
            // As if one helper was forked (polls in flight are counted).
            s.helpers.store(1, Ordering::Relaxed);
            f(&SessionPtr(std::ptr::from_ref(&s).cast()));
            let Session { done, .. } = s;
            into_inner(done)
        };
        engine.books.settle(&shared, &mut done, owner);
    }

    /// A session of [`with_session`], for a thread that `with_session`'s
    /// caller joins before it returns.
    #[derive(Clone, Copy)]
    pub(crate) struct SessionPtr(*const ());

    // SAFETY: a `Session` is `Sync` in what its pull loops use (atomics,
    // mutexes, the owner slot checked by thread); the pointer is used only
    // while the session lives (see `with_session`).
    unsafe impl Send for SessionPtr {}

    /// A child entry handed to another thread.
    pub(crate) struct SendChild(pub(crate) RawChild);

    // SAFETY: test-only: the entry is used by exactly one thread.
    unsafe impl Send for SendChild {}

    impl SessionPtr {
        /// # Safety
        ///
        /// The session is alive (see [`with_session`]).
        unsafe fn get(&self) -> &Session<'static> {
            // SAFETY: caller contract.
            unsafe { &*self.0.cast::<Session<'static>>() }
        }

        /// Pops the oldest ready child (the caller polls it through
        /// `run_first` or `run`).
        pub(crate) fn pop(&self) -> Option<SendChild> {
            // SAFETY: `with_session`'s closure holds the pointer.
            let s = unsafe { self.get() };
            let mut one = VecDeque::new();
            s.shared.pop_batch(&mut one, |_| 1);
            one.pop_front().map(SendChild)
        }

        /// Polls `child` on this thread (one poll in flight).
        pub(crate) fn run(&self, child: SendChild) {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            let mut done = Vec::new();
            s.run(child.0, &mut done, 1, None);
            s.flush(&mut done);
        }

        /// Counts a poll in flight, calls `start_helper` (which may start a
        /// helper loop that runs at once), then polls `child` on this
        /// thread under that count: the order of `Session::fork`, whose
        /// helper may look for polls in flight before the forking loop
        /// starts its first one.
        pub(crate) fn run_after_fork<T>(
            &self,
            child: SendChild,
            start_helper: impl FnOnce() -> T,
        ) -> T {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            let counted = InFlight::new(s, 1);
            let helper = start_helper();
            let mut done = Vec::new();
            s.run(child.0, &mut done, 1, Some(counted));
            s.flush(&mut done);
            helper
        }

        /// A pull loop's step with a batch of every ready child, after
        /// counting its poll in flight and calling `start_helper` (as
        /// `run_after_fork`): polls the first entry while the others wait in
        /// this loop's batch (see `Batch`), with the check a pull loop makes
        /// before each poll, then hands the rest back as the loop's end
        /// does. Nothing ready (the helper took it all): only the helper.
        pub(crate) fn run_first_of_a_batch<T>(&self, start_helper: impl FnOnce() -> T) -> T {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            let counted = InFlight::new(s, 1);
            let helper = start_helper();
            let mut batch = Batch::claim(s);
            let index = batch.slot.expect("a free batch slot");
            batch.fill(index, |len| len);
            if let Some(first) = batch.pop() {
                batch.before_poll();
                let mut done = Vec::new();
                s.run(first, &mut done, 1, Some(counted));
                s.flush(&mut done);
            }
            helper
        }

        /// Runs `f` as the owner's loop of a standby session runs (see
        /// `Session::standby`): with the owner role held and `owner_loop`
        /// set, so that a helper loop lingers while `f` runs, then frees the
        /// role and ends the loop through an `OwnerLoopEnd`, as that loop's
        /// end does. A fork inside `f` (see [`SessionPtr::fork_owner_loop`])
        /// ends the loop earlier.
        pub(crate) fn standby_owner_loop<T>(&self, f: impl FnOnce() -> T) -> T {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            s.owner_busy.store(true, Ordering::Relaxed);
            s.owner_loop.store(true, Ordering::SeqCst);
            let _end = OwnerLoopEnd(s);
            let out = f();
            s.owner_busy.store(false, Ordering::Relaxed);
            out
        }

        /// The owner's loop forks with `child` as `Session::fork` does:
        /// counts that poll in flight, calls `start_helper` (which may start
        /// the forked helper loop, which runs at once), then runs the
        /// forking loop's own part on this thread with the owner role
        /// (`Session::forking_part`), which ends the owner's loop. The
        /// caller then waits for the helper (as `fork::join` does, see
        /// [`SessionPtr::wait`]).
        pub(crate) fn fork_owner_loop<T>(
            &self,
            child: SendChild,
            start_helper: impl FnOnce() -> T,
        ) -> T {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            let counted = InFlight::new(s, s.side(true));
            let helper = start_helper();
            s.forking_part(true, child.0, Some(counted), 1, true);
            helper
        }

        /// A helper pull loop that lingers while a poll is in flight.
        pub(crate) fn helper_loop(&self) {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            s.pull(false, None, None, MAX_FORK_DEPTH, true);
        }

        /// A helper pull loop starting with `first`, then sets `latch`, as
        /// a stolen fork job does.
        ///
        /// # Safety
        ///
        /// `latch` is alive and waits for this job.
        pub(crate) unsafe fn job(&self, first: SendChild, latch: *const ForkLatch) {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            s.pull(false, Some(first.0), None, MAX_FORK_DEPTH, false);
            // SAFETY: caller contract.
            unsafe { <ForkLatch as crate::scheduler::fork::latch::Latch>::set(latch) };
        }

        /// A helper pull loop that lingers while a poll is in flight, then
        /// sets `latch`, as a stolen standby or fork helper job does.
        ///
        /// # Safety
        ///
        /// `latch` is alive and waits for this job.
        pub(crate) unsafe fn helper_job(&self, latch: *const ForkLatch) {
            self.helper_loop();
            // SAFETY: caller contract.
            unsafe { <ForkLatch as crate::scheduler::fork::latch::Latch>::set(latch) };
        }

        /// Waits for `latch` as a forker does, serving the session.
        pub(crate) fn wait(&self, latch: &ForkLatch) {
            // SAFETY: as above.
            let s = unsafe { self.get() };
            latch.wait(s, || false, |_, wake| wake.park());
        }
    }

    /// An owner role nobody uses (helper loops never take it).
    struct NoOwner;
    impl Owner for NoOwner {
        fn poll_body(&mut self, _: &mut Context<'_>) -> bool {
            unreachable!()
        }
        fn complete(&mut self, _: RawChild) {
            unreachable!()
        }
        fn finished(&mut self, _: &mut Engine<'_>) -> bool {
            unreachable!()
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// An in-flight word with `in_flight` polls in flight, `started` started.
    fn word(in_flight: usize, started: usize) -> usize {
        started * ONE_POLL_STARTED + in_flight
    }

    /// What a spent session calls a long poll: one in flight at both looks
    /// with no other poll started on its side in between; a side that keeps
    /// starting polls, or had none in flight at either look, is not one.
    #[test]
    fn a_poll_is_long_only_when_the_same_one_is_in_flight_at_both_looks() {
        let idle = word(0, 7);
        assert!(same_poll_in_flight([word(1, 5), idle], [word(1, 5), idle]));
        assert!(same_poll_in_flight([idle, word(1, 9)], [idle, word(1, 9)]));
        // The owner's side moved on to other polls: short ones.
        assert!(!same_poll_in_flight([word(1, 5), idle], [word(1, 6), idle]));
        // In flight at one look only.
        assert!(!same_poll_in_flight([word(0, 5), idle], [word(1, 6), idle]));
        assert!(!same_poll_in_flight([word(1, 5), idle], [word(0, 5), idle]));
        assert!(!same_poll_in_flight([idle, idle], [idle, idle]));
        // One side short, the other long: long.
        assert!(same_poll_in_flight(
            [word(1, 5), word(1, 2)],
            [word(1, 8), word(1, 2)]
        ));
    }
}
