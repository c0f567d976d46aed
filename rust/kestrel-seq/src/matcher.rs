//! The sequence matcher of one rule: turns a batch's per-filter matches into
//! hits (event, join key, filter mask), orders them through the optional
//! reorder buffer, and runs them on the shards that own their keys, in
//! parallel threads, each shard in arrival order.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use kestrel_event::{EventBatch, ValueRef, NO_TIMESTAMP};
use kestrel_ir::{Program, RuleKind};

use crate::evidence::{Copies, Pinned};
use crate::key::{for_each_key, HitKey};
use crate::plan::{Missing, Plan};
use crate::stats::Stats;
use crate::store::{Shard, Shared, NONE};
use crate::SeqError;

/// Matcher settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Shards (and threads) the state is split across. Results do not depend on it.
    pub shards: usize,
    /// Events may arrive this much later (in event time) than newer ones and
    /// still be matched in timestamp order; later ones are counted as late.
    pub max_out_of_order_ns: i64,
    /// Global state budget in bytes (shared with every matcher given the same [`StateBudget`]).
    pub memory_budget: Option<usize>,
    /// Most partial matches the rule may hold.
    pub quota_rule: Option<usize>,
    /// Most partial matches one join key may hold.
    pub quota_entity: Option<usize>,
    /// For sequences without `maxspan`: drop a key's partials after this long without events.
    pub idle_ttl_ns: Option<i64>,
    /// Samples per join key (Elasticsearch's default is one).
    pub max_samples_per_key: u32,
    /// Keep each evidence event's original JSON (otherwise only its sequence number and time).
    pub keep_raw: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            shards: 1,
            max_out_of_order_ns: 0,
            memory_budget: None,
            quota_rule: None,
            quota_entity: None,
            idle_ttl_ns: None,
            max_samples_per_key: 1,
            keep_raw: true,
        }
    }
}

/// A byte budget shared by several matchers (all the rules of one engine).
#[derive(Clone, Debug, Default)]
pub struct StateBudget(pub Arc<AtomicI64>);

impl StateBudget {
    pub fn used(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// An evidence event's original JSON: a range of its batch's raw buffer,
/// shared rather than copied (a copy per hit cost more than matching).
/// Evidence that outlives its batch is copied out later, once holding the
/// buffer costs more (see `src/evidence.rs`).
#[derive(Clone, Debug)]
pub struct RawRef {
    buf: Arc<Vec<u8>>,
    off: u32,
    len: u32,
}

impl RawRef {
    pub fn of(batch: &EventBatch, ev: usize) -> RawRef {
        let (buf, off, len) = batch.raw_buffer(ev);
        RawRef {
            buf: buf.clone(),
            off,
            len,
        }
    }

    /// A private copy (snapshots restore into these).
    pub fn owned(bytes: &[u8]) -> RawRef {
        RawRef {
            buf: Arc::new(bytes.to_vec()),
            off: 0,
            len: bytes.len() as u32,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.off as usize..self.off as usize + self.len as usize]
    }

    /// Where the event starts in its buffer.
    pub(crate) fn offset(&self) -> u32 {
        self.off
    }

    /// Whether the buffer holds this event alone (a copy of its own).
    pub(crate) fn is_private(&self) -> bool {
        self.off == 0 && self.buf.len() == self.len as usize
    }

    /// The buffer this evidence keeps alive, and its size.
    pub(crate) fn buffer(&self) -> (*const Vec<u8>, usize) {
        (Arc::as_ptr(&self.buf), self.buf.capacity())
    }
}

/// One evidence event.
#[derive(Clone, Debug)]
pub struct EvRef {
    /// The ingest sequence number (`EventBatch::seq`).
    pub seq: u64,
    pub ts: i64,
    pub raw: Option<RawRef>,
}

impl EvRef {
    pub(crate) fn raw_len(&self) -> usize {
        self.raw.as_ref().map_or(0, |r| r.len as usize)
    }
}

/// A completed sequence or sample.
#[derive(Clone, Debug)]
pub struct Match {
    pub kind: RuleKind,
    pub key: Box<[u8]>,
    /// In step order; `None` is a missing step's placeholder.
    pub events: Vec<Option<EvRef>>,
    /// The sequence number of the event that completed it.
    pub completed_by: u64,
    pub first_ts: i64,
    pub last_ts: i64,
}

impl Match {
    pub(crate) fn new(
        kind: RuleKind,
        key: Box<[u8]>,
        events: Vec<Option<EvRef>>,
        completed_by: u64,
    ) -> Match {
        let times = events.iter().flatten().map(|e| e.ts);
        let first_ts = times.clone().min().unwrap_or(NONE);
        let last_ts = times.max().unwrap_or(NONE);
        Match {
            kind,
            key,
            events,
            completed_by,
            first_ts,
            last_ts,
        }
    }

    fn first_seq(&self) -> u64 {
        self.events
            .iter()
            .flatten()
            .map(|e| e.seq)
            .min()
            .unwrap_or(0)
    }
}

/// An event that passed some filters, under one join key.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub key: HitKey,
    pub hash: u64,
    pub mask: u64,
    pub seq: u64,
    pub ts: i64,
    pub tiebreaker: i64,
    /// Its index in the batch being processed (meaningless once buffered).
    pub ev: u32,
    pub raw: Option<RawRef>,
}

impl Hit {
    fn order(&self) -> (i64, i64, u64) {
        (self.ts, self.tiebreaker, self.seq)
    }
}

impl PartialEq for Hit {
    fn eq(&self, o: &Hit) -> bool {
        self.order() == o.order()
    }
}
impl Eq for Hit {}
impl PartialOrd for Hit {
    fn partial_cmp(&self, o: &Hit) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Hit {
    fn cmp(&self, o: &Hit) -> CmpOrdering {
        self.order().cmp(&o.order())
    }
}

/// What the shards need while processing.
pub(crate) struct Ctx<'a> {
    pub plan: &'a Plan,
    pub config: &'a Config,
    pub shared: Shared<'a>,
    pub batch: Option<&'a EventBatch>,
    /// Filters whose events can create state for a key that has none.
    pub creates_state: u64,
}

impl Ctx<'_> {
    pub(crate) fn evref(&self, hit: &Hit) -> EvRef {
        let raw = match (&hit.raw, self.config.keep_raw, self.batch) {
            (Some(raw), _, _) => Some(raw.clone()),
            (None, true, Some(batch)) => Some(RawRef::of(batch, hit.ev as usize)),
            _ => None,
        };
        EvRef {
            seq: hit.seq,
            ts: hit.ts,
            raw,
        }
    }
}

/// The key hash for sharding and the slot tables. Fixed seeds: a key lands
/// on the same shard in every process.
pub(crate) fn key_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6b65_7374, 0x7265_6c5f, 0x7365_7173, 0x6e66_6121)
}

/// The shared counters a matcher must keep: the budget's bytes when a budget
/// is enforced or other matchers share it, the rule's partials when a rule
/// quota is.
pub(crate) fn shared_counters<'a>(
    config: &Config,
    budget: &'a StateBudget,
    rule_partials: &'a AtomicI64,
) -> Shared<'a> {
    let budget_read = config.memory_budget.is_some() || Arc::strong_count(&budget.0) > 1;
    Shared {
        budget_bytes: budget_read.then_some(&*budget.0),
        rule_partials: config.quota_rule.is_some().then_some(rule_partials),
    }
}

/// Below this many events a batch's hits are collected on one thread: the
/// threads would cost more than they save.
const PARALLEL_COLLECT_MIN: usize = 4096;

/// The events some filter passed, ascending, each with the bits of the
/// filters it passed: work proportional to the matches, not to the batch.
/// Filters' lists come ascending from the predicates and are merged; any
/// other order is sorted.
fn passed_events(matches: &[&[u32]]) -> Vec<(u32, u64)> {
    let total = matches.iter().map(|l| l.len()).sum();
    let mut passed: Vec<(u32, u64)> = Vec::with_capacity(total);
    if !matches.iter().all(|l| l.windows(2).all(|w| w[0] <= w[1])) {
        for (f, list) in matches.iter().enumerate() {
            passed.extend(list.iter().map(|&ev| (ev, 1u64 << f)));
        }
        passed.sort_unstable_by_key(|&(ev, _)| ev);
        passed.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                earlier.1 |= later.1;
            }
            same
        });
        return passed;
    }
    let mut heads = vec![0usize; matches.len()];
    loop {
        let Some(ev) = matches
            .iter()
            .zip(&heads)
            .filter_map(|(l, &h)| l.get(h).copied())
            .min()
        else {
            return passed;
        };
        let mut bits = 0u64;
        for (f, (list, head)) in matches.iter().zip(heads.iter_mut()).enumerate() {
            while list.get(*head) == Some(&ev) {
                bits |= 1 << f;
                *head += 1;
            }
        }
        passed.push((ev, bits));
    }
}

/// One thread's share of a batch: its hits and the events it skipped.
#[derive(Default)]
struct Collected {
    hits: Vec<Hit>,
    untimed: u64,
    null_keys: u64,
}

/// The matcher of one sequence or sample rule.
pub struct SequenceMatcher {
    pub(crate) plan: Plan,
    pub(crate) config: Config,
    pub(crate) shards: Vec<Shard>,
    pub(crate) budget: StateBudget,
    /// The rule's partial matches over every matcher of the rule (its
    /// partitions share it, so the rule quota is one total).
    pub(crate) rule_partials: Arc<AtomicI64>,
    /// The newest event time processed (drives expiry).
    pub(crate) watermark: i64,
    /// The newest event time received (drives the reorder buffer).
    pub(crate) newest: i64,
    /// The time of the last hit released from the reorder buffer.
    pub(crate) released: i64,
    pub(crate) reorder: BinaryHeap<Reverse<Hit>>,
    pub(crate) stats: Stats,
    /// Per key spec: the filters that use it.
    spec_masks: Vec<u64>,
    pub(crate) creates_state: u64,
    hasher: ahash::RandomState,
    /// Earlier batches' buffers this matcher's evidence may still point into.
    pinned: Pinned,
}

impl SequenceMatcher {
    pub fn new(
        program: &Program,
        config: Config,
        budget: StateBudget,
    ) -> Result<SequenceMatcher, SeqError> {
        let plan = Plan::from_program(program)?;
        let mut spec_masks = vec![0u64; plan.key_specs.len()];
        let mut creates_state = 0u64;
        for (f, fp) in plan.filters.iter().enumerate() {
            spec_masks[fp.key_spec] |= 1 << f;
            if fp.positions.contains(&0)
                || fp.missing.contains(&Missing::Leading)
                || fp.sample_slot.is_some()
            {
                creates_state |= 1 << f;
            }
        }
        let rule_partials = Arc::new(AtomicI64::new(0));
        Ok(Self::empty(
            plan,
            config,
            budget,
            rule_partials,
            spec_masks,
            creates_state,
        ))
    }

    /// A matcher holding no state yet: the one place its fields start out.
    fn empty(
        plan: Plan,
        config: Config,
        budget: StateBudget,
        rule_partials: Arc<AtomicI64>,
        spec_masks: Vec<u64>,
        creates_state: u64,
    ) -> SequenceMatcher {
        let shards = (0..config.shards.max(1)).map(|_| Shard::new()).collect();
        SequenceMatcher {
            plan,
            config,
            shards,
            budget,
            rule_partials,
            watermark: NONE,
            newest: NONE,
            released: NONE,
            reorder: BinaryHeap::new(),
            stats: Stats::default(),
            spec_masks,
            creates_state,
            hasher: key_hasher(),
            pinned: Pinned::default(),
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The byte budget this matcher counts on (shared with its partitions).
    pub fn budget(&self) -> &StateBudget {
        &self.budget
    }

    /// An empty matcher of the same rule for another partition. It shares
    /// this one's byte budget and rule quota, so both stay totals however
    /// many partitions hold the rule's state.
    pub fn empty_like(&self) -> SequenceMatcher {
        Self::empty(
            self.plan.clone(),
            self.config.clone(),
            self.budget.clone(),
            self.rule_partials.clone(),
            self.spec_masks.clone(),
            self.creates_state,
        )
    }

    /// An empty matcher of the same rule on counters of its own, to restore
    /// a snapshot into before it replaces a live matcher: the live state
    /// still counts on the shared budget until [`Self::adopt_counters`].
    pub fn empty_detached(&self) -> SequenceMatcher {
        let mut fresh = self.empty_like();
        fresh.budget = StateBudget::default();
        fresh.rule_partials = Arc::new(AtomicI64::new(0));
        fresh
    }

    /// Evict least recently used state until the memory budget holds: the
    /// budget's total, when it is shared with other partitions.
    pub fn enforce_budget(&mut self) {
        self.each_shard(|shard, ctx| shard.enforce_budget(ctx, u32::MAX));
    }

    /// Move this matcher's state onto `live`'s shared counters, as it is
    /// about to replace `live` (whose drop gives back its own share).
    pub fn adopt_counters(&mut self, live: &SequenceMatcher) {
        let (bytes, partials) = (self.state_bytes() as i64, self.partials() as i64);
        self.budget = live.budget.clone();
        self.rule_partials = live.rule_partials.clone();
        shared_counters(&self.config, &self.budget, &self.rule_partials).add(bytes, partials);
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feed one batch. `matches[f]` lists the events of `batch` that passed
    /// filter `f` (ABI order: steps, then `until`), ascending or not.
    /// Returns the sequences and samples completed, in completion order.
    pub fn process(
        &mut self,
        batch: &EventBatch,
        matches: &[&[u32]],
    ) -> Result<Vec<Match>, SeqError> {
        let count = self.plan.filters.len();
        if matches.len() != count {
            return Err(SeqError::NoSuchFilter {
                filter: matches.len(),
                count,
            });
        }
        for (f, list) in matches.iter().enumerate() {
            if let Some(&ev) = list.iter().find(|&&ev| ev as usize >= batch.len()) {
                return Err(SeqError::BadEvent {
                    filter: f,
                    event: ev,
                    len: batch.len(),
                });
            }
        }
        let passed = passed_events(matches);
        // Event time advances with every event, not only those a filter passed.
        self.newest = self.newest.max(batch.newest_timestamp().unwrap_or(NONE));
        let hits = self.collect_hits(batch, &passed);
        // Samples are unordered: nothing to hold back, nothing is late.
        let reordering = self.config.max_out_of_order_ns > 0 && self.plan.kind != RuleKind::Sample;
        let hits = if reordering {
            self.reorder(hits, batch)
        } else {
            hits
        };
        self.run(hits, Some(batch));
        self.close_windows(reordering);
        self.release_earlier_buffers(batch);
        Ok(self.drain())
    }

    /// Copy the evidence still held in earlier batches' buffers out of
    /// them, when they outweigh this matcher's state (see [`crate::evidence`]).
    fn release_earlier_buffers(&mut self, batch: &EventBatch) {
        if !self.config.keep_raw {
            return;
        }
        let current = batch.raw_shared();
        if !self.pinned.after_batch(current, self.state_bytes()) {
            return;
        }
        let mut copies = Copies::keeping(current);
        for shard in &mut self.shards {
            shard.each_raw_mut(|raw| copies.rehome(raw));
        }
        let mut buffered = std::mem::take(&mut self.reorder).into_vec();
        for Reverse(hit) in &mut buffered {
            if let Some(raw) = &mut hit.raw {
                copies.rehome(raw);
            }
        }
        self.reorder = buffered.into();
    }

    /// End of stream (or an explicit flush): release the reorder buffer and
    /// close every trailing-missing window.
    pub fn flush(&mut self) -> Vec<Match> {
        let pending: Vec<Hit> =
            std::iter::from_fn(|| self.reorder.pop().map(|Reverse(h)| h)).collect();
        for hit in &pending {
            self.released = self.released.max(hit.ts);
        }
        self.run(pending, None);
        self.watermark = self.watermark.max(self.newest);
        self.expire(self.watermark);
        self.each_shard(|shard, ctx| {
            let live: Vec<u32> = shard.live_slots().collect();
            for idx in live {
                shard.release_awaiting(ctx, idx, |_| true);
                shard.account(idx, &ctx.shared);
            }
        });
        self.drain()
    }

    /// Event time has reached `watermark` without a batch that shows it (a
    /// distributed runner's watermark, or a timer on a partition that
    /// receives no events): buffered hits the reorder bound releases are
    /// matched, windows that closed before it expire, and trailing missing
    /// steps whose window closed complete. Returns the matches completed.
    pub fn advance(&mut self, watermark: i64) -> Vec<Match> {
        if watermark == NONE {
            return Vec::new();
        }
        self.newest = self.newest.max(watermark);
        let reordering = self.config.max_out_of_order_ns > 0 && self.plan.kind != RuleKind::Sample;
        if reordering {
            let released = self.release_buffered();
            self.run(released, None);
        }
        self.close_windows(reordering);
        self.drain()
    }

    /// The earliest event time at which [`advance`](Self::advance) has work:
    /// a window that closes (advance past it), or a buffered hit the reorder
    /// bound releases. `None` when nothing waits on time.
    pub fn next_deadline(&self) -> Option<i64> {
        let timers = self.shards.iter().filter_map(Shard::next_timer).min();
        let buffered = self
            .reorder
            .peek()
            .map(|Reverse(h)| h.ts.saturating_add(self.config.max_out_of_order_ns));
        timers.into_iter().chain(buffered).min()
    }

    /// Statistics: the matcher's counters plus every shard's.
    pub fn stats(&self) -> Stats {
        let mut total = self.stats;
        for shard in &self.shards {
            total += shard.stats;
        }
        total
    }

    /// Partial matches held (waiting completions included).
    pub fn partials(&self) -> usize {
        self.shards.iter().map(|s| s.partials).sum()
    }

    /// Bytes of state held by this rule.
    pub fn state_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.bytes).sum()
    }

    /// Bytes of the batches' raw buffers that evidence keeps alive (each
    /// buffer once). Walks every partial: for statistics, not the hot path.
    pub fn pinned_evidence_bytes(&self) -> usize {
        let mut seen = std::collections::HashMap::new();
        for shard in &self.shards {
            for idx in shard.live_slots() {
                let slot = &shard.slots[idx as usize];
                let partials = slot
                    .stages
                    .iter()
                    .flatten()
                    .map(|p| &**p)
                    .chain(slot.awaiting().iter().map(|a| &a.partial));
                let events = partials
                    .flat_map(|p| p.events.iter())
                    .chain(slot.sample().iter().flatten());
                for raw in events.filter_map(|e| e.raw.as_ref()) {
                    let (ptr, size) = raw.buffer();
                    seen.insert(ptr, size);
                }
            }
        }
        for Reverse(hit) in &self.reorder {
            if let Some(raw) = &hit.raw {
                let (ptr, size) = raw.buffer();
                seen.insert(ptr, size);
            }
        }
        seen.values().sum()
    }

    /// Store overhead not attributed to keys (expiry heap, free slots).
    pub fn overhead_bytes(&self) -> usize {
        self.shards.iter().map(Shard::overhead_bytes).sum()
    }

    /// Join keys with state.
    pub fn keys(&self) -> usize {
        self.shards.iter().map(|s| s.live_slots().count()).sum()
    }

    /// Hits waiting in the reorder buffer.
    pub fn buffered(&self) -> usize {
        self.reorder.len()
    }

    /// The filters whose hits can give a key state it does not have: first
    /// steps, leading missing steps, and every step of a sample.
    pub fn starting_filters(&self) -> Vec<usize> {
        (0..self.plan.filters.len())
            .filter(|f| self.creates_state & (1 << f) != 0)
            .collect()
    }

    /// Whether the next batch's hits on filters other than
    /// [`SequenceMatcher::starting_filters`] can only matter through hits on
    /// those: no partial match is held, and none can form from events
    /// reordered across batches (no reorder buffer). A caller may then skip
    /// working out the other filters for a batch where the starting ones
    /// have no hit; only the `hits` and `late` counters tell the difference.
    pub fn is_idle(&self) -> bool {
        self.config.max_out_of_order_ns == 0 && self.reorder.is_empty() && self.partials() == 0
    }

    fn collect_hits(&mut self, batch: &EventBatch, passed: &[(u32, u64)]) -> Vec<Hit> {
        let threads = if self.shards.len() > 1 && passed.len() >= PARALLEL_COLLECT_MIN {
            std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(self.shards.len())
        } else {
            1
        };
        let this = &*self;
        let parts: Vec<Collected> = if threads <= 1 {
            vec![this.hits_in(batch, passed)]
        } else {
            // Contiguous chunks, concatenated in order: the hits come out
            // exactly as one thread would produce them.
            let chunk = passed.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let workers: Vec<_> = passed
                    .chunks(chunk)
                    .map(|part| scope.spawn(move || this.hits_in(batch, part)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("collecting hits panicked"))
                    .collect()
            })
        };
        let mut hits = Vec::with_capacity(parts.iter().map(|p| p.hits.len()).sum());
        for part in parts {
            hits.extend(part.hits);
            self.stats.untimed += part.untimed;
            self.stats.null_keys += part.null_keys;
        }
        self.stats.hits += hits.len() as u64;
        hits
    }

    /// The hits of `passed`: events of the batch with the bits of the filters they passed.
    fn hits_in(&self, batch: &EventBatch, passed: &[(u32, u64)]) -> Collected {
        let mut out = Collected::default();
        let mut hits = Vec::new();
        let mut key = Vec::with_capacity(64);
        let mut keys: Vec<(HitKey, u64)> = Vec::new();
        let sample = self.plan.kind == RuleKind::Sample;
        for &(ev, mask) in passed {
            let ev = ev as usize;
            let ts = batch.timestamp(ev);
            // A sample ignores time, as Elasticsearch's does: events without
            // a timestamp take part. A sequence cannot place them.
            if ts == NO_TIMESTAMP && !sample {
                out.untimed += 1;
                continue;
            }
            // One hit per distinct key value: specs that yield equal bytes
            // (e.g. the same fields) share a hit, so one event sees one slot once.
            keys.clear();
            for (spec, &spec_mask) in self.spec_masks.iter().enumerate() {
                let bits = mask & spec_mask;
                if bits == 0 {
                    continue;
                }
                for_each_key(
                    batch,
                    ev,
                    &self.plan.key_specs[spec],
                    &mut key,
                    |key| match keys.iter_mut().find(|(k, _)| **k == *key) {
                        Some((_, m)) => *m |= bits,
                        None => keys.push((HitKey::new(key), bits)),
                    },
                );
            }
            if keys.is_empty() {
                out.null_keys += 1;
                continue;
            }
            let tiebreaker =
                self.plan
                    .tiebreaker
                    .as_ref()
                    .map_or(0, |t| match batch.value(ev, t.field) {
                        ValueRef::I64(x) => x,
                        ValueRef::U64(x) => i64::try_from(x).unwrap_or(i64::MAX),
                        ValueRef::F64(x) => x as i64,
                        _ => i64::MAX,
                    });
            for (k, bits) in keys.drain(..) {
                let hash = self.hasher.hash_one(&k[..]);
                hits.push(Hit {
                    key: k,
                    hash,
                    mask: bits,
                    seq: batch.seq(ev),
                    ts,
                    tiebreaker,
                    ev: ev as u32,
                    raw: None,
                });
            }
        }
        out.hits = hits;
        out
    }

    /// Buffer hits and release, in (timestamp, tiebreaker, arrival) order,
    /// those older than the newest time seen minus the bound.
    fn reorder(&mut self, hits: Vec<Hit>, batch: &EventBatch) -> Vec<Hit> {
        for mut hit in hits {
            if hit.ts < self.released {
                self.stats.late += 1;
                continue;
            }
            if self.config.keep_raw {
                hit.raw = Some(RawRef::of(batch, hit.ev as usize));
            }
            self.reorder.push(Reverse(hit));
        }
        self.release_buffered()
    }

    /// The buffered hits the reorder bound no longer holds back, oldest first.
    fn release_buffered(&mut self) -> Vec<Hit> {
        let horizon = self.newest.saturating_sub(self.config.max_out_of_order_ns);
        let mut out = Vec::new();
        while self
            .reorder
            .peek()
            .is_some_and(|Reverse(h)| h.ts <= horizon)
        {
            let Reverse(hit) = self.reorder.pop().unwrap();
            self.released = self.released.max(hit.ts);
            out.push(hit);
        }
        out
    }

    fn shard_of(&self, hash: u64) -> usize {
        ((hash >> 32) % self.shards.len() as u64) as usize
    }

    /// Run hits on their shards, in parallel when there are several.
    fn run(&mut self, hits: Vec<Hit>, batch: Option<&EventBatch>) {
        let mut routed: Vec<Vec<Hit>> = (0..self.shards.len()).map(|_| Vec::new()).collect();
        if self.shards.len() == 1 {
            routed[0] = hits;
        } else {
            for hit in hits {
                let s = self.shard_of(hit.hash);
                routed[s].push(hit);
            }
        }
        let (plan, config) = (&self.plan, &self.config);
        let shared = shared_counters(&self.config, &self.budget, &self.rule_partials);
        let ctx = Ctx {
            plan,
            config,
            shared,
            batch,
            creates_state: self.creates_state,
        };
        let work = |shard: &mut Shard, hits: &[Hit]| {
            for hit in hits {
                match ctx.plan.kind {
                    RuleKind::Sample => shard.sample_hit(&ctx, hit),
                    _ => shard.sequence_hit(&ctx, hit),
                }
            }
        };
        if self.shards.len() == 1 {
            work(&mut self.shards[0], &routed[0]);
            return;
        }
        std::thread::scope(|scope| {
            for (shard, hits) in self.shards.iter_mut().zip(&routed) {
                if !hits.is_empty() {
                    scope.spawn(|| work(shard, hits));
                }
            }
        });
    }

    /// Everything up to the newest event time, less the reorder bound when
    /// reordering, has been processed: windows that closed before it expire.
    fn close_windows(&mut self, reordering: bool) {
        let horizon = if reordering {
            self.newest.saturating_sub(self.config.max_out_of_order_ns)
        } else {
            self.newest
        };
        self.watermark = self.watermark.max(horizon);
        self.expire(self.watermark);
    }

    fn expire(&mut self, watermark: i64) {
        if self.plan.kind == RuleKind::Sample || watermark == NONE {
            return;
        }
        self.each_shard(|shard, ctx| shard.expire_sequences(ctx, watermark));
    }

    /// Run `f` on every shard with a context that reads no batch: for
    /// work driven by time, the end of input or a restore.
    pub(crate) fn each_shard(&mut self, mut f: impl FnMut(&mut Shard, &Ctx<'_>)) {
        let ctx = Ctx {
            plan: &self.plan,
            config: &self.config,
            shared: shared_counters(&self.config, &self.budget, &self.rule_partials),
            batch: None,
            creates_state: self.creates_state,
        };
        for shard in &mut self.shards {
            f(shard, &ctx);
        }
    }

    /// Collect the shards' output in a deterministic order, whatever the shard count.
    fn drain(&mut self) -> Vec<Match> {
        let mut out: Vec<Match> = self
            .shards
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.out))
            .collect();
        out.sort_by_key(|m| (m.completed_by, m.first_seq(), m.last_ts));
        out
    }
}

/// A matcher that is replaced (a partition restored from a snapshot) or
/// dropped gives its share of the shared counters back: otherwise the
/// budget would count state nobody holds, and evict live state for it.
impl Drop for SequenceMatcher {
    fn drop(&mut self) {
        let shared = shared_counters(&self.config, &self.budget, &self.rule_partials);
        shared.add(-(self.state_bytes() as i64), -(self.partials() as i64));
    }
}

#[cfg(test)]
mod tests {
    use super::passed_events;

    #[test]
    fn passed_events_merge_filters_whatever_their_order() {
        let (a, b, c): (&[u32], &[u32], &[u32]) = (&[1, 4, 4, 9], &[0, 4, 9, 12], &[]);
        let expected = vec![(0, 0b10), (1, 0b01), (4, 0b11), (9, 0b11), (12, 0b10)];
        assert_eq!(passed_events(&[a, b, c]), expected);
        // Out of order lists take the sorting path and agree.
        let (a, b): (&[u32], &[u32]) = (&[9, 4, 1, 4], &[12, 0, 9, 4]);
        assert_eq!(passed_events(&[a, b, c]), expected);
        assert!(passed_events(&[c]).is_empty());
    }
}
