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

use crate::key::HitKey;
use crate::matcher::{EvRef, Hit, RawRef, SequenceMatcher};
use crate::stats::{Evictions, Stats};
use crate::store::{Awaiting, Extra, Partial, Shard, Shared, NONE};
use crate::SeqError;

const MAGIC: &[u8; 4] = b"KSEQ";
/// Bump on any layout change; older versions are refused, not guessed at.
pub const SNAPSHOT_VERSION: u8 = 2;
/// The trailing digest's length.
const DIGEST: usize = 32;

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn evref(&mut self, e: &EvRef) {
        self.u64(e.seq);
        self.i64(e.ts);
        match &e.raw {
            Some(raw) => {
                self.u8(1);
                self.bytes(raw.bytes());
            }
            None => self.u8(0),
        }
    }
    fn partial(&mut self, p: &Partial) {
        self.i64(p.start);
        self.i64(p.lead);
        self.u32(p.events.len() as u32);
        p.events.iter().for_each(|e| self.evref(e));
    }
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn fail(&self, reason: &str) -> SeqError {
        SeqError::Snapshot {
            offset: self.at,
            reason: reason.to_string(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], SeqError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.fail("truncated"))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, SeqError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, SeqError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, SeqError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, SeqError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn bytes(&mut self) -> Result<&'a [u8], SeqError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// A count of items, each at least `min` bytes: refuse counts the rest of the input cannot hold.
    fn count(&mut self, min: usize) -> Result<usize, SeqError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.data.len() - self.at {
            return Err(self.fail("count larger than the data"));
        }
        Ok(n)
    }
    fn evref(&mut self) -> Result<EvRef, SeqError> {
        let seq = self.u64()?;
        let ts = self.i64()?;
        let raw = match self.u8()? {
            0 => None,
            1 => Some(RawRef::owned(self.bytes()?)),
            _ => return Err(self.fail("bad evidence flag")),
        };
        Ok(EvRef { seq, ts, raw })
    }
    fn partial(&mut self) -> Result<Partial, SeqError> {
        let start = self.i64()?;
        let lead = self.i64()?;
        let n = self.count(17)?;
        let events = (0..n).map(|_| self.evref()).collect::<Result<_, _>>()?;
        Ok(Partial {
            start,
            lead,
            events,
        })
    }
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
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u8(SNAPSHOT_VERSION);
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
        w.u32(slots.len() as u32);
        for slot in slots {
            w.bytes(&slot.key);
            w.i64(slot.lead);
            w.i64(slot.touched);
            w.u32(slot.samples_done());
            w.u32(slot.stages.len() as u32);
            for stage in &slot.stages {
                match stage {
                    Some(p) => {
                        w.u8(1);
                        w.partial(p);
                    }
                    None => w.u8(0),
                }
            }
            w.u32(slot.awaiting().len() as u32);
            for a in slot.awaiting() {
                w.i64(a.deadline);
                w.i64(a.anchor);
                w.partial(&a.partial);
            }
            w.u32(slot.sample().len() as u32);
            for e in slot.sample() {
                match e {
                    Some(e) => {
                        w.u8(1);
                        w.evref(e);
                    }
                    None => w.u8(0),
                }
            }
        }
        let buffered: Vec<&Hit> = self.reorder.iter().map(|Reverse(h)| h).collect();
        w.u32(buffered.len() as u32);
        for hit in buffered {
            w.bytes(&hit.key);
            w.u64(hit.mask);
            w.evref(&EvRef {
                seq: hit.seq,
                ts: hit.ts,
                raw: hit.raw.clone(),
            });
            w.i64(hit.tiebreaker);
        }
        let digest = blake3::hash(&w.0);
        w.0.extend_from_slice(digest.as_bytes());
        w.0
    }

    /// Replace the state with a snapshot's. On error the state is unchanged.
    pub fn restore(&mut self, data: &[u8]) -> Result<(), SeqError> {
        let mut r = Reader { data, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(r.fail("not a Kestrel sequence snapshot"));
        }
        let version = r.u8()?;
        if version != SNAPSHOT_VERSION {
            return Err(r.fail(&format!(
                "snapshot format {version}, this build reads {SNAPSHOT_VERSION}"
            )));
        }
        if data.len() < r.at + DIGEST {
            return Err(r.fail("truncated"));
        }
        let (body, digest) = data.split_at(data.len() - DIGEST);
        if blake3::hash(body).as_bytes() != digest {
            return Err(SeqError::Snapshot {
                offset: body.len(),
                reason: "checksum mismatch: the snapshot is damaged or was edited".into(),
            });
        }
        let data = body;
        r.data = body;
        if r.u64()? != self.fingerprint() {
            return Err(r.fail("the snapshot was taken from a different rule"));
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
                    1 => Some(Box::new(r.partial()?)),
                    _ => return Err(r.fail("bad stage flag")),
                });
            }
            let mut awaiting = Vec::new();
            for _ in 0..r.count(20)? {
                let (deadline, anchor) = (r.i64()?, r.i64()?);
                awaiting.push(Awaiting {
                    deadline,
                    anchor,
                    partial: r.partial()?,
                });
            }
            let mut sample = Vec::new();
            for _ in 0..r.count(1)? {
                sample.push(match r.u8()? {
                    0 => None,
                    1 => Some(r.evref()?),
                    _ => return Err(r.fail("bad sample flag")),
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
            let e = r.evref()?;
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
        if r.at != data.len() {
            return Err(r.fail("trailing bytes"));
        }
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
        let (plan, config) = (&self.plan, &self.config);
        let ctx = crate::matcher::Ctx {
            plan,
            config,
            shared,
            batch: None,
            creates_state: self.creates_state,
        };
        for shard in &mut self.shards {
            shard.enforce_budget(&ctx, u32::MAX);
        }
        Ok(())
    }
}
