//! One partition at a time, for a runner that distributes partitions
//! itself (a stream processor's keyed operator): time that advances
//! without events, the next time a window closes, the end of a partition's
//! input. Checkpoints of one partition are in `snapshot.rs`.

use std::sync::Arc;

use crate::pipeline::{Output, Pipeline};
use crate::rule::{lock, Part, Rule};
use crate::EngineError;

impl Pipeline {
    pub(crate) fn check_partition(&self, p: usize) -> Result<(), EngineError> {
        if p >= self.config.partitions {
            return Err(EngineError::NoPartition {
                partition: p,
                partitions: self.config.partitions,
            });
        }
        Ok(())
    }

    /// The sequence rules whose state partition `p` holds (every rule
    /// joined on the entity, and those whose home it is), with their
    /// instances there.
    pub(crate) fn partition_state(&self, p: usize) -> Result<Vec<(Arc<Rule>, Part)>, EngineError> {
        self.check_partition(p)?;
        let set = self.rules();
        let mut found = Vec::new();
        for (position, rule) in set.rules.iter().enumerate() {
            let here = set.home[position].is_none_or(|home| home == p);
            if rule.is_sequence() && here {
                if let Some(part) = rule.part(p) {
                    found.push((rule.clone(), part));
                }
            }
        }
        Ok(found)
    }

    /// Event time in partition `p` has reached `watermark` (ns): windows
    /// that closed before it expire, and trailing missing steps whose
    /// window closed complete. Their alerts, as `process` returns them.
    pub fn advance(&self, p: usize, watermark: i64) -> Result<Output, EngineError> {
        let rules = self.partition_state(p)?;
        let mut out = Output::default();
        for (rule, part) in rules {
            if rule.live() {
                let alerts = self.settle(&rule, vec![part], |m| m.advance(watermark), false);
                self.emit(&rule, alerts, &mut out);
            }
        }
        Ok(out)
    }

    /// The earliest event time (ns) at which [`Pipeline::advance`] has work
    /// in partition `p`; `None` when nothing there waits on time.
    pub fn next_deadline(&self, p: usize) -> Result<Option<i64>, EngineError> {
        let rules = self.partition_state(p)?;
        Ok(rules
            .iter()
            .filter_map(|(_, part)| part.matcher.as_ref().and_then(|m| lock(m).next_deadline()))
            .min())
    }

    /// The end of partition `p`'s input: its sequences settle (trailing
    /// missing steps, buffered events). Pipes hold results of every
    /// partition: a `| tail` releases them at [`Pipeline::flush`] only.
    pub fn flush_partition(&self, p: usize) -> Result<Output, EngineError> {
        let rules = self.partition_state(p)?;
        let mut out = Output::default();
        for (rule, part) in rules {
            if rule.live() {
                let alerts = self.settle(&rule, vec![part], |m| m.flush(), true);
                self.emit(&rule, alerts, &mut out);
            }
        }
        Ok(out)
    }
}
