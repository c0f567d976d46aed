//! One shard of the state store: a slot per join key, found through a hash
//! table of slot indices (the key bytes are stored once, in the slot), an
//! intrusive LRU list over the slots, and a min-heap of timers.
//!
//! Timers are lazy: an entry names a slot and the slot's generation when it
//! was pushed, and is skipped if the slot was freed or reused since. A timer
//! is pushed when a partial is created, a completion starts waiting for its
//! window, or a leading missing event is recorded, so popping costs
//! O(log n) per thing that can expire and nothing for what stays.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::mem::size_of;
use std::sync::atomic::{AtomicI64, Ordering};

use hashbrown::HashTable;

use crate::matcher::{EvRef, Match, RawRef};
use crate::stats::Stats;

pub(crate) const NIL: u32 = u32::MAX;
/// "No timestamp" in partials and slots.
pub(crate) const NONE: i64 = i64::MIN;

/// A partial match: the positive events matched so far.
#[derive(Clone, Debug)]
pub struct Partial {
    pub start: i64,
    /// The latest leading missing event before the first positive one.
    pub lead: i64,
    pub events: Vec<EvRef>,
}

impl Partial {
    pub(crate) fn last_seq(&self) -> u64 {
        self.events.last().map_or(u64::MAX, |e| e.seq)
    }

    /// Heap bytes (the struct itself is counted where it is stored).
    fn heap_bytes(&self) -> usize {
        self.events.capacity() * size_of::<EvRef>()
            + self.events.iter().map(EvRef::raw_len).sum::<usize>()
    }
}

/// A positive match waiting for its trailing missing window to close.
#[derive(Clone, Debug)]
pub struct Awaiting {
    /// The window closes after this time.
    pub deadline: i64,
    /// What a trailing event is measured from.
    pub anchor: i64,
    pub partial: Partial,
}

/// Everything the store keeps for one join key.
#[derive(Debug, Default)]
pub struct Slot {
    pub key: Box<[u8]>,
    pub gen: u32,
    /// Sequences: the partial waiting in each state (`positives - 1` states).
    /// Boxed: a rule with k steps reserves k-1 states per key, mostly empty.
    pub stages: Box<[Option<Box<Partial>>]>,
    /// What only some rules need, out of line to keep the common slot small.
    pub extra: Option<Box<Extra>>,
    pub lead: i64,
    /// Event time of the last event that touched the slot.
    pub touched: i64,
    /// The earliest timer pending for this slot (`NONE`: none). Later
    /// deadlines are not pushed: the sweep at this one schedules the next.
    pub(crate) timer_at: i64,
    pub(crate) prev: u32,
    pub(crate) next: u32,
    pub(crate) bytes: u32,
    pub(crate) count: u32,
    pub(crate) live: bool,
}

/// Slot state of trailing-missing sequences and samples.
#[derive(Debug, Default)]
pub struct Extra {
    pub awaiting: Vec<Awaiting>,
    /// Samples: the event chosen for each filter so far.
    pub sample: Vec<Option<EvRef>>,
    pub samples_done: u32,
}

impl Extra {
    fn is_empty(&self) -> bool {
        self.awaiting.is_empty() && self.sample.is_empty() && self.samples_done == 0
    }
}

impl Slot {
    pub fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    pub fn awaiting(&self) -> &[Awaiting] {
        self.extra.as_ref().map_or(&[], |e| &e.awaiting)
    }

    pub fn sample(&self) -> &[Option<EvRef>] {
        self.extra.as_ref().map_or(&[], |e| &e.sample)
    }

    pub fn samples_done(&self) -> u32 {
        self.extra.as_ref().map_or(0, |e| e.samples_done)
    }

    /// Partial matches held (waiting completions and sample events included).
    pub fn partials(&self) -> usize {
        self.stages.iter().flatten().count()
            + self.awaiting().len()
            + usize::from(self.sample().iter().any(Option::is_some))
    }

    fn bytes(&self) -> usize {
        // A slot index in the hash table, plus its control byte.
        let table = size_of::<u32>() + 1;
        size_of::<Slot>()
            + table
            + self.key.len()
            + self.stages.len() * size_of::<Option<Box<Partial>>>()
            + self
                .stages
                .iter()
                .flatten()
                .map(|p| size_of::<Partial>() + p.heap_bytes())
                .sum::<usize>()
            + self.extra.as_ref().map_or(0, |e| {
                size_of::<Extra>()
                    + e.awaiting.capacity() * size_of::<Awaiting>()
                    + e.awaiting
                        .iter()
                        .map(|a| a.partial.heap_bytes())
                        .sum::<usize>()
                    + e.sample.capacity() * size_of::<Option<EvRef>>()
                    + e.sample.iter().flatten().map(EvRef::raw_len).sum::<usize>()
            })
    }

    /// Nothing left to remember: the slot can be freed. A slot that has
    /// produced its quota of samples is kept, to suppress further samples.
    fn is_empty(&self) -> bool {
        self.partials() == 0 && self.lead == NONE && self.samples_done() == 0
    }
}

/// Counters shared by the shards of one matcher, and the byte total shared
/// by every matcher drawing on one memory budget. Each is `None` when
/// nothing reads it: shards running in parallel would otherwise contend on
/// the same cache line for every hit, for nothing.
#[derive(Debug)]
pub struct Shared<'a> {
    pub budget_bytes: Option<&'a AtomicI64>,
    pub rule_partials: Option<&'a AtomicI64>,
}

impl Shared<'_> {
    pub(crate) fn add(&self, bytes: i64, partials: i64) {
        if let Some(total) = self.budget_bytes {
            total.fetch_add(bytes, Ordering::Relaxed);
        }
        if let Some(total) = self.rule_partials {
            total.fetch_add(partials, Ordering::Relaxed);
        }
    }

    /// The bytes of every matcher on the budget (0 when not tracked).
    pub fn budget_used(&self) -> i64 {
        self.budget_bytes.map_or(0, |t| t.load(Ordering::Relaxed))
    }

    /// The rule's partial matches over all shards (0 when not tracked).
    pub fn rule_partials_used(&self) -> i64 {
        self.rule_partials.map_or(0, |t| t.load(Ordering::Relaxed))
    }
}

/// Why a timer was pushed (all are handled by the same sweep of the slot).
pub(crate) type Timer = Reverse<(i64, u32, u32)>;

/// One shard. Aligned to its own cache lines: shards run on different
/// threads, and a neighbour's counters written in the same line would make
/// every hit a cache miss for both (false sharing).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Shard {
    table: HashTable<u32>,
    pub(crate) slots: Vec<Slot>,
    free: Vec<u32>,
    lru_head: u32,
    lru_tail: u32,
    timers: BinaryHeap<Timer>,
    pub(crate) bytes: usize,
    pub(crate) partials: usize,
    pub(crate) stats: Stats,
    /// Matches produced since the last drain.
    pub(crate) out: Vec<Match>,
}

impl Shard {
    pub fn new() -> Shard {
        Shard {
            lru_head: NIL,
            lru_tail: NIL,
            ..Shard::default()
        }
    }

    /// The hash of a key: the same function the matcher routes hits with.
    pub fn hash_key(key: &[u8]) -> u64 {
        crate::matcher::key_hasher().hash_one(key)
    }

    pub fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        self.table
            .find(hash, |&i| self.slots[i as usize].key[..] == *key)
            .copied()
    }

    /// A fresh slot for `key`, at the front of the LRU list.
    pub fn insert(&mut self, hash: u64, key: &[u8]) -> u32 {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot::default());
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[idx as usize];
        let gen = slot.gen.wrapping_add(1);
        *slot = Slot {
            key: key.into(),
            gen,
            lead: NONE,
            touched: NONE,
            timer_at: NONE,
            prev: NIL,
            next: NIL,
            live: true,
            ..Slot::default()
        };
        let slots = &self.slots;
        self.table
            .insert_unique(hash, idx, |&i| Shard::hash_key(&slots[i as usize].key));
        self.push_front(idx);
        idx
    }

    /// Drop slot `idx` entirely (its partials must already be counted).
    pub fn remove(&mut self, idx: u32, shared: &Shared<'_>) {
        let slot = &self.slots[idx as usize];
        if !slot.live {
            return;
        }
        let hash = Shard::hash_key(&slot.key);
        if let Ok(entry) = self.table.find_entry(hash, |&i| i == idx) {
            entry.remove();
        }
        self.unlink(idx);
        let (bytes, count) = (
            self.slots[idx as usize].bytes as usize,
            self.slots[idx as usize].count as usize,
        );
        self.bytes -= bytes;
        self.partials -= count;
        shared.add(-(bytes as i64), -(count as i64));
        let gen = self.slots[idx as usize].gen;
        self.slots[idx as usize] = Slot {
            gen,
            prev: NIL,
            next: NIL,
            lead: NONE,
            timer_at: NONE,
            ..Slot::default()
        };
        self.free.push(idx);
    }

    /// Re-measure slot `idx` after a change, and free it if it became empty.
    pub fn account(&mut self, idx: u32, shared: &Shared<'_>) {
        let slot = &mut self.slots[idx as usize];
        if !slot.live {
            return;
        }
        if slot.is_empty() {
            self.remove(idx, shared);
            return;
        }
        if slot.extra.as_ref().is_some_and(|e| e.is_empty()) {
            slot.extra = None;
        }
        let (bytes, count) = (slot.bytes() as u32, slot.partials() as u32);
        let (db, dc) = (
            bytes as i64 - slot.bytes as i64,
            count as i64 - slot.count as i64,
        );
        slot.bytes = bytes;
        slot.count = count;
        self.bytes = (self.bytes as i64 + db) as usize;
        self.partials = (self.partials as i64 + dc) as usize;
        shared.add(db, dc);
    }

    pub fn touch(&mut self, idx: u32) {
        if self.lru_head != idx {
            self.unlink(idx);
            self.push_front(idx);
        }
    }

    /// The least recently used slot other than `keep`.
    pub fn lru_victim(&self, keep: u32) -> Option<u32> {
        let mut at = self.lru_tail;
        while at != NIL {
            if at != keep {
                return Some(at);
            }
            at = self.slots[at as usize].prev;
        }
        None
    }

    /// Make sure slot `idx` is swept at or before `at`.
    pub fn push_timer(&mut self, at: i64, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        if at == NONE || (slot.timer_at != NONE && slot.timer_at <= at) {
            return;
        }
        slot.timer_at = at;
        self.timers.push(Reverse((at, idx, slot.gen)));
    }

    /// The earliest pending timer (possibly stale: its slot may have been
    /// swept since; waking for it early is harmless).
    pub fn next_timer(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Pop the next timer due strictly before `watermark`, if it is still
    /// its slot's pending one (the slot may have been freed, reused or given
    /// an earlier timer since).
    pub fn pop_due(&mut self, watermark: i64) -> Option<u32> {
        while let Some(&Reverse((at, idx, gen))) = self.timers.peek() {
            if at >= watermark {
                return None;
            }
            self.timers.pop();
            let slot = &mut self.slots[idx as usize];
            if slot.live && slot.gen == gen && slot.timer_at == at {
                slot.timer_at = NONE;
                return Some(idx);
            }
        }
        None
    }

    /// Every evidence event's original JSON this shard holds, to repoint.
    pub(crate) fn each_raw_mut(&mut self, mut f: impl FnMut(&mut RawRef)) {
        for slot in self.slots.iter_mut().filter(|s| s.live) {
            let staged = slot.stages.iter_mut().flatten().map(|p| &mut **p);
            let extra = slot.extra.as_deref_mut();
            let (awaiting, sample) = match extra {
                Some(e) => (&mut e.awaiting[..], &mut e.sample[..]),
                None => (&mut [][..], &mut [][..]),
            };
            let partials = staged.chain(awaiting.iter_mut().map(|a| &mut a.partial));
            let events = partials
                .flat_map(|p| p.events.iter_mut())
                .chain(sample.iter_mut().flatten());
            for raw in events.filter_map(|e| e.raw.as_mut()) {
                f(raw);
            }
        }
    }

    pub fn live_slots(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.slots.len() as u32).filter(|&i| self.slots[i as usize].live)
    }

    /// Bytes of the expiry heap and of free slots: the store's overhead
    /// beyond what is accounted to keys.
    pub fn overhead_bytes(&self) -> usize {
        self.timers.capacity() * size_of::<Timer>()
            + self.free.len() * size_of::<Slot>()
            + self.free.capacity() * size_of::<u32>()
    }

    fn push_front(&mut self, idx: u32) {
        let old = self.lru_head;
        {
            let slot = &mut self.slots[idx as usize];
            slot.prev = NIL;
            slot.next = old;
        }
        if old != NIL {
            self.slots[old as usize].prev = idx;
        } else {
            self.lru_tail = idx;
        }
        self.lru_head = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next) = {
            let s = &self.slots[idx as usize];
            (s.prev, s.next)
        };
        if prev != NIL {
            self.slots[prev as usize].next = next;
        } else if self.lru_head == idx {
            self.lru_head = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        } else if self.lru_tail == idx {
            self.lru_tail = prev;
        }
        let s = &mut self.slots[idx as usize];
        s.prev = NIL;
        s.next = NIL;
    }
}
