//! Versioned binary snapshots of a matcher's state, so a restarted engine
//! continues its pending sequences.
//!
//! Layout (little endian): `KSEQ`, format version (u8), a fingerprint of
//! the rule's plan, the clocks, the statistics, then every key's slot and
//! every hit waiting in the reorder buffer, and last a BLAKE3 digest of
//! everything before it, so a damaged or edited snapshot is refused rather
//! than restored into wrong matches. Timers are not stored: they are
//! rebuilt from the partials on restore, and keys are re-sharded, so a
//! snapshot can be restored with a different shard count.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::codec::{CodecError, Lengths, Reader, Writer};
use crate::key::HitKey;
use crate::matcher::{EvRef, Hit, RawRef, SequenceMatcher};
use crate::stats::{Evictions, Stats};
use crate::store::{Awaiting, Extra, Partial, Shard, Shared, NONE};
use crate::SeqError;

const MAGIC: &[u8; 4] = b"KSEQ";
/// Bump on any layout change; older versions are refused, not guessed at.
pub const SNAPSHOT_VERSION: u8 = 2;
const LENGTHS: Lengths = Lengths::U32;

impl From<CodecError> for SeqError {
    fn from(e: CodecError) -> SeqError {
        SeqError::Snapshot {
            offset: e.offset,
            reason: e.reason,
        }
    }
}

fn write_evref(w: &mut Writer, e: &EvRef) {
    w.u64(e.seq);
    w.i64(e.ts);
    match &e.raw {
        Some(raw) => {
            w.u8(1);
            w.bytes(raw.bytes());
        }
        None => w.u8(0),
    }
}

fn write_partial(w: &mut Writer, p: &Partial) {
    w.i64(p.start);
    w.i64(p.lead);
    w.count(p.events.len());
    for e in &p.events {
        write_evref(w, e);
    }
}

fn read_evref(r: &mut Reader<'_>) -> Result<EvRef, CodecError> {
    let seq = r.u64()?;
    let ts = r.i64()?;
    let raw = match r.u8()? {
        0 => None,
        1 => Some(RawRef::owned(r.bytes()?)),
        _ => return Err(r.fail("bad evidence flag")),
    };
    Ok(EvRef { seq, ts, raw })
}

fn read_partial(r: &mut Reader<'_>) -> Result<Partial, CodecError> {
    let start = r.i64()?;
    let lead = r.i64()?;
    let n = r.count(17)?;
    let events = (0..n).map(|_| read_evref(r)).collect::<Result<_, _>>()?;
    Ok(Partial {
        start,
        lead,
        events,
    })
}

fn stats_fields(s: &mut Stats) -> [&mut u64; 13] {
    let Stats {
        hits,
        untimed,
        late,
        null_keys,
        matches,
        replaced,
        rejected_maxspan,
        rejected_missing,
        evictions,
    } = s;
    let Evictions {
        expired,
        lru,
        quota_rule,
        quota_entity,
        until,
    } = evictions;
    [
        hits,
        untimed,
        late,
        null_keys,
        matches,
        replaced,
        rejected_maxspan,
        rejected_missing,
        expired,
        lru,
        quota_rule,
        quota_entity,
        until,
    ]
}

impl SequenceMatcher {
    /// A fingerprint of the plan: a snapshot only restores into the same rule shape.
    fn fingerprint(&self) -> u64 {
        let plan = &self.plan;
        let shape = format!(
            "{:?}|{:?}|{:?}|{}|{:?}",
            plan.kind,
            plan.layout,
            plan.filters
                .iter()
                .map(|f| (f.key_spec, &f.positions, &f.missing, f.until))
                .collect::<Vec<_>>(),
            plan.key_specs.len(),
            plan.maxspan_ns
        );
        ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(shape)
    }

    /// The whole state as bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut w = Writer::new(MAGIC, SNAPSHOT_VERSION, LENGTHS);
        w.u64(self.fingerprint());
        w.i64(self.watermark);
        w.i64(self.newest);
        w.i64(self.released);
        let mut stats = self.stats();
        for v in stats_fields(&mut stats) {
            w.u64(*v);
        }
        let slots: Vec<_> = self
            .shards
            .iter()
            .flat_map(|s| s.live_slots().map(move |i| &s.slots[i as usize]))
            .collect();
        w.count(slots.len());
        for slot in slots {
            w.bytes(&slot.key);
            w.i64(slot.lead);
            w.i64(slot.touched);
            w.u32(slot.samples_done());
            w.count(slot.stages.len());
            for stage in &slot.stages {
                match stage {
                    Some(p) => {
                        w.u8(1);
                        write_partial(&mut w, p);
                    }
                    None => w.u8(0),
                }
            }
            w.count(slot.awaiting().len());
            for a in slot.awaiting() {
                w.i64(a.deadline);
                w.i64(a.anchor);
                write_partial(&mut w, &a.partial);
            }
            w.count(slot.sample().len());
            for e in slot.sample() {
                match e {
                    Some(e) => {
                        w.u8(1);
                        write_evref(&mut w, e);
                    }
                    None => w.u8(0),
                }
            }
        }
        let buffered: Vec<&Hit> = self.reorder.iter().map(|Reverse(h)| h).collect();
        w.count(buffered.len());
        for hit in buffered {
            w.bytes(&hit.key);
            w.u64(hit.mask);
            write_evref(
                &mut w,
                &EvRef {
                    seq: hit.seq,
                    ts: hit.ts,
                    raw: hit.raw.clone(),
                },
            );
            w.i64(hit.tiebreaker);
        }
        w.seal()
    }

    /// Replace the state with a snapshot's. On error the state is unchanged.
    pub fn restore(&mut self, data: &[u8]) -> Result<(), SeqError> {
        let mut r = Reader::open(data, MAGIC, SNAPSHOT_VERSION, "sequence", LENGTHS)?;
        if r.u64()? != self.fingerprint() {
            return Err(r
                .fail("the snapshot was taken from a different rule")
                .into());
        }
        let (watermark, newest, released) = (r.i64()?, r.i64()?, r.i64()?);
        let mut stats = Stats::default();
        for v in stats_fields(&mut stats) {
            *v = r.u64()?;
        }
        let mut shards: Vec<Shard> = (0..self.shards.len()).map(|_| Shard::new()).collect();
        let budget_before = self.state_bytes() as i64;
        let partials_before = self.partials() as i64;
        let partials = std::sync::atomic::AtomicI64::new(0);
        let bytes = std::sync::atomic::AtomicI64::new(0);
        let shared = Shared {
            budget_bytes: Some(&bytes),
            rule_partials: Some(&partials),
        };
        let hasher = crate::matcher::key_hasher();
        let span = self.plan.maxspan_ns;
        for _ in 0..r.count(24)? {
            let key = r.bytes()?;
            let hash = hasher.hash_one(key);
            let shard = &mut shards[((hash >> 32) % self.shards.len() as u64) as usize];
            let idx = shard.insert(hash, key);
            let lead = r.i64()?;
            let touched = r.i64()?;
            let samples_done = r.u32()?;
            let mut stages = Vec::new();
            for _ in 0..r.count(1)? {
                stages.push(match r.u8()? {
                    0 => None,
                    1 => Some(Box::new(read_partial(&mut r)?)),
                    _ => return Err(r.fail("bad stage flag").into()),
                });
            }
            let mut awaiting = Vec::new();
            for _ in 0..r.count(20)? {
                let (deadline, anchor) = (r.i64()?, r.i64()?);
                awaiting.push(Awaiting {
                    deadline,
                    anchor,
                    partial: read_partial(&mut r)?,
                });
            }
            let mut sample = Vec::new();
            for _ in 0..r.count(1)? {
                sample.push(match r.u8()? {
                    0 => None,
                    1 => Some(read_evref(&mut r)?),
                    _ => return Err(r.fail("bad sample flag").into()),
                });
            }
            let mut timers: Vec<i64> = stages
                .iter()
                .flatten()
                .map(|p| match span {
                    Some(s) => p.start.saturating_add(s),
                    None => self
                        .config
                        .idle_ttl_ns
                        .map_or(NONE, |t| touched.saturating_add(t)),
                })
                .collect();
            timers.extend(awaiting.iter().map(|a| a.deadline));
            if lead != NONE {
                timers.push(span.map_or(NONE, |s| lead.saturating_add(s)));
            }
            let slot = &mut shard.slots[idx as usize];
            slot.lead = lead;
            slot.touched = touched;
            slot.stages = stages.into_boxed_slice();
            *slot.extra() = Extra {
                awaiting,
                sample,
                samples_done,
            };
            for t in timers {
                shard.push_timer(t, idx);
            }
            shard.account(idx, &shared);
        }
        let mut reorder = BinaryHeap::new();
        for _ in 0..r.count(29)? {
            let key = HitKey::new(r.bytes()?);
            let mask = r.u64()?;
            let e = read_evref(&mut r)?;
            let tiebreaker = r.i64()?;
            let hash = hasher.hash_one(&key[..]);
            reorder.push(Reverse(Hit {
                key,
                hash,
                mask,
                seq: e.seq,
                ts: e.ts,
                tiebreaker,
                ev: 0,
                raw: e.raw,
            }));
        }
        r.finish()?;
        // Statistics restart from the snapshot's totals, held by the matcher.
        self.shards = shards;
        self.stats = stats;
        self.watermark = watermark;
        self.newest = newest;
        self.released = released;
        self.reorder = reorder;
        // The matcher's shared counters follow the restored state where it keeps them.
        let shared =
            crate::matcher::shared_counters(&self.config, &self.budget, &self.rule_partials);
        if let Some(total) = shared.rule_partials {
            total.fetch_add(
                partials.into_inner() - partials_before,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        if let Some(total) = shared.budget_bytes {
            total.fetch_add(
                bytes.into_inner() - budget_before,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        // A snapshot from a roomier configuration is brought under this
        // one's budget now, not at the next event.
        self.enforce_budget();
        Ok(())
    }
}
