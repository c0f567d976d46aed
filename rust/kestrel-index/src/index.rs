//! The index: anchored field values → rules, and per batch the candidate
//! events of every rule.

use ahash::{AHashMap, AHashSet};
use kestrel_event::{EventBatch, ValueRef};
use kestrel_ir::Program;
use kestrel_schema::{FieldId, Schema};

use crate::anchor::{anchors, value_count, Anchor, Term};
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
        Ok(Self::from_anchors(choose(options)))
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
        RuleIndex {
            anchors,
            groups,
            categories,
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
        out
    }
}

/// Pick one anchor per filter, the one expected to pass the fewest events,
/// and anchor the rule on the union of the picks.
///
/// Without data statistics, a field's cardinality is estimated by how many
/// distinct values the whole rule set names for it: `host.os.type ==
/// "windows"` (one of three values rules use) passes far more events than
/// `process.name in (14 names)` (out of hundreds). So the estimated share
/// of events is `values / distinct values of the field`, summed over a
/// disjunction's terms; ties go to fewer values.
fn choose(options: Vec<Vec<Vec<Anchor>>>) -> Vec<Option<Anchor>> {
    let mut distinct: AHashMap<String, AHashSet<String>> = AHashMap::new();
    for t in options.iter().flatten().flatten().flat_map(|a| &a.terms) {
        let seen = distinct.entry(t.path.clone()).or_default();
        seen.extend(t.values.iter().map(|v| v.to_lowercase()));
    }
    let term_share = |t: &Term| t.values.len() as f64 / distinct[t.path.as_str()].len().max(1) as f64;
    // A disjunction passes what any of its terms passes.
    let share = |a: &Anchor| a.terms.iter().map(term_share).sum::<f64>();
    options
        .into_iter()
        .map(|filters| {
            if filters.is_empty() {
                return None;
            }
            let mut terms = Vec::new();
            for alternatives in filters {
                let best = alternatives.into_iter().min_by(|a, b| {
                    share(a).total_cmp(&share(b)).then(value_count(a).cmp(&value_count(b)))
                })?;
                terms.extend(best.terms);
            }
            Some(Anchor { terms })
        })
        .collect()
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
