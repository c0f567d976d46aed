//! Counters: everything that leaves the state store is counted by reason.

use std::ops::AddAssign;

/// Partial matches removed by the store, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evictions {
    /// Their `maxspan` window (or the idle TTL) passed.
    pub expired: u64,
    /// Least recently used, under the global memory budget.
    pub lru: u64,
    /// The rule's quota of partial matches was full.
    pub quota_rule: u64,
    /// The join key's quota of partial matches was full.
    pub quota_entity: u64,
    /// An `until` event for the key arrived.
    pub until: u64,
}

impl AddAssign for Evictions {
    fn add_assign(&mut self, o: Evictions) {
        self.expired += o.expired;
        self.lru += o.lru;
        self.quota_rule += o.quota_rule;
        self.quota_entity += o.quota_entity;
        self.until += o.until;
    }
}

/// Matcher statistics, summed over shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events that passed at least one filter and carried a usable key.
    pub hits: u64,
    /// Events with no timestamp (a sequence cannot order them).
    pub untimed: u64,
    /// Events that arrived later than the reorder bound allows.
    pub late: u64,
    /// Events whose join key was null (and not `?optional`) for every filter they passed.
    pub null_keys: u64,
    /// Completed sequences and samples.
    pub matches: u64,
    /// Partials overwritten by a newer one in the same state (Elasticsearch semantics).
    pub replaced: u64,
    /// Advances refused because the event was past `maxspan`.
    pub rejected_maxspan: u64,
    /// Partials or completions discarded by a missing-step event.
    pub rejected_missing: u64,
    pub evictions: Evictions,
}

impl AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.hits += o.hits;
        self.untimed += o.untimed;
        self.late += o.late;
        self.null_keys += o.null_keys;
        self.matches += o.matches;
        self.replaced += o.replaced;
        self.rejected_maxspan += o.rejected_maxspan;
        self.rejected_missing += o.rejected_missing;
        self.evictions += o.evictions;
    }
}
