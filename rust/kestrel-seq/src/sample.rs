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
        if slot.samples_done() >= ctx.config.max_samples_per_key {
            self.account(idx, &ctx.shared);
            return;
        }
        if slot.sample().is_empty() {
            if !self.admit(ctx, idx) {
                self.account(idx, &ctx.shared);
                return;
            }
            let extra = self.slots[idx as usize].extra();
            extra.sample = Vec::with_capacity(filters);
            extra.sample.resize_with(filters, || None);
        }
        // The event fills the first filter it passes that is still open: an
        // event counts once per sample, as the samples' events are distinct.
        let slot = &mut self.slots[idx as usize];
        let key = slot.key.clone();
        let extra = slot.extra();
        let mut bits = hit.mask;
        while bits != 0 {
            let f = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let Some(position) = ctx.plan.filters[f].sample_slot else {
                continue;
            };
            if extra.sample[position].is_none() {
                extra.sample[position] = Some(ctx.evref(hit));
                break;
            }
        }
        if extra.sample.iter().all(Option::is_some) {
            let events: Vec<_> = std::mem::take(&mut extra.sample);
            extra.samples_done += 1;
            self.stats.matches += 1;
            self.out
                .push(Match::new(ctx.plan.kind, key, events, hit.seq));
        }
        self.account(idx, &ctx.shared);
        self.enforce_budget(ctx, idx);
    }
}
