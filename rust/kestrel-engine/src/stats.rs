//! A sequence rule's state figures, summed over its partitions.

use std::ops::AddAssign;

use kestrel_seq::{SequenceMatcher, Stats};

use crate::rule::{lock, Rule};

#[derive(Clone, Debug, Default)]
pub struct StateStats {
    pub stats: Stats,
    pub partials: u64,
    pub keys: u64,
    pub state_bytes: u64,
    pub overhead_bytes: u64,
    pub pinned_evidence_bytes: u64,
    pub buffered: u64,
    pub shards: u64,
    pub partitions: u64,
}

impl StateStats {
    /// One matcher's figures.
    pub fn of(m: &SequenceMatcher) -> StateStats {
        StateStats {
            stats: m.stats(),
            partials: m.partials() as u64,
            keys: m.keys() as u64,
            state_bytes: m.state_bytes() as u64,
            overhead_bytes: m.overhead_bytes() as u64,
            pinned_evidence_bytes: m.pinned_evidence_bytes() as u64,
            buffered: m.buffered() as u64,
            shards: m.config().shards as u64,
            partitions: 1,
        }
    }
}

impl AddAssign for StateStats {
    fn add_assign(&mut self, o: StateStats) {
        self.stats += o.stats;
        self.partials += o.partials;
        self.keys += o.keys;
        self.state_bytes += o.state_bytes;
        self.overhead_bytes += o.overhead_bytes;
        self.pinned_evidence_bytes += o.pinned_evidence_bytes;
        self.buffered += o.buffered;
        self.shards = o.shards;
        self.partitions += o.partitions;
    }
}

impl Rule {
    /// The state of a sequence or sample rule, over all its partitions
    /// (`None` for an event rule).
    pub fn state_stats(&self) -> Option<StateStats> {
        if !self.is_sequence() {
            return None;
        }
        let mut total = StateStats::default();
        for matcher in self.parts().into_iter().filter_map(|part| part.matcher) {
            total += StateStats::of(&lock(&matcher));
        }
        Some(total)
    }
}
