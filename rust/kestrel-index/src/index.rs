//! The index: anchored field values → rules, and per batch the candidate
//! events of every rule.

use ahash::{AHashMap, AHashSet};
use kestrel_event::{EventBatch, ValueRef};
use kestrel_ir::Program;
use kestrel_schema::{FieldId, Schema};

use crate::anchor::{anchors, value_count, Anchor, Term};
use crate::check::{Checks, FilterCheck, Memo};
use crate::error::IndexError;
use crate::keys::{for_each_key, value_keys};

/// A rule a term offers events to, and the category the term requires
/// (an index into `RuleIndex::categories`, or `ANY`).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Offer {
    rule: u32,
    category: u16,
}

const ANY: u16 = u16::MAX;

/// The rules anchored on one field with one case mode.
struct Group {
    field: FieldId,
    case_insensitive: bool,
    by_key: AHashMap<Box<str>, Vec<Offer>>,
    /// Every (rule, category) of the group, offered events whose value is
    /// not text (a number can equal a string member's spelling; not worth
    /// modelling).
    members: Vec<Offer>,
}

/// Which events each rule could match, built once per rule set.
pub struct RuleIndex {
    anchors: Vec<Option<Anchor>>,
    groups: Vec<Group>,
    /// The categories terms require, numbered for `Offer::category`.
    categories: Vec<String>,
    /// Per rule, per filter: every anchor, checked on each candidate
    /// (empty where the chosen anchors are all there is).
    checks: Vec<Vec<FilterCheck>>,
    /// The distinct terms those checks test.
    terms: Checks,
}

impl RuleIndex {
    /// Index `rules`, each the IR JSON of one rule or `None` (a rule the
    /// index knows nothing about: never restricted). Fields are bound in
    /// `schema`, which must be the schema batches are decoded with.
    pub fn new(rules: &[Option<&str>], schema: &Schema) -> Result<RuleIndex, IndexError> {
        let mut options = rules
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
        rank(&mut options);
        let mut terms = Checks::default();
        let checks = options.iter().map(|filters| checks_of(filters, &mut terms)).collect();
        let mut index = Self::from_anchors(choose(options));
        index.checks = checks;
        index.terms = terms;
        Ok(index)
    }

    /// Index rules by their anchors (`None`: unrestricted).
    pub fn from_anchors(anchors: Vec<Option<Anchor>>) -> RuleIndex {
        let mut groups: Vec<Group> = Vec::new();
        let mut categories: Vec<String> = Vec::new();
        for (rule, anchor) in anchors.iter().enumerate() {
            let Some(a) = anchor else { continue };
            for t in &a.terms {
                let category = match &t.category {
                    None => ANY,
                    Some(name) => match categories.iter().position(|c| c == name) {
                        Some(at) => at as u16,
                        None => {
                            categories.push(name.clone());
                            (categories.len() - 1) as u16
                        }
                    },
                };
                let offer = Offer {
                    rule: rule as u32,
                    category,
                };
                let at = match groups
                    .iter()
                    .position(|g| g.field == t.field && g.case_insensitive == t.case_insensitive)
                {
                    Some(at) => at,
                    None => {
                        groups.push(Group {
                            field: t.field,
                            case_insensitive: t.case_insensitive,
                            by_key: AHashMap::new(),
                            members: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                let group = &mut groups[at];
                if !group.members.contains(&offer) {
                    group.members.push(offer);
                }
                for value in &t.values {
                    for key in value_keys(value, t.case_insensitive) {
                        let offers = group.by_key.entry(key.into()).or_default();
                        if !offers.contains(&offer) {
                            offers.push(offer);
                        }
                    }
                }
            }
        }
        let checks = anchors.iter().map(|_| Vec::new()).collect();
        RuleIndex {
            anchors,
            groups,
            categories,
            checks,
            terms: Checks::default(),
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
    /// ascending indices of the events that could match, which also have
    /// the rule's category. One pass over the batch per anchored field.
    pub fn candidates(&self, batch: &EventBatch) -> Vec<Option<Vec<u32>>> {
        let mut out: Vec<Option<Vec<u32>>> = self
            .anchors
            .iter()
            .map(|a| a.as_ref().map(|_| Vec::new()))
            .collect();
        // Each required category's id in this batch (None: absent, so
        // terms requiring it offer nothing).
        let names = batch.category_names();
        let category: Vec<Option<u16>> = self
            .categories
            .iter()
            .map(|wanted| names.iter().position(|n| n == wanted).map(|i| i as u16))
            .collect();
        for group in &self.groups {
            for ev in 0..batch.len() {
                let mut offer = |offer: Offer| {
                    if offer.category != ANY {
                        match category[offer.category as usize] {
                            Some(id) if batch.category_ids(ev).contains(&id) => {}
                            _ => return,
                        }
                    }
                    if let Some(events) = out[offer.rule as usize].as_mut() {
                        // An event can reach a rule twice (array elements, two keys).
                        if events.last() != Some(&(ev as u32)) {
                            events.push(ev as u32);
                        }
                    }
                };
                match batch.value(ev, group.field) {
                    ValueRef::List(items) => {
                        // Any element may satisfy the rule (Elasticsearch's any-semantics).
                        for item in items {
                            group.offer(batch.element(item), &mut offer);
                        }
                    }
                    value => group.offer(value, &mut offer),
                }
            }
        }
        // A disjunction spans several groups, so its events arrived out of order.
        for (events, anchor) in out.iter_mut().zip(&self.anchors) {
            if let (Some(events), Some(a)) = (events, anchor) {
                if a.terms.len() > 1 {
                    events.sort_unstable();
                    events.dedup();
                }
            }
        }
        let mut memo = self.terms.memo(batch.len());
        for (events, filters) in out.iter_mut().zip(&self.checks) {
            if let (Some(events), false) = (events, filters.is_empty()) {
                narrow(batch, events, filters, &mut memo);
            }
        }
        out
    }
}

/// Order each filter's alternative anchors, the one expected to pass the
/// fewest events first.
///
/// Without data statistics, a field's cardinality is estimated by how many
/// distinct values the whole rule set names for it: `host.os.type ==
/// "windows"` (one of three values rules use) passes far more events than
/// `process.name in (14 names)` (out of hundreds). So the estimated share
/// of events is `values / distinct values of the field`, summed over a
/// disjunction's terms; ties go to fewer values.
fn rank(options: &mut [Vec<Vec<Anchor>>]) {
    let mut distinct: AHashMap<String, AHashSet<String>> = AHashMap::new();
    for t in options.iter().flatten().flatten().flat_map(|a| &a.terms) {
        let seen = distinct.entry(t.path.clone()).or_default();
        seen.extend(t.values.iter().map(|v| v.to_lowercase()));
    }
    let term_share = |t: &Term| t.values.len() as f64 / distinct[t.path.as_str()].len().max(1) as f64;
    // A disjunction passes what any of its terms passes.
    let share = |a: &Anchor| a.terms.iter().map(term_share).sum::<f64>();
    for alternatives in options.iter_mut().flatten() {
        alternatives.sort_by(|a, b| share(a).total_cmp(&share(b)).then(value_count(a).cmp(&value_count(b))));
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

/// The checks of one rule (`filters` ranked): every anchor of every filter,
/// most selective first, except where the index's own pick settles it (a
/// single filter's best anchor). Empty when nothing is left to check.
fn checks_of(filters: &[Vec<Anchor>], terms: &mut Checks) -> Vec<FilterCheck> {
    match filters {
        [only] if only.len() > 1 => vec![terms.filter(&only[1..])],
        [_] => Vec::new(),
        _ if filters.iter().any(|alternatives| alternatives.len() > 1) => {
            filters.iter().map(|alternatives| terms.filter(alternatives)).collect()
        }
        _ => Vec::new(),
    }
}

/// Keep the events that pass some filter's every anchor, in its category.
fn narrow(batch: &EventBatch, events: &mut Vec<u32>, filters: &[FilterCheck], memo: &mut Memo<'_>) {
    let names = batch.category_names();
    // Per filter: Some(None) when its category is absent from the batch.
    let category: Vec<Option<Option<u16>>> = filters
        .iter()
        .map(|f| {
            let wanted = f.category.as_deref()?;
            Some(names.iter().position(|n| n == wanted).map(|i| i as u16))
        })
        .collect();
    events.retain(|&ev| {
        let ev = ev as usize;
        filters.iter().zip(&category).any(|(filter, category)| {
            let in_category = match category {
                None => true,
                Some(None) => false,
                Some(Some(id)) => batch.category_ids(ev).contains(id),
            };
            in_category && filter.holds(memo, batch, ev)
        })
    });
}

impl Group {
    /// Offer the rules `value` could satisfy: null none, text by key,
    /// anything else all of them.
    fn offer(&self, value: ValueRef<'_>, offer: &mut impl FnMut(Offer)) {
        match value {
            ValueRef::Null => {}
            ValueRef::Str(text) => for_each_key(text, self.case_insensitive, |key| {
                for &o in self.by_key.get(key).map_or(&[][..], Vec::as_slice) {
                    offer(o);
                }
            }),
            _ => self.members.iter().for_each(|&o| offer(o)),
        }
    }
}
