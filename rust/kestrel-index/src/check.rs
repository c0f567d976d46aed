//! Narrowing candidates. The inverted index finds a rule's events through one
//! anchor per filter, but a filter often has several: every top-level
//! conjunct that is a membership test (`host.os.type == "windows" and
//! event.type == "start" and process.name in (...)`). The one picked may be
//! common in the data however rare the rule set makes it look, so each
//! candidate is also checked against the filter's other anchors here, which
//! is far cheaper than running the rule's predicate on it. Like the index, a
//! check may keep an event that does not match, never drop one that does.
//!
//! Rules share terms (hundreds test `host.os.type == "windows"`), so terms
//! are deduplicated across the rule set and each (term, event) is looked up
//! at most once per batch.

use ahash::{AHashMap, AHashSet};
use kestrel_event::{EventBatch, ValueRef};
use kestrel_schema::FieldId;

use crate::anchor::{Anchor, Term};
use crate::keys::{for_each_key, value_keys};

/// `field ∈ keys`, for one event.
struct TermCheck {
    field: FieldId,
    case_insensitive: bool,
    keys: AHashSet<Box<str>>,
}

impl TermCheck {
    fn holds(&self, batch: &EventBatch, ev: usize) -> bool {
        match batch.value(ev, self.field) {
            // Any element may satisfy it (Elasticsearch's any-semantics).
            ValueRef::List(items) => items.iter().any(|item| self.holds_for(batch.element(item))),
            value => self.holds_for(value),
        }
    }

    fn holds_for(&self, value: ValueRef<'_>) -> bool {
        match value {
            ValueRef::Null => false,
            ValueRef::Str(text) => {
                let mut found = false;
                for_each_key(text, self.case_insensitive, |key| found |= self.keys.contains(key));
                found
            }
            // A number can equal a member's spelling; the predicate decides.
            _ => true,
        }
    }
}

/// One filter's conditions: its category and every anchor it has, each a
/// disjunction of terms (ids into [`Checks`]).
pub(crate) struct FilterCheck {
    pub category: Option<String>,
    anchors: Vec<Vec<u32>>,
}

impl FilterCheck {
    /// Whether event `ev` satisfies every anchor (its category is the caller's).
    pub fn holds(&self, memo: &mut Memo<'_>, batch: &EventBatch, ev: usize) -> bool {
        self.anchors
            .iter()
            .all(|terms| terms.iter().any(|&t| memo.holds(batch, t, ev)))
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
    pub fn filter(&mut self, alternatives: &[Anchor]) -> FilterCheck {
        let category = alternatives
            .iter()
            .flat_map(|a| &a.terms)
            .find_map(|t| t.category.clone());
        let anchors = alternatives
            .iter()
            .map(|a| a.terms.iter().map(|t| self.term(t)).collect())
            .collect();
        FilterCheck { category, anchors }
    }

    fn term(&mut self, term: &Term) -> u32 {
        let mut values = term.values.clone();
        values.sort_unstable();
        let key = (term.field, term.case_insensitive, values);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let keys = term
            .values
            .iter()
            .flat_map(|v| value_keys(v, term.case_insensitive))
            .map(String::into_boxed_str)
            .collect();
        self.terms.push(TermCheck {
            field: term.field,
            case_insensitive: term.case_insensitive,
            keys,
        });
        let id = (self.terms.len() - 1) as u32;
        self.ids.insert(key, id);
        id
    }

    /// A fresh memo for one batch of `events` events.
    pub fn memo(&self, events: usize) -> Memo<'_> {
        Memo {
            terms: &self.terms,
            events,
            state: Vec::new(),
        }
    }
}

/// Per batch: each (term, event) answer once computed. Two bits' worth per
/// pair, one byte for simplicity: 0 unknown, 1 no, 2 yes.
pub(crate) struct Memo<'a> {
    terms: &'a [TermCheck],
    events: usize,
    state: Vec<u8>,
}

/// The largest memo (bytes) worth its zeroing; past it, terms are looked
/// up every time.
const MAX_MEMO: usize = 32 << 20;

impl Memo<'_> {
    fn holds(&mut self, batch: &EventBatch, term: u32, ev: usize) -> bool {
        let size = self.terms.len() * self.events;
        if size > MAX_MEMO {
            return self.terms[term as usize].holds(batch, ev);
        }
        if self.state.is_empty() {
            // Allocated on first use: a batch with no checked candidates
            // should not pay for it.
            self.state = vec![0; size];
        }
        let slot = term as usize * self.events + ev;
        match self.state[slot] {
            1 => false,
            2 => true,
            _ => {
                let found = self.terms[term as usize].holds(batch, ev);
                self.state[slot] = if found { 2 } else { 1 };
                found
            }
        }
    }
}
