//! A filter's candidates in one batch. A filter often has several anchors:
//! every top-level conjunct that is a membership test (`host.os.type ==
//! "windows" and event.type == "start" and process.name in (...)`). Which
//! is rarest depends on the data, so per batch each anchor's event count is
//! worked out, the filter's events are enumerated from the rarest, and
//! each is checked against the other anchors, which is far cheaper than
//! running the rule's predicate on it. A check may keep an event that does
//! not match, never drop one that does.
//!
//! Rules share terms (hundreds test `host.os.type == "windows"`), so terms
//! are deduplicated across the rule set, and each term is looked up once
//! per key in a batch's dictionary of its field (see [`crate::values`]).

use ahash::AHashMap;
use kestrel_event::EventBatch;
use kestrel_schema::FieldId;

use crate::anchor::{Anchor, Term};
use crate::keys::value_keys;
use crate::values::{BatchValues, FieldSlots, NOT_TEXT};

/// `field ∈ keys`.
struct TermCheck {
    /// The field's slot in the index's [`FieldSlots`].
    slot: u32,
    case_insensitive: bool,
    /// The lookup keys of the term's values (see [`crate::keys`]).
    keys: Vec<String>,
}

/// One filter's conditions: its category and every anchor it has, each a
/// disjunction of terms (ids into [`Checks`]).
pub(crate) struct FilterCheck {
    pub category: Option<String>,
    anchors: Vec<Vec<u32>>,
}

impl FilterCheck {
    /// Add to `out` the events of `batch` that could pass this filter: in
    /// its category (`category`: its id in the batch, `None` for any) and
    /// satisfying every anchor. The events are enumerated from the anchor
    /// that passes the fewest of them in this batch, and checked against
    /// the others.
    pub fn select(&self, memo: &mut Memo<'_>, values: &mut BatchValues<'_, '_>, batch: &EventBatch, category: Option<u16>, out: &mut Vec<u32>) {
        let Some(best) = (0..self.anchors.len()).min_by_key(|&a| {
            self.anchors[a].iter().map(|&t| u64::from(memo.count(values, t))).sum::<u64>()
        }) else {
            return;
        };
        let mut events: Vec<u32> = Vec::new();
        for &t in &self.anchors[best] {
            events.extend_from_slice(memo.events(values, t));
        }
        if self.anchors[best].len() > 1 {
            events.sort_unstable();
            events.dedup();
        }
        for ev in events {
            let in_category = category.is_none_or(|id| batch.category_ids(ev as usize).contains(&id));
            if in_category
                && self.anchors.iter().enumerate().all(|(a, terms)| {
                    a == best || terms.iter().any(|&t| memo.holds(values, t, ev as usize))
                })
            {
                out.push(ev);
            }
        }
    }
}

/// The rule set's distinct terms.
#[derive(Default)]
pub(crate) struct Checks {
    terms: Vec<TermCheck>,
    ids: AHashMap<(FieldId, bool, Vec<String>), u32>,
}

impl Checks {
    /// The check of one filter with these alternative anchors (all of one
    /// filter, so all of one category).
    pub fn filter(&mut self, alternatives: &[Anchor], slots: &mut FieldSlots) -> FilterCheck {
        let category = alternatives
            .iter()
            .flat_map(|a| &a.terms)
            .find_map(|t| t.category.clone());
        let anchors = alternatives
            .iter()
            .map(|a| a.terms.iter().map(|t| self.term(t, slots)).collect())
            .collect();
        FilterCheck { category, anchors }
    }

    fn term(&mut self, term: &Term, slots: &mut FieldSlots) -> u32 {
        let mut values = term.values.clone();
        values.sort_unstable();
        let key = (term.field, term.case_insensitive, values);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let mut keys: Vec<String> = term
            .values
            .iter()
            .flat_map(|v| value_keys(v, term.case_insensitive))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        self.terms.push(TermCheck {
            slot: slots.slot(term.field),
            case_insensitive: term.case_insensitive,
            keys,
        });
        let id = (self.terms.len() - 1) as u32;
        self.ids.insert(key, id);
        id
    }

    /// A fresh memo for one batch.
    pub fn memo(&self) -> Memo<'_> {
        Memo {
            terms: &self.terms,
            state: (0..self.terms.len()).map(|_| None).collect(),
        }
    }
}

/// What one batch says about one term, worked out on first use.
struct TermState {
    /// Per id of the field's texts, whether the text satisfies the term.
    passes: Vec<bool>,
    /// The ids that do.
    passing: Vec<u32>,
    /// How many values satisfy the term (an estimate of its events: an
    /// array may count twice), [`NOT_TEXT`] values included.
    count: u32,
    /// The events that satisfy it, once asked for.
    events: Option<Vec<u32>>,
}

/// Per batch: the state of every term used so far.
pub(crate) struct Memo<'a> {
    terms: &'a [TermCheck],
    state: Vec<Option<TermState>>,
}

impl Memo<'_> {
    fn state(&mut self, values: &mut BatchValues<'_, '_>, term: u32) -> &mut TermState {
        let check = &self.terms[term as usize];
        self.state[term as usize].get_or_insert_with(|| {
            let field = values.field(check.slot);
            let mut passing = Vec::new();
            for key in &check.keys {
                field.ids_with_key(key, check.case_insensitive, &mut passing);
            }
            passing.sort_unstable();
            passing.dedup();
            let mut passes = vec![false; field.texts.len()];
            for &id in &passing {
                passes[id as usize] = true;
            }
            let count = passing.iter().map(|&id| field.freq(id)).sum::<u32>() + field.not_text;
            TermState { passes, passing, count, events: None }
        })
    }

    fn count(&mut self, values: &mut BatchValues<'_, '_>, term: u32) -> u32 {
        self.state(values, term).count
    }

    /// The events satisfying `term`, ascending.
    fn events(&mut self, values: &mut BatchValues<'_, '_>, term: u32) -> &[u32] {
        let slot = self.terms[term as usize].slot;
        let state = self.state(values, term);
        if state.events.is_none() {
            let field = values.field(slot);
            let mut events = Vec::with_capacity(state.count as usize);
            let mut lists = 0;
            for &id in state.passing.iter().chain((field.not_text > 0).then_some(&NOT_TEXT)) {
                events.extend_from_slice(field.events_of(id));
                lists += 1;
            }
            if lists > 1 {
                events.sort_unstable();
                events.dedup();
            }
            state.events = Some(events);
        }
        state.events.as_deref().unwrap_or_default()
    }

    /// Whether event `ev` satisfies `term`: some value of its field is one
    /// of the keys (Elasticsearch's any-semantics for arrays); null never
    /// is, a value that is not text may be (a number can equal a member's
    /// spelling; the predicate decides).
    fn holds(&mut self, values: &mut BatchValues<'_, '_>, term: u32, ev: usize) -> bool {
        let slot = self.terms[term as usize].slot;
        let state = self.state(values, term);
        let field = values.field(slot);
        field
            .of(ev)
            .iter()
            .any(|&id| id == NOT_TEXT || state.passes[id as usize])
    }
}
