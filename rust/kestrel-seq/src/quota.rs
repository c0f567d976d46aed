//! Admission and eviction: the per-key and per-rule quotas, and LRU eviction
//! under the global memory budget. Every partial removed is counted by reason.

use crate::matcher::Ctx;
use crate::store::Shard;

impl Shard {
    /// May slot `idx` take one more partial match? Makes room under the rule
    /// quota by evicting this shard's least recently used keys.
    pub(crate) fn admit(&mut self, ctx: &Ctx<'_>, idx: u32) -> bool {
        if let Some(quota) = ctx.config.quota_entity {
            if self.slots[idx as usize].partials() >= quota {
                self.stats.evictions.quota_entity += 1;
                return false;
            }
        }
        if let Some(quota) = ctx.config.quota_rule {
            while ctx.shared.rule_partials_used() >= quota as i64 {
                match self.lru_victim(idx) {
                    Some(victim) => {
                        self.stats.evictions.quota_rule +=
                            u64::from(self.slots[victim as usize].count);
                        self.remove(victim, &ctx.shared);
                    }
                    None => {
                        self.stats.evictions.quota_rule += 1;
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Evict least recently used keys (never `keep`) while the budget is exceeded.
    pub(crate) fn enforce_budget(&mut self, ctx: &Ctx<'_>, keep: u32) {
        let Some(budget) = ctx.config.memory_budget else {
            return;
        };
        while ctx.shared.budget_used() > budget as i64 {
            let Some(victim) = self.lru_victim(keep) else {
                break;
            };
            self.stats.evictions.lru += u64::from(self.slots[victim as usize].count);
            self.remove(victim, &ctx.shared);
        }
    }
}
