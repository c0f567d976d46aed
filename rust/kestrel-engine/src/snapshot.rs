//! Checkpoints of a whole pipeline: what a restarted process needs to go on
//! exactly where this one stopped.
//!
//! Layout (little endian): `KENG`, format version (u8), the partition
//! count, then per rule its id and fingerprint, counters, pipe stages (a
//! head's count, a tail's held alerts) and every partition's matcher
//! snapshot ([`kestrel_seq`]'s own format); then the deduplication window,
//! the caller's extra bytes, and a BLAKE3 digest of everything before it.
//! A snapshot restores only into a pipeline with the same partitions and
//! the same rules (ids and fingerprints); anything else is refused before
//! any state changes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use kestrel_seq::codec::{CodecError, Lengths, Reader, Writer};
use kestrel_seq::SequenceMatcher;

use crate::pipeline::Pipeline;
use crate::pipes::{Held, Stage};
use crate::render::Alert;
use crate::rule::{lock, Rule, RuleCounters};
use crate::EngineError;

const MAGIC: &[u8; 4] = b"KENG";
/// Bump on any layout change; other versions are refused, not guessed at.
pub const SNAPSHOT_VERSION: u8 = 1;
const LENGTHS: Lengths = Lengths::U64;

impl From<CodecError> for EngineError {
    fn from(e: CodecError) -> EngineError {
        EngineError::Snapshot(e.to_string())
    }
}

fn write_alert(w: &mut Writer, a: &Alert) {
    w.i64(a.order.0);
    w.i64(a.order.1);
    w.u64(a.order.2);
    match a.timestamp {
        Some(ts) => {
            w.u8(1);
            w.i64(ts);
        }
        None => w.u8(0),
    }
    w.raw(&a.identity);
    w.bytes(&a.line);
}

fn read_alert(r: &mut Reader<'_>) -> Result<Alert, CodecError> {
    let order = (r.i64()?, r.i64()?, r.u64()?);
    let timestamp = match r.u8()? {
        0 => None,
        1 => Some(r.i64()?),
        _ => return Err(r.fail("bad timestamp flag")),
    };
    let identity = r.take(16)?.try_into().expect("16 bytes");
    Ok(Alert {
        order,
        timestamp,
        identity,
        line: r.bytes()?.to_vec(),
    })
}

/// One rule's part of a snapshot, read and checked before anything is applied.
struct RuleImage {
    counters: RuleCounters,
    emitted: u64,
    stages: Vec<Stage>,
    matchers: Vec<Option<SequenceMatcher>>,
}

impl Pipeline {
    /// Everything a restarted process needs: per rule its counters, pipe
    /// state and every partition's sequence state; the deduplication
    /// window; and `extra` (the caller's own counters), returned by
    /// [`Pipeline::restore`].
    pub fn snapshot(&self, extra: &[u8]) -> Vec<u8> {
        let set = self.rules();
        let mut w = Writer::new(MAGIC, SNAPSHOT_VERSION, LENGTHS);
        w.u32(self.config.partitions as u32);
        w.count(set.rules.len());
        for rule in &set.rules {
            w.bytes(rule.spec.id.as_bytes());
            w.bytes(rule.spec.fingerprint.as_bytes());
            let state = lock(&rule.state);
            let c = &state.counters;
            for v in [
                c.evaluations,
                c.batches,
                c.matches,
                c.alerts,
                c.errors,
                c.time_ns,
            ] {
                w.u64(v);
            }
            w.u8(u8::from(c.quarantined));
            w.bytes(c.last_error.as_deref().unwrap_or("").as_bytes());
            w.u64(state.pipes.emitted);
            w.count(state.pipes.stages.len());
            for stage in &state.pipes.stages {
                match stage {
                    Stage::Head {
                        passed, dropped, ..
                    } => {
                        w.u8(0);
                        w.u64(*passed);
                        w.u64(*dropped);
                    }
                    Stage::Tail {
                        held,
                        arrivals,
                        dropped,
                        ..
                    } => {
                        w.u8(1);
                        w.u64(*arrivals);
                        w.u64(*dropped);
                        w.count(held.len());
                        for Reverse(h) in held.iter() {
                            w.u64(h.arrival);
                            write_alert(&mut w, &h.alert);
                        }
                    }
                }
            }
            drop(state);
            let parts = rule.parts();
            w.count(parts.len());
            for part in parts {
                match part.matcher {
                    Some(m) => {
                        w.u8(1);
                        w.bytes(&lock(&m).snapshot());
                    }
                    None => w.u8(0),
                }
            }
        }
        let emitted = lock(&self.emitted);
        w.u64(emitted.alerts);
        w.u64(emitted.dedup.suppressed);
        w.i64(emitted.dedup.horizon);
        w.count(emitted.dedup.seen.len());
        for (identity, ts) in &emitted.dedup.seen {
            w.raw(identity);
            w.i64(*ts);
        }
        drop(emitted);
        w.bytes(extra);
        w.seal()
    }

    /// Restore a [`Pipeline::snapshot`] taken with the same rules and
    /// partitions; returns its extra bytes. A snapshot that is damaged,
    /// from another rule set or another partition count is refused and
    /// nothing changes.
    pub fn restore(&self, data: &[u8]) -> Result<Vec<u8>, EngineError> {
        let mut r = Reader::open(data, MAGIC, SNAPSHOT_VERSION, "engine", LENGTHS)?;
        let partitions = r.u32()? as usize;
        if partitions != self.config.partitions {
            return Err(EngineError::Snapshot(format!(
                "taken with {partitions} partition(s); this engine has {} (use the same number of workers)",
                self.config.partitions
            )));
        }
        let set = self.rules();
        let count = r.count(16)?;
        if count != set.rules.len() {
            return Err(EngineError::Snapshot(format!(
                "taken with {count} rule(s); this engine has {}",
                set.rules.len()
            )));
        }
        let mut images = Vec::with_capacity(count);
        for rule in &set.rules {
            let (id, fingerprint) = (r.text()?, r.text()?);
            if id != rule.spec.id || fingerprint != rule.spec.fingerprint {
                let what = if id == rule.spec.id {
                    format!("rule {id} changed since")
                } else {
                    format!("rule {id} where this engine has {}", rule.spec.id)
                };
                return Err(EngineError::Snapshot(format!(
                    "taken from another rule set: {what}"
                )));
            }
            images.push(read_rule(&mut r, rule)?);
        }
        let alerts = r.u64()?;
        let suppressed = r.u64()?;
        let horizon = r.i64()?;
        let entries = r.count(24)?;
        let mut seen = ahash::AHashMap::with_capacity(entries);
        for _ in 0..entries {
            let identity: [u8; 16] = r.take(16)?.try_into().expect("16 bytes");
            seen.insert(identity, r.i64()?);
        }
        let extra = r.bytes()?.to_vec();
        r.finish()?;
        for (rule, image) in set.rules.iter().zip(images) {
            apply(rule, image);
        }
        let mut emitted = lock(&self.emitted);
        emitted.alerts = alerts;
        emitted.dedup.suppressed = suppressed;
        emitted.dedup.horizon = horizon;
        emitted.dedup.seen = seen;
        Ok(extra)
    }
}

fn read_rule(r: &mut Reader<'_>, rule: &Arc<Rule>) -> Result<RuleImage, EngineError> {
    let mut counters = RuleCounters {
        evaluations: r.u64()?,
        batches: r.u64()?,
        matches: r.u64()?,
        alerts: r.u64()?,
        errors: r.u64()?,
        time_ns: r.u64()?,
        ..RuleCounters::default()
    };
    counters.quarantined = r.u8()? != 0;
    let last = r.text()?;
    counters.last_error = (!last.is_empty()).then_some(last);
    let emitted = r.u64()?;
    let n = r.count(17)?;
    if n != rule.spec.pipes.len() {
        return Err(r.fail("pipe stages differ from the rule's").into());
    }
    let mut stages = Vec::with_capacity(n);
    for &(op, count) in &rule.spec.pipes {
        let stage = match (r.u8()?, op) {
            (0, crate::pipes::PipeOp::Head) => Stage::Head {
                count,
                passed: r.u64()?,
                dropped: r.u64()?,
            },
            (1, crate::pipes::PipeOp::Tail) => {
                let arrivals = r.u64()?;
                let dropped = r.u64()?;
                let held_count = r.count(41)?;
                let mut held = BinaryHeap::with_capacity(held_count);
                for _ in 0..held_count {
                    let arrival = r.u64()?;
                    held.push(Reverse(Held {
                        arrival,
                        alert: read_alert(r)?,
                    }));
                }
                Stage::Tail {
                    count,
                    held,
                    arrivals,
                    dropped,
                }
            }
            _ => return Err(r.fail("pipe stages differ from the rule's").into()),
        };
        stages.push(stage);
    }
    let parts = r.count(1)?;
    let mut matchers = Vec::with_capacity(parts);
    for p in 0..parts {
        matchers.push(match r.u8()? {
            0 => None,
            1 => {
                let bytes = r.bytes()?;
                let mut fresh = rule
                    .fresh_matcher()
                    .ok_or_else(|| r.fail("sequence state for a rule that keeps none"))?;
                fresh.restore(bytes).map_err(|e| {
                    EngineError::Snapshot(format!("rule {}, partition {p}: {e}", rule.spec.id))
                })?;
                Some(fresh)
            }
            _ => return Err(r.fail("bad partition flag").into()),
        });
    }
    Ok(RuleImage {
        counters,
        emitted,
        stages,
        matchers,
    })
}

fn apply(rule: &Rule, image: RuleImage) {
    {
        let mut state = lock(&rule.state);
        state.counters = image.counters;
        state.pipes.emitted = image.emitted;
        state.pipes.stages = image.stages;
    }
    for (part, restored) in rule.parts().into_iter().zip(image.matchers) {
        if let (Some(matcher), Some(restored)) = (part.matcher, restored) {
            replace_matcher(&matcher, restored);
        }
    }
}

/// Swap restored state in: it moves onto the live matcher's shared budget
/// and quota, and the live matcher's share leaves with it.
fn replace_matcher(live: &Mutex<SequenceMatcher>, mut restored: SequenceMatcher) {
    let mut live = lock(live);
    restored.adopt_counters(&live);
    *live = restored;
    // Restored evidence is a private copy and may cost more than the state
    // it replaces: the shared total, not the partition alone, must fit.
    live.enforce_budget();
}

const PART_MAGIC: &[u8; 4] = b"KPRT";

impl Pipeline {
    /// The sequence state partition `p` holds, for a runner that keeps each
    /// partition's state itself: per rule with state there, its id,
    /// fingerprint and matcher snapshot; a BLAKE3 digest closes it. Pipes,
    /// deduplication and counters belong to the whole engine
    /// ([`Pipeline::snapshot`]).
    pub fn snapshot_partition(&self, p: usize) -> Result<Vec<u8>, EngineError> {
        let rules = self.partition_state(p)?;
        let mut w = Writer::new(PART_MAGIC, SNAPSHOT_VERSION, LENGTHS);
        w.u32(self.config.partitions as u32);
        w.u32(p as u32);
        w.count(rules.len());
        for (rule, part) in &rules {
            w.bytes(rule.spec.id.as_bytes());
            w.bytes(rule.spec.fingerprint.as_bytes());
            let state = part
                .matcher
                .as_ref()
                .map(|m| lock(m).snapshot())
                .unwrap_or_default();
            w.bytes(&state);
        }
        Ok(w.seal())
    }

    /// Restore a [`Pipeline::snapshot_partition`] of partition `p`, taken
    /// with the same rules and partition count. Refused whole, before any
    /// state changes, when it is damaged or from elsewhere.
    pub fn restore_partition(&self, p: usize, data: &[u8]) -> Result<(), EngineError> {
        let rules = self.partition_state(p)?;
        let mut r = Reader::open(data, PART_MAGIC, SNAPSHOT_VERSION, "partition", LENGTHS)?;
        let (partitions, taken) = (r.u32()? as usize, r.u32()? as usize);
        if partitions != self.config.partitions || taken != p {
            return Err(EngineError::Snapshot(format!(
                "partition {taken} of {partitions}, restored as partition {p} of {}",
                self.config.partitions
            )));
        }
        let count = r.count(24)?;
        if count != rules.len() {
            return Err(EngineError::Snapshot(format!(
                "taken with {count} rule(s) holding state here; this engine has {}",
                rules.len()
            )));
        }
        let mut restored = Vec::with_capacity(count);
        for (rule, _) in &rules {
            let (id, fingerprint) = (r.text()?, r.text()?);
            if id != rule.spec.id || fingerprint != rule.spec.fingerprint {
                return Err(EngineError::Snapshot(format!(
                    "taken from another rule set: rule {id} where this engine has {}",
                    rule.spec.id
                )));
            }
            let bytes = r.bytes()?;
            let mut fresh = rule
                .fresh_matcher()
                .ok_or_else(|| r.fail("sequence state for a rule that keeps none"))?;
            fresh
                .restore(bytes)
                .map_err(|e| EngineError::Snapshot(format!("rule {id}, partition {p}: {e}")))?;
            restored.push(fresh);
        }
        r.finish()?;
        for ((_, part), fresh) in rules.iter().zip(restored) {
            if let Some(matcher) = &part.matcher {
                replace_matcher(matcher, fresh);
            }
        }
        Ok(())
    }
}
