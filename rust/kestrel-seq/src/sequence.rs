//! The sequence state machine for one join key (one slot), driven by hits.
//!
//! Order of work for one event, which is what makes the semantics exact:
//! `until` first (it discards what came before the event), then the
//! positive positions from last to first (so one event cannot advance a
//! partial twice), then missing steps (which only discard partials whose
//! last event came strictly before this one), then leading missing events
//! are recorded for partials that start later.

use crate::matcher::{Ctx, Hit, Match};
use crate::plan::Missing;
use crate::store::{Awaiting, Partial, Shard, NONE};

impl Shard {
    pub(crate) fn sequence_hit(&mut self, ctx: &Ctx<'_>, hit: &Hit) {
        let plan = ctx.plan;
        let idx = match self.find(hit.hash, &hit.key) {
            Some(idx) => idx,
            // Only a first step or a leading missing event creates state.
            None if hit.mask & ctx.creates_state != 0 => self.insert(hit.hash, &hit.key),
            None => return,
        };
        self.touch(idx);
        let maxspan = plan.maxspan_ns;
        {
            let slot = &mut self.slots[idx as usize];
            slot.touched = slot.touched.max(hit.ts);
        }
        let (mut until, mut leading, mut trailing) = (false, false, false);
        let mut bits = hit.mask;
        while bits != 0 {
            let fp = &plan.filters[bits.trailing_zeros() as usize];
            bits &= bits - 1;
            until |= fp.until;
            leading |= fp.missing.contains(&Missing::Leading);
            trailing |= fp.missing.contains(&Missing::Trailing);
        }

        if until {
            let slot = &mut self.slots[idx as usize];
            let dropped = slot.stages.iter_mut().filter_map(Option::take).count();
            self.stats.evictions.until += dropped as u64;
        }

        // Positions from last to first: a partial advanced by this event is
        // not advanced again by it.
        let last = plan.positives() - 1;
        for pos in (0..=last).rev() {
            if hit.mask & (1 << plan.positive_filters[pos]) == 0 {
                continue;
            }
            if pos == 0 {
                self.start_partial(ctx, idx, hit);
                continue;
            }
            let slot = &mut self.slots[idx as usize];
            let Some(mut partial) = slot.stages.get_mut(pos - 1).and_then(Option::take) else {
                continue;
            };
            if maxspan.is_some_and(|span| hit.ts.saturating_sub(partial.start) > span) {
                self.stats.rejected_maxspan += 1;
                continue;
            }
            // Exact growth: most partials never reach their last step.
            partial.events.reserve_exact(1);
            partial.events.push(ctx.evref(hit));
            if pos == last {
                self.complete(ctx, idx, *partial, hit.seq);
            } else if self.slots[idx as usize].stages[pos]
                .replace(partial)
                .is_some()
            {
                self.stats.replaced += 1;
            }
        }

        let slot = &mut self.slots[idx as usize];
        let mut bits = hit.mask;
        while bits != 0 {
            let fp = &plan.filters[bits.trailing_zeros() as usize];
            bits &= bits - 1;
            for &m in &fp.missing {
                let Missing::Between(p) = m else { continue };
                if slot
                    .stages
                    .get(p)
                    .and_then(Option::as_ref)
                    .is_some_and(|w| w.last_seq() != hit.seq)
                {
                    slot.stages[p] = None;
                    self.stats.rejected_missing += 1;
                }
            }
        }
        if trailing {
            let span = maxspan.unwrap_or(i64::MAX);
            if let Some(extra) = slot.extra.as_mut() {
                let before = extra.awaiting.len();
                extra.awaiting.retain(|a| {
                    a.partial.last_seq() == hit.seq || hit.ts.saturating_sub(a.anchor) > span
                });
                self.stats.rejected_missing += (before - extra.awaiting.len()) as u64;
            }
        }
        if leading && hit.ts > slot.lead {
            slot.lead = hit.ts;
            let expires = maxspan.map_or(NONE, |span| hit.ts.saturating_add(span));
            self.push_timer(expires, idx);
        }
        self.account(idx, &ctx.shared);
        self.enforce_budget(ctx, idx);
    }

    fn start_partial(&mut self, ctx: &Ctx<'_>, idx: u32, hit: &Hit) {
        let plan = ctx.plan;
        let slot = &self.slots[idx as usize];
        let occupied = plan.positives() > 1 && slot.stages.first().is_some_and(Option::is_some);
        if !occupied && !self.admit(ctx, idx) {
            return;
        }
        let lead = self.slots[idx as usize].lead;
        if plan.positives() == 1 {
            let partial = Partial {
                start: hit.ts,
                lead,
                events: vec![ctx.evref(hit)],
            };
            self.complete(ctx, idx, partial, hit.seq);
            return;
        }
        let slot = &mut self.slots[idx as usize];
        if slot.stages.is_empty() {
            slot.stages = (1..plan.positives()).map(|_| None).collect();
        }
        match &mut slot.stages[0] {
            // Overwritten in place: the first state changes hands on nearly
            // every first-step event, and its allocation can be reused.
            Some(older) => {
                older.start = hit.ts;
                older.lead = lead;
                older.events.clear();
                older.events.push(ctx.evref(hit));
                self.stats.replaced += 1;
            }
            empty => {
                *empty = Some(Box::new(Partial {
                    start: hit.ts,
                    lead,
                    events: vec![ctx.evref(hit)],
                }))
            }
        }
        let expires = match plan.maxspan_ns {
            Some(span) => hit.ts.saturating_add(span),
            None => ctx
                .config
                .idle_ttl_ns
                .map_or(NONE, |ttl| hit.ts.saturating_add(ttl)),
        };
        self.push_timer(expires, idx);
    }

    /// Every positive step matched: emit, or wait for the trailing window,
    /// or reject on a leading missing event within `maxspan`.
    fn complete(&mut self, ctx: &Ctx<'_>, idx: u32, partial: Partial, seq: u64) {
        let plan = ctx.plan;
        let span = plan.maxspan_ns.unwrap_or(i64::MAX);
        if plan.has_trailing {
            // With a leading step too, a trailing event only rules the match
            // out together with a leading one within maxspan of it.
            let anchor = if plan.has_leading {
                partial.lead
            } else {
                partial.start
            };
            if anchor != NONE {
                let deadline = anchor.saturating_add(span);
                self.slots[idx as usize].extra().awaiting.push(Awaiting {
                    deadline,
                    anchor,
                    partial,
                });
                self.push_timer(deadline, idx);
                return;
            }
        } else if plan.has_leading && partial.lead != NONE {
            let end = partial.events.last().map_or(partial.start, |e| e.ts);
            if end.saturating_sub(partial.lead) <= span {
                self.stats.rejected_missing += 1;
                return;
            }
        }
        self.emit(ctx, idx, partial, seq);
    }

    pub(crate) fn emit(&mut self, ctx: &Ctx<'_>, idx: u32, partial: Partial, seq: u64) {
        let key = self.slots[idx as usize].key.clone();
        let mut positives = partial.events.into_iter();
        let events: Vec<_> = ctx
            .plan
            .layout
            .iter()
            .map(|p| p.and_then(|_| positives.next()))
            .collect();
        self.stats.matches += 1;
        self.out.push(Match::new(ctx.plan.kind, key, events, seq));
    }

    /// Expire what is due before `watermark` (exclusive bound: maxspan is inclusive).
    pub(crate) fn expire_sequences(&mut self, ctx: &Ctx<'_>, watermark: i64) {
        let span = ctx.plan.maxspan_ns;
        while let Some(idx) = self.pop_due(watermark) {
            let idle = ctx.config.idle_ttl_ns;
            let slot = &mut self.slots[idx as usize];
            let mut expired = 0u64;
            match span {
                Some(span) => {
                    for stage in slot.stages.iter_mut() {
                        if stage
                            .as_ref()
                            .is_some_and(|p| p.start.saturating_add(span) < watermark)
                        {
                            *stage = None;
                            expired += 1;
                        }
                    }
                    if slot.lead != NONE && slot.lead.saturating_add(span) < watermark {
                        slot.lead = NONE;
                    }
                }
                None => {
                    if let Some(ttl) = idle {
                        if slot.touched.saturating_add(ttl) < watermark {
                            expired +=
                                slot.stages.iter_mut().filter_map(Option::take).count() as u64;
                        }
                    }
                }
            }
            self.stats.evictions.expired += expired;
            self.release_awaiting(ctx, idx, |a| a.deadline < watermark);
            let next = self.next_deadline(ctx, idx);
            self.push_timer(next, idx);
            self.account(idx, &ctx.shared);
        }
    }

    /// When slot `idx` next has something to expire or release.
    pub(crate) fn next_deadline(&self, ctx: &Ctx<'_>, idx: u32) -> i64 {
        let slot = &self.slots[idx as usize];
        let span = ctx.plan.maxspan_ns;
        let stages = slot.stages.iter().flatten().map(|p| match span {
            Some(span) => p.start.saturating_add(span),
            None => ctx
                .config
                .idle_ttl_ns
                .map_or(i64::MAX, |ttl| slot.touched.saturating_add(ttl)),
        });
        let lead =
            (slot.lead != NONE).then(|| span.map_or(i64::MAX, |s| slot.lead.saturating_add(s)));
        let next = stages
            .chain(slot.awaiting().iter().map(|a| a.deadline))
            .chain(lead)
            .min()
            .unwrap_or(i64::MAX);
        if next == i64::MAX {
            NONE
        } else {
            next
        }
    }

    /// Emit the completions whose trailing window `closed` says is over.
    pub(crate) fn release_awaiting(
        &mut self,
        ctx: &Ctx<'_>,
        idx: u32,
        closed: impl Fn(&Awaiting) -> bool,
    ) {
        let slot = &mut self.slots[idx as usize];
        if slot.awaiting().is_empty() {
            return;
        }
        let extra = slot.extra();
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut extra.awaiting)
            .into_iter()
            .partition(|a| closed(a));
        extra.awaiting = waiting;
        for a in done {
            let seq = a.partial.last_seq();
            self.emit(ctx, idx, a.partial, seq);
        }
    }
}
