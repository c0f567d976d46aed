//! A filter's candidates in one batch. A filter often has several anchors:
//! every top-level conjunct that tests one field's text (`host.os.type ==
//! "windows" and event.type == "start" and process.name in (...)`). Which
//! is rarest depends on the data, so per batch each anchor's event count is
//! worked out, the filter's events are enumerated from the rarest, and
//! each is checked against the filter's other anchors, which is far cheaper
//! than running the rule's predicate on it. A check may keep an event that
//! does not match, never drop one that does.
//!
//! Rules share terms (hundreds test `host.os.type == "windows"`), so terms
//! are deduplicated across the rule set. Membership terms are answered
//! from the batch's side: each distinct text of a field (see
//! [`crate::values`]) is looked up once in a table, made when rules load,
//! of every membership term's keys on that field. The rule set holds
//! thousands of keys and a small batch a few hundred texts, so that is far
//! fewer lookups than one per key. A field with many distinct texts for
//! its terms' keys is looked up the other way round. A glob or negated
//! term is tested once per distinct text of the dictionary. Those cost
//! more, so they are only worked out for a filter whose membership anchors
//! leave many events.

use std::sync::OnceLock;

use ahash::AHashMap;
use kestrel_event::EventBatch;
use kestrel_schema::FieldId;

use kestrel_host::GlobSet;

use crate::anchor::{Anchor, Term, TermKind};
use crate::keys::{lowered_key, value_keys};
use crate::values::{BatchValues, FieldSlots, FieldValues, NOT_TEXT};

/// One term, ready to test a batch's texts.
struct TermCheck {
    /// The field's slot in the index's [`FieldSlots`].
    slot: u32,
    kind: TermKind,
    case_insensitive: bool,
    /// The lookup keys of the term's values (see [`crate::keys`]); empty
    /// for globs.
    keys: Vec<String>,
    /// The patterns of a `Like`/`NotLike` term, as the evaluators match them.
    globs: Option<GlobSet>,
    /// The [`LiteralScreen`] of the term's field that holds its literals.
    screen: Option<u32>,
}

/// Every required literal ([`GlobSet::required_literals`]) of the
/// case-insensitive glob terms on one field, searched for at once: a
/// text is tested against a term only if it holds one of the term's
/// literals. One pass per distinct text replaces one per (term, text).
struct LiteralScreen {
    slot: u32,
    searcher: aho_corasick::AhoCorasick,
    /// Per distinct literal (pattern id), the terms that require it.
    terms_of: Vec<Vec<u32>>,
}

/// A field's texts are looked up in its [`KeyTable`] when it has at least
/// this many keys per distinct text.
const KEYS_PER_TEXT: usize = 4;

/// A membership term and the id of a text having one of its keys.
type TermText = (u32, u32);

/// The membership terms' keys on one field, each with the terms that list
/// it, for looking up a batch's texts.
#[derive(Default)]
struct KeyTable {
    /// Case-sensitive keys: a text as it is.
    exact: AHashMap<String, Vec<u32>>,
    /// Case-insensitive keys: a text's fold, or its lowercase where that
    /// differs (see [`crate::keys`]).
    folded: AHashMap<String, Vec<u32>>,
    /// How many keys the two hold.
    keys: usize,
}

impl KeyTable {
    fn add(&mut self, term: u32, check: &TermCheck) {
        let table = if check.case_insensitive {
            &mut self.folded
        } else {
            &mut self.exact
        };
        for key in &check.keys {
            let terms = table.entry(key.clone()).or_default();
            if terms.is_empty() {
                self.keys += 1;
            }
            terms.push(term);
        }
    }

    /// Every [`TermText`] pair where a text of `field` has a key of the
    /// term, sorted; `None` when the field has too many distinct texts for
    /// that to be cheaper than looking up each key. A key is looked up in a
    /// small table of the batch's, likely in the cache; a text in this one,
    /// large and likely not.
    fn pairs(&self, field: &FieldValues<'_>) -> Option<Vec<TermText>> {
        if field.texts.len() * KEYS_PER_TEXT > self.keys {
            return None;
        }
        let mut pairs = Vec::new();
        let mut found = |terms: Option<&Vec<u32>>, id: usize| {
            pairs.extend(terms.into_iter().flatten().map(|&t| (t, id as u32)));
        };
        if !self.exact.is_empty() {
            for (id, text) in field.texts.iter().enumerate() {
                found(self.exact.get(*text), id);
            }
        }
        if !self.folded.is_empty() {
            for (id, (text, folded)) in field.texts_folded().enumerate() {
                found(self.folded.get(folded), id);
                if let Some(lower) = lowered_key(text, folded) {
                    found(self.folded.get(&lower), id);
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        Some(pairs)
    }
}

/// A filter with fewer candidates than this share of the batch (from its
/// membership anchors) is not narrowed further by its glob and negated
/// anchors: testing every distinct text of their fields would cost more
/// than the predicate calls it could save.
const NARROW_FURTHER: usize = 32;

/// One filter's conditions: its category and every anchor it has, each a
/// disjunction of terms (ids into [`Checks`]).
pub(crate) struct FilterCheck {
    /// Its category, numbered in [`Checks::categories`] (`None`: any).
    pub category: Option<u32>,
    /// Anchors made only of membership terms come first.
    anchors: Vec<Vec<u32>>,
    /// How many anchors are made only of membership terms.
    lookups: usize,
}

impl FilterCheck {
    /// Add to `out` the events of `batch` that could pass this filter: in
    /// its category (`category`: its id in the batch, `None` for any) and
    /// satisfying every anchor used. The events are enumerated from the
    /// anchor that passes the fewest of them in this batch, and checked
    /// against the others. Glob and negated anchors are used only where the
    /// membership anchors leave many events, and then only over fields
    /// with few distinct texts (see [`FieldSlots::is_wide`]).
    pub fn select(
        &self,
        memo: &Memo<'_>,
        values: &BatchValues<'_, '_>,
        batch: &EventBatch,
        category: Option<u16>,
        out: &mut Vec<u32>,
    ) {
        let count = |a: usize| -> u64 {
            self.anchors[a]
                .iter()
                .map(|&t| u64::from(memo.count(values, t)))
                .sum()
        };
        let mut best = (0..self.lookups).map(|a| (count(a), a)).min();
        // Glob and negated anchors join the membership anchors (`used`)
        // only when those leave many events; with membership anchors to
        // fall back on, only over fields that are not wide, where they
        // would test about every event.
        let widen = best.is_none_or(|(n, _)| n as usize > batch.len() / NARROW_FURTHER);
        let fallback = best.is_some();
        let slots = values.slots();
        let worth = |a: &usize| {
            !fallback
                || self.anchors[*a]
                    .iter()
                    .all(|&t| !slots.is_wide(memo.slot(t)))
        };
        let widened = (self.lookups..self.anchors.len())
            .filter(|_| widen)
            .filter(worth);
        if widen {
            best = best
                .into_iter()
                .chain(widened.clone().map(|a| (count(a), a)))
                .min();
        }
        let Some((found, best)) = best else {
            return;
        };
        if found == 0 {
            return; // the rarest anchor passes no event
        }
        let used = (0..self.lookups).chain(widened);
        let mut events: Vec<u32> = Vec::new();
        for &t in &self.anchors[best] {
            events.extend_from_slice(memo.events(values, t));
        }
        if self.anchors[best].len() > 1 {
            events.sort_unstable();
            events.dedup();
        }
        // Every used anchor was counted above, so its terms' states and
        // fields exist: look them up once, not per event.
        let others: Vec<Vec<(&FieldValues<'_>, &Passes)>> = used
            .filter(|&a| a != best)
            .map(|a| {
                self.anchors[a]
                    .iter()
                    .map(|&t| (values.field(memo.slot(t)), memo.passes(values, t)))
                    .collect()
            })
            .collect();
        for ev in events {
            let in_category =
                category.is_none_or(|id| batch.category_ids(ev as usize).contains(&id));
            if in_category
                && others.iter().all(|terms| {
                    terms
                        .iter()
                        .any(|&(field, passes)| holds(field, passes, ev as usize))
                })
            {
                out.push(ev);
            }
        }
    }
}

/// Whether event `ev` satisfies a term that `passes` these ids of `field`:
/// some value of the field does (Elasticsearch's any-semantics for arrays);
/// null never does, a value that is not text may (a number can equal a
/// member's spelling; the predicate decides).
#[inline]
fn holds(field: &FieldValues<'_>, passes: &Passes, ev: usize) -> bool {
    field
        .of(ev)
        .iter()
        .any(|&id| id == NOT_TEXT || passes.get(id))
}

/// Which ids of a field's texts satisfy a term.
///
/// A membership term names a few keys, and most batches hold none or a
/// few of them: listing those ids, rather than a flag per distinct text,
/// keeps a term's state per batch from costing a pass over the field's
/// texts (and an allocation) for every term of the rule set.
enum Passes {
    /// A flag per id.
    Each(Vec<bool>),
    /// The ids listed (ascending) pass, and no other; or, when `pass` is
    /// false, every id but them.
    Listed { ids: Vec<u32>, pass: bool },
}

impl Passes {
    /// `ids` (ascending) pass, or with `pass` false every id but them, of a
    /// field with `distinct` texts. A long list becomes flags: events are
    /// checked against it one by one.
    fn listed(ids: Vec<u32>, pass: bool, distinct: usize) -> Passes {
        if ids.len() <= LISTED {
            return Passes::Listed { ids, pass };
        }
        let mut flags = vec![!pass; distinct];
        for id in ids {
            flags[id as usize] = pass;
        }
        Passes::Each(flags)
    }

    #[inline]
    fn get(&self, id: u32) -> bool {
        match self {
            Passes::Each(flags) => flags[id as usize],
            Passes::Listed { ids, pass } => ids.contains(&id) == *pass,
        }
    }

    /// Call `f` with each passing id of a field with `distinct` texts, in
    /// ascending order.
    fn each_passing(&self, distinct: usize, f: impl FnMut(u32)) {
        match self {
            Passes::Listed { ids, pass: true } => ids.iter().copied().for_each(f),
            _ => (0..distinct as u32).filter(|&id| self.get(id)).for_each(f),
        }
    }
}

/// The longest list of ids a [`Passes`] keeps as a list.
const LISTED: usize = 8;

impl TermCheck {
    /// Per id of the field's texts, whether the text satisfies the term.
    ///
    /// Arrays make this an over-approximation for negations: an event
    /// passes `NotIn`/`NotLike` when some value of its field fails the
    /// test, where the rule wants every value to fail. Case-insensitively,
    /// a non-ASCII text always passes a glob or negated term: evaluators
    /// fold such text in two ways (see [`crate::keys`]), and only keys are
    /// built for both.
    ///
    /// `screened`, for a glob term, lists the ids of the texts that hold one
    /// of its required literals: no other text can match it.
    ///
    /// `members`, for a membership term, are the ids of the texts having one
    /// of its keys when the batch's side looked them up (ascending).
    fn passes(
        &self,
        field: &FieldValues<'_>,
        screened: Option<&[u32]>,
        members: Option<Vec<u32>>,
    ) -> Passes {
        let uncertain = |text: &str| self.case_insensitive && !text.is_ascii();
        match self.kind {
            TermKind::In | TermKind::NotIn => {
                let mut ids = members.unwrap_or_else(|| {
                    let mut ids = Vec::new();
                    for key in &self.keys {
                        field.ids_with_key(key, self.case_insensitive, &mut ids);
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                });
                let pass = self.kind == TermKind::In;
                if !pass {
                    // An uncertain member passes the negation all the same.
                    ids.retain(|&id| !uncertain(field.texts[id as usize]));
                }
                Passes::listed(ids, pass, field.texts.len())
            }
            TermKind::Like | TermKind::NotLike => {
                let globs = self
                    .globs
                    .as_ref()
                    .expect("glob terms carry their patterns");
                let want = self.kind == TermKind::Like;
                if self.case_insensitive {
                    let test = |text: &str, folded: &str| {
                        uncertain(text) || globs.matches_with_folded(text, folded) == want
                    };
                    match screened {
                        // Unscreened texts match no pattern: they pass a
                        // `NotLike`, and a `Like` only when uncertain. So
                        // the texts a `Like` passes, or those a `NotLike`
                        // fails, are among the screened and uncertain ones.
                        Some(screened) => {
                            let keep = |id: &u32| {
                                let (text, folded) = field.text_folded(*id);
                                test(text, folded) == want
                            };
                            let mut ids: Vec<u32> = screened.iter().copied().filter(keep).collect();
                            if want {
                                ids.extend_from_slice(field.non_ascii());
                                ids.sort_unstable();
                                ids.dedup();
                            }
                            Passes::listed(ids, want, field.texts.len())
                        }
                        None => Passes::Each(
                            field
                                .texts_folded()
                                .map(|(text, folded)| test(text, folded))
                                .collect(),
                        ),
                    }
                } else {
                    Passes::Each(
                        field
                            .texts
                            .iter()
                            .map(|text| globs.matches(text) == want)
                            .collect(),
                    )
                }
            }
        }
    }
}

/// The rule set's distinct terms.
#[derive(Default)]
pub(crate) struct Checks {
    terms: Vec<TermCheck>,
    ids: AHashMap<(FieldId, TermKind, bool, Vec<String>), u32>,
    screens: Vec<LiteralScreen>,
    categories: Vec<String>,
    /// Per field slot, its membership terms' keys.
    tables: Vec<KeyTable>,
}

impl Checks {
    /// The check of one filter with these alternative anchors (all of one
    /// filter, so all of one category).
    pub fn filter(&mut self, alternatives: &[Anchor], slots: &mut FieldSlots) -> FilterCheck {
        let category = alternatives
            .iter()
            .flat_map(|a| &a.terms)
            .find_map(|t| t.category.as_deref())
            .map(|name| self.category(name));
        let lookup = |a: &&Anchor| a.terms.iter().all(|t| t.kind == TermKind::In);
        let (lookups, others): (Vec<&Anchor>, Vec<&Anchor>) = alternatives.iter().partition(lookup);
        let anchors = lookups
            .iter()
            .chain(&others)
            .map(|a| a.terms.iter().map(|t| self.term(t, slots)).collect())
            .collect();
        FilterCheck {
            category,
            anchors,
            lookups: lookups.len(),
        }
    }

    fn category(&mut self, name: &str) -> u32 {
        match self.categories.iter().position(|c| c == name) {
            Some(at) => at as u32,
            None => {
                self.categories.push(name.to_string());
                (self.categories.len() - 1) as u32
            }
        }
    }

    /// The categories filters require, numbered as [`FilterCheck`]s name them.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    fn term(&mut self, term: &Term, slots: &mut FieldSlots) -> u32 {
        let mut values = term.values.clone();
        values.sort_unstable();
        let key = (term.field, term.kind, term.case_insensitive, values);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let (mut keys, mut globs) = (Vec::new(), None);
        match term.kind {
            TermKind::In | TermKind::NotIn => {
                keys = term
                    .values
                    .iter()
                    .flat_map(|v| value_keys(v, term.case_insensitive))
                    .collect();
                keys.sort_unstable();
                keys.dedup();
            }
            TermKind::Like | TermKind::NotLike => {
                let patterns: Vec<&str> = term.values.iter().map(String::as_str).collect();
                globs = Some(GlobSet::new(&patterns, term.case_insensitive));
            }
        }
        self.terms.push(TermCheck {
            slot: slots.slot(term.field),
            kind: term.kind,
            case_insensitive: term.case_insensitive,
            keys,
            globs,
            screen: None,
        });
        let id = (self.terms.len() - 1) as u32;
        self.ids.insert(key, id);
        id
    }

    /// Make the per-field tables batches are checked against; call once
    /// every filter has been added.
    pub fn finish(&mut self) {
        self.table_keys();
        self.screen_literals();
    }

    /// Gather each field's membership keys in one [`KeyTable`].
    fn table_keys(&mut self) {
        let slots = self.terms.iter().map(|t| t.slot as usize + 1).max();
        self.tables = (0..slots.unwrap_or(0))
            .map(|_| KeyTable::default())
            .collect();
        for (id, check) in self.terms.iter().enumerate() {
            if matches!(check.kind, TermKind::In | TermKind::NotIn) {
                self.tables[check.slot as usize].add(id as u32, check);
            }
        }
    }

    /// Group the case-insensitive glob terms of each field under one
    /// [`LiteralScreen`].
    fn screen_literals(&mut self) {
        // Per field slot: its terms, each with its literals.
        type Literals = Vec<Vec<u8>>;
        let mut by_slot: AHashMap<u32, Vec<(u32, Literals)>> = AHashMap::new();
        for (id, term) in self.terms.iter().enumerate() {
            let Some(globs) = term.globs.as_ref().filter(|_| term.case_insensitive) else {
                continue;
            };
            if let Some(literals) = globs.required_literals() {
                by_slot
                    .entry(term.slot)
                    .or_default()
                    .push((id as u32, literals));
            }
        }
        let mut slots: Vec<_> = by_slot.into_iter().filter(|(_, t)| t.len() > 1).collect();
        slots.sort_unstable_by_key(|(slot, _)| *slot);
        for (slot, terms) in slots {
            // Each literal once, with every term that requires it: a match
            // then names all of them, whatever the automaton does with
            // duplicate patterns.
            let mut literals: Vec<&[u8]> = Vec::new();
            let mut terms_of: Vec<Vec<u32>> = Vec::new();
            let mut position: AHashMap<&[u8], usize> = AHashMap::new();
            for (id, required) in &terms {
                for literal in required {
                    let at = *position.entry(literal).or_insert_with(|| {
                        literals.push(literal);
                        terms_of.push(Vec::new());
                        literals.len() - 1
                    });
                    if terms_of[at].last() != Some(id) {
                        terms_of[at].push(*id);
                    }
                }
            }
            let Ok(searcher) = aho_corasick::AhoCorasick::new(&literals) else {
                continue; // too large: each term tests every text
            };
            let screen = self.screens.len() as u32;
            for (id, _) in &terms {
                self.terms[*id as usize].screen = Some(screen);
            }
            self.screens.push(LiteralScreen {
                slot,
                searcher,
                terms_of,
            });
        }
    }

    /// A fresh memo for one batch.
    pub fn memo(&self) -> Memo<'_> {
        Memo {
            terms: &self.terms,
            screens: &self.screens,
            tables: &self.tables,
            members: (0..self.tables.len()).map(|_| OnceLock::new()).collect(),
            state: (0..self.terms.len()).map(|_| OnceLock::new()).collect(),
            screened: (0..self.screens.len()).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// What one batch says about one term, worked out on first use.
struct TermState {
    /// Which ids of the field's texts satisfy the term.
    passes: Passes,
    /// How many values satisfy the term (an estimate of its events: an
    /// array may count twice), [`NOT_TEXT`] values included.
    count: u32,
    /// The events that satisfy it, once asked for.
    events: OnceLock<Vec<u32>>,
}

impl TermState {
    fn new(field: &FieldValues<'_>, passes: Passes) -> TermState {
        let freq = |ids: &[u32]| ids.iter().map(|&id| field.freq(id)).sum::<u32>();
        let count = match &passes {
            Passes::Listed { ids, pass: true } => freq(ids) + field.not_text,
            Passes::Listed { ids, pass: false } => field.values() - freq(ids),
            Passes::Each(flags) => {
                let passing = (0..flags.len() as u32).filter(|&id| flags[id as usize]);
                passing.map(|id| field.freq(id)).sum::<u32>() + field.not_text
            }
        };
        TermState {
            passes,
            count,
            events: OnceLock::new(),
        }
    }
}

/// Per batch: the state of every term used so far. The threads selecting
/// a batch's candidates share it: each part is worked out once, by the
/// first thread to ask, and the others wait for it rather than repeat it.
pub(crate) struct Memo<'a> {
    terms: &'a [TermCheck],
    screens: &'a [LiteralScreen],
    tables: &'a [KeyTable],
    /// Per field slot, once looked up: [`KeyTable::pairs`].
    members: Vec<OnceLock<Option<Vec<TermText>>>>,
    state: Vec<OnceLock<TermState>>,
    /// Per screen, once searched: per term, the ids of the texts holding
    /// one of its literals.
    screened: Vec<OnceLock<AHashMap<u32, Vec<u32>>>>,
}

impl Memo<'_> {
    fn slot(&self, term: u32) -> u32 {
        self.terms[term as usize].slot
    }

    /// Search screen `screen` over its field's texts, once per batch.
    fn screened(&self, values: &BatchValues<'_, '_>, screen: u32) -> &AHashMap<u32, Vec<u32>> {
        let found = &self.screens[screen as usize];
        self.screened[screen as usize].get_or_init(|| {
            let mut ids: AHashMap<u32, Vec<u32>> = AHashMap::new();
            for (id, (_, folded)) in values.field(found.slot).texts_folded().enumerate() {
                for m in found.searcher.find_overlapping_iter(folded) {
                    for &term in &found.terms_of[m.pattern().as_usize()] {
                        let list = ids.entry(term).or_default();
                        if list.last() != Some(&(id as u32)) {
                            list.push(id as u32);
                        }
                    }
                }
            }
            ids
        })
    }

    /// The ids of the texts of membership term `term`'s field that have
    /// one of its keys, ascending; `None` when its field is looked up key
    /// by key instead.
    fn members(&self, values: &BatchValues<'_, '_>, term: u32) -> Option<Vec<u32>> {
        let slot = self.terms[term as usize].slot as usize;
        let pairs = self.members[slot]
            .get_or_init(|| self.tables[slot].pairs(values.field(slot as u32)))
            .as_deref()?;
        let start = pairs.partition_point(|&(t, _)| t < term);
        let end = start + pairs[start..].partition_point(|&(t, _)| t == term);
        Some(pairs[start..end].iter().map(|&(_, id)| id).collect())
    }

    fn state(&self, values: &BatchValues<'_, '_>, term: u32) -> &TermState {
        self.state[term as usize].get_or_init(|| {
            let check = &self.terms[term as usize];
            let screened = check.screen.map(|screen| {
                self.screened(values, screen)
                    .get(&term)
                    .map_or(&[][..], Vec::as_slice)
            });
            let members = match check.kind {
                TermKind::In | TermKind::NotIn => self.members(values, term),
                TermKind::Like | TermKind::NotLike => None,
            };
            let field = values.field(check.slot);
            TermState::new(field, check.passes(field, screened, members))
        })
    }

    fn count(&self, values: &BatchValues<'_, '_>, term: u32) -> u32 {
        self.state(values, term).count
    }

    /// The events satisfying `term`, ascending.
    fn events(&self, values: &BatchValues<'_, '_>, term: u32) -> &[u32] {
        let slot = self.terms[term as usize].slot;
        let state = self.state(values, term);
        state.events.get_or_init(|| {
            let field = values.field(slot);
            let mut events = Vec::with_capacity(state.count as usize);
            let mut lists = 0;
            let mut add = |id: u32| {
                events.extend_from_slice(field.events_of(id));
                lists += 1;
            };
            state.passes.each_passing(field.texts.len(), &mut add);
            if field.not_text > 0 {
                add(NOT_TEXT);
            }
            if lists > 1 {
                events.sort_unstable();
                events.dedup();
            }
            events
        })
    }

    /// What a term's state says per id.
    fn passes(&self, values: &BatchValues<'_, '_>, term: u32) -> &Passes {
        &self.state(values, term).passes
    }
}
