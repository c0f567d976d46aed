//! `sample by`: per join key, one distinct event per filter, in any order.
//! A key yields at most `max_samples_per_key` samples.

use crate::matcher::{Ctx, Hit, Match};
use crate::store::Shard;

impl Shard {
    pub(crate) fn sample_hit(&mut self, ctx: &Ctx<'_>, hit: &Hit) {
        let filters = ctx.plan.positives();
        let idx = match self.find(hit.hash, &hit.key) {
            Some(idx) => idx,
            None => self.insert(hit.hash, &hit.key),
        };
        self.touch(idx);
        let slot = &mut self.slots[idx as usize];
        slot.touched = slot.touched.max(hit.ts);
        if slot.samples_done >= ctx.config.max_samples_per_key {
            self.account(idx, &ctx.shared);
            return;
        }
        if slot.sample.is_empty() {
            slot.sample.resize_with(filters, || None);
            if !self.admit(ctx, idx) {
                self.slots[idx as usize].sample.clear();
                self.account(idx, &ctx.shared);
                return;
            }
        }
        // The event fills the first filter it passes that is still open: an
        // event counts once per sample, as the samples' events are distinct.
        let slot = &mut self.slots[idx as usize];
        let mut bits = hit.mask;
        while bits != 0 {
            let f = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(position) = ctx.plan.filters[f].sample_slot else { continue };
            if slot.sample[position].is_none() {
                slot.sample[position] = Some(ctx.evref(hit));
                break;
            }
        }
        if slot.sample.iter().all(Option::is_some) {
            let events: Vec<_> = std::mem::take(&mut slot.sample);
            slot.samples_done += 1;
            let key = slot.key.clone();
            self.stats.matches += 1;
            self.out.push(Match::new(ctx.plan.kind, key, events, hit.seq));
        }
        self.account(idx, &ctx.shared);
        self.enforce_budget(ctx, idx);
    }
}
