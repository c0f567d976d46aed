//! The index: each rule's filters and their anchors, and per batch the
//! candidate events of every rule.

use std::sync::atomic::{AtomicUsize, Ordering};

use ahash::{AHashMap, AHashSet};
use kestrel_event::EventBatch;
use kestrel_ir::Program;
use kestrel_schema::Schema;
use rayon::prelude::*;

use crate::anchor::{anchors, weight, Anchor, Term, TermKind};
use crate::check::{Checks, FilterCheck};
use crate::error::IndexError;
use crate::values::{BatchValues, FieldSlots};

/// Which events each rule could match, built once per rule set.
pub struct RuleIndex {
    /// Per rule, the anchor a rule set without data would pick (what
    /// `anchor` describes); `None` for an unrestricted rule.
    anchors: Vec<Option<Anchor>>,
    /// Per anchored rule, per filter: its category and every anchor.
    filters: Vec<Option<Vec<FilterCheck>>>,
    /// The distinct terms those filters test.
    terms: Checks,
    /// Every field the terms read.
    slots: FieldSlots,
}

impl RuleIndex {
    /// Index `rules`, each the IR JSON of one rule or `None` (a rule the
    /// index knows nothing about: never restricted). Fields are bound in
    /// `schema`, which must be the schema batches are decoded with.
    pub fn new(rules: &[Option<&str>], schema: &Schema) -> Result<RuleIndex, IndexError> {
        let options = rules
            .iter()
            .enumerate()
            .map(|(rule, json)| {
                let Some(json) = json else {
                    return Ok(Vec::new());
                };
                let program = Program::from_json(json, schema)
                    .map_err(|source| IndexError { rule, source })?;
                Ok(anchors(&program, json))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_anchors(options))
    }

    /// Index rules whose anchors ([`anchors`]) were found beforehand, one
    /// entry per rule (empty: unrestricted). A rule set that changes one
    /// rule at a time keeps each rule's anchors and rebuilds from them,
    /// without reading any rule's IR again.
    pub fn from_anchors(mut options: Vec<Vec<Vec<Anchor>>>) -> RuleIndex {
        rank(&mut options);
        let mut terms = Checks::default();
        let mut slots = FieldSlots::default();
        let filters = options
            .iter()
            .map(|filters| {
                // A filter without an anchor can pass any event: the rule is unrestricted.
                let anchored = !filters.is_empty()
                    && filters.iter().all(|alternatives| !alternatives.is_empty());
                anchored.then(|| {
                    filters
                        .iter()
                        .map(|alternatives| terms.filter(alternatives, &mut slots))
                        .collect()
                })
            })
            .collect();
        terms.finish();
        RuleIndex {
            anchors: choose(options),
            filters,
            terms,
            slots,
        }
    }

    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// How many rules have an anchor.
    pub fn anchored(&self) -> usize {
        self.anchors.iter().flatten().count()
    }

    pub fn anchor(&self, rule: usize) -> Option<&Anchor> {
        self.anchors.get(rule)?.as_ref()
    }

    /// Per rule: `None` to evaluate the whole batch (unanchored), or the
    /// ascending indices of the events that could match: those of some
    /// filter's category that satisfy every anchor of that filter (the
    /// union of [`RuleIndex::candidates_by_filter`]).
    pub fn candidates(&self, batch: &EventBatch) -> Vec<Option<Vec<u32>>> {
        self.candidates_by_filter(batch)
            .into_iter()
            .map(|filters| {
                let mut filters = filters?;
                if filters.len() == 1 {
                    return filters.pop();
                }
                let mut events: Vec<u32> = filters.concat();
                events.sort_unstable();
                events.dedup();
                Some(events)
            })
            .collect()
    }

    /// Per rule: `None` (unanchored), or per filter (steps, then `until`)
    /// the ascending indices of the events of its category that satisfy
    /// every anchor it has.
    ///
    /// The batch's anchored fields are dictionary-encoded once (see
    /// [`crate::values`]); each term is then looked up once per key, which
    /// gives how many events it passes. A filter's events are enumerated
    /// from its anchor that passes the fewest in this batch, whatever the
    /// rule set's own statistics suggested, and checked against the others.
    pub fn candidates_by_filter(&self, batch: &EventBatch) -> Vec<Option<Vec<Vec<u32>>>> {
        self.candidates_by_filter_on(batch, 1)
    }

    /// [`RuleIndex::candidates_by_filter`] on `threads` threads. The rules
    /// are handed out a few at a time; the batch's dictionaries and term
    /// states are shared, each worked out once by whichever thread needs
    /// it first.
    pub fn candidates_by_filter_on(
        &self,
        batch: &EventBatch,
        threads: usize,
    ) -> Vec<Option<Vec<Vec<u32>>>> {
        let values = BatchValues::new(batch, &self.slots);
        let memo = self.terms.memo();
        // Each category filters require, as this batch numbers it (`None`:
        // no event of the batch has it).
        let names = batch.category_names();
        let categories: Vec<Option<u16>> = self
            .terms
            .categories()
            .iter()
            .map(|wanted| names.iter().position(|n| n == wanted).map(|id| id as u16))
            .collect();
        let rule = |filters: &Option<Vec<FilterCheck>>| {
            let lists = filters
                .as_ref()?
                .iter()
                .map(|filter| {
                    let mut events = Vec::new();
                    // `Some(None)` for a filter of any category.
                    let category = match filter.category {
                        None => Some(None),
                        Some(c) => categories[c as usize].map(Some),
                    };
                    if let Some(category) = category {
                        filter.select(&memo, &values, batch, category, &mut events);
                    }
                    events
                })
                .collect();
            Some(lists)
        };
        if threads <= 1 {
            return self.filters.iter().map(rule).collect();
        }
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done = Vec::new();
            loop {
                let start = next.fetch_add(RULES_PER_TAKE, Ordering::Relaxed);
                if start >= self.filters.len() {
                    break;
                }
                let end = (start + RULES_PER_TAKE).min(self.filters.len());
                let chunk = &self.filters[start..end];
                done.push((start, chunk.iter().map(rule).collect::<Vec<_>>()));
            }
            done
        };
        // On the pool the caller runs on (an engine's), or rayon's own.
        let mut parts: Vec<_> = (0..threads)
            .into_par_iter()
            .flat_map_iter(|_| work())
            .collect();
        parts.sort_unstable_by_key(|(start, _)| *start);
        parts.into_iter().flat_map(|(_, lists)| lists).collect()
    }
}

/// Rules a thread takes at a time when candidates are selected on several.
const RULES_PER_TAKE: usize = 8;

/// Order each filter's alternative anchors, the one expected to pass the
/// fewest events first.
///
/// Without data statistics, a field's cardinality is estimated by how many
/// distinct values the whole rule set names for it: `host.os.type ==
/// "windows"` (one of three values rules use) passes far more events than
/// `process.name in (14 names)` (out of hundreds). So the estimated share
/// of events is `values / distinct values of the field`, summed over a
/// disjunction's terms; ties go to the lower [`weight`]. A glob or a
/// negation says little about its share: they get fixed guesses.
fn rank(options: &mut [Vec<Vec<Anchor>>]) {
    let mut distinct: AHashMap<String, AHashSet<String>> = AHashMap::new();
    for t in options.iter().flatten().flatten().flat_map(|a| &a.terms) {
        if t.kind == TermKind::In {
            let seen = distinct.entry(t.path.clone()).or_default();
            seen.extend(t.values.iter().map(|v| v.to_lowercase()));
        }
    }
    let term_share = |t: &Term| match t.kind {
        TermKind::In => t.values.len() as f64 / distinct[t.path.as_str()].len().max(1) as f64,
        TermKind::Like => 0.5,
        TermKind::NotIn | TermKind::NotLike => 0.9,
    };
    // A disjunction passes what any of its terms passes.
    let share = |a: &Anchor| a.terms.iter().map(term_share).sum::<f64>();
    for alternatives in options.iter_mut().flatten() {
        alternatives.sort_by(|a, b| {
            share(a)
                .total_cmp(&share(b))
                .then(weight(a).cmp(&weight(b)))
        });
    }
}

/// Anchor each rule on the union of its filters' best anchors (`options`
/// ranked by `rank`); `None` for a rule without anchors.
fn choose(options: Vec<Vec<Vec<Anchor>>>) -> Vec<Option<Anchor>> {
    options
        .into_iter()
        .map(|filters| {
            let mut terms = Vec::new();
            for alternatives in filters {
                terms.extend(alternatives.into_iter().next()?.terms);
            }
            (!terms.is_empty()).then_some(Anchor { terms })
        })
        .collect()
}
