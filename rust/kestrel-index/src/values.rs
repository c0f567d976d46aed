//! A batch's values of one field, dictionary-encoded: each distinct text
//! gets a small id, and each event the ids of its values.
//!
//! Indexing and narrowing ask the same questions of every event: is this
//! field's text one of these keys? A field such as `host.os.type` or
//! `event.action` has a handful of distinct values per batch, so asking per
//! distinct text and reading the answer by id per event replaces a fold and
//! a hash lookup per (term, event) with an array read. Building the
//! dictionary costs one hash per value, once per field per batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use ahash::AHashMap;
use hashbrown::HashTable;
use std::collections::hash_map::Entry;

use kestrel_event::bytes::prefetch;
use kestrel_event::{ColumnData, EventBatch, Span, Value};
use kestrel_schema::FieldId;

use crate::keys::lowered_key;
use kestrel_host::fold::fold_into;

/// The id of a value that is neither text nor null (a number, a boolean).
/// It can equal a string member's spelling, so every check lets it through.
pub(crate) const NOT_TEXT: u32 = u32::MAX;

pub(crate) struct FieldValues<'b> {
    /// Distinct texts, by id.
    pub texts: Vec<&'b str>,
    /// The same texts, found by their bytes.
    keys: TextKeys,
    /// Per id, how many values carry it.
    freq: Vec<u32>,
    /// How many values are [`NOT_TEXT`].
    pub not_text: u32,
    /// Event `ev`'s ids are `items[offsets[ev]..offsets[ev + 1]]`: none
    /// when null or absent, one for a scalar, one per element of an array.
    offsets: Vec<u32>,
    items: Vec<u32>,
    // The parts below are built on first use, by whichever thread selecting
    // a batch's candidates asks first (see `RuleIndex::candidates_by_filter_on`).
    /// The texts by case-insensitive lookup key.
    folded: OnceLock<FoldedKeys>,
    /// Every text case-folded, one after another.
    folded_texts: OnceLock<FoldedTexts>,
    /// Per id (and last, [`NOT_TEXT`]), its events, ascending and unique.
    postings: OnceLock<Postings>,
}

/// The distinct texts met while building a [`FieldValues`].
#[derive(Default)]
struct Dictionary<'b> {
    texts: Vec<&'b str>,
    keys: TextKeys,
    by_offset: AHashMap<u32, u32>,
    freq: Vec<u32>,
    not_text: u32,
}

impl<'b> Dictionary<'b> {
    #[inline]
    fn id(&mut self, batch: &'b EventBatch, span: Span, by_offset: bool) -> u32 {
        let id = if by_offset {
            match self.by_offset.entry(span.off) {
                Entry::Occupied(found) => *found.get(),
                Entry::Vacant(slot) => {
                    let text = batch.text(span);
                    let id = self.keys.id(text, || {
                        self.texts.push(text);
                        self.freq.push(0);
                    });
                    *slot.insert(id)
                }
            }
        } else {
            let text = batch.text(span);
            self.keys.id(text, || {
                self.texts.push(text);
                self.freq.push(0);
            })
        };
        self.freq[id as usize] += 1;
        id
    }

    fn into_values(self, offsets: Vec<u32>, items: Vec<u32>) -> FieldValues<'b> {
        let Dictionary {
            texts,
            keys,
            freq,
            not_text,
            ..
        } = self;
        FieldValues {
            texts,
            keys,
            freq,
            not_text,
            offsets,
            items,
            folded: OnceLock::new(),
            folded_texts: OnceLock::new(),
            postings: OnceLock::new(),
        }
    }
}

/// Texts one after another in one buffer: text `i` ends at `ends[i]`.
#[derive(Default)]
struct TextBuffer {
    all: String,
    ends: Vec<u32>,
}

impl TextBuffer {
    fn push(&mut self, text: &str) {
        self.all.push_str(text);
        self.ends.push(self.all.len() as u32);
    }

    #[inline]
    fn get(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.all[start as usize..self.ends[i] as usize]
    }
}

/// Distinct texts numbered in order of arrival, found by hash. Each is
/// copied into a buffer of the dictionary's own, so checking a candidate
/// reads memory written recently rather than the text's first occurrence,
/// far back in the batch's arena and long gone from the cache.
#[derive(Default)]
struct TextKeys {
    table: HashTable<u32>,
    copies: TextBuffer,
    hasher: ahash::RandomState,
}

impl TextKeys {
    /// The id of `text`; a new text gets the next id, and `added` is called.
    #[inline]
    fn id(&mut self, text: &str, added: impl FnOnce()) -> u32 {
        let hash = self.hasher.hash_one(text.as_bytes());
        let copies = &self.copies;
        if let Some(&id) = self.table.find(hash, |&id| copies.get(id) == text) {
            return id;
        }
        let id = self.copies.ends.len() as u32;
        self.copies.push(text);
        let (hasher, copies) = (&self.hasher, &self.copies);
        self.table
            .insert_unique(hash, id, |&id| hasher.hash_one(copies.get(id).as_bytes()));
        added();
        id
    }

    fn find(&self, text: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(text.as_bytes());
        self.table
            .find(hash, |&id| self.copies.get(id) == text)
            .copied()
    }
}

/// Texts case-folded, by id.
struct FoldedTexts {
    folds: TextBuffer,
    /// The ids of the texts that are not all ASCII, ascending.
    non_ascii: Vec<u32>,
}

impl FoldedTexts {
    #[inline]
    fn get(&self, id: u32) -> &str {
        self.folds.get(id)
    }
}

/// A field's texts by their case-insensitive lookup keys (see
/// [`crate::keys`]). Every text's first key is its fold, which
/// [`FoldedTexts`] already holds: the table keeps ids, compared through
/// those folds, so building it allocates nothing per text.
struct FoldedKeys {
    /// The first id of each distinct fold.
    table: HashTable<u32>,
    /// Per id, the next id with the same fold ([`END`] ends the list).
    next: Vec<u32>,
    /// Keys only `str::to_lowercase` gives (a few non-ASCII letters).
    lowered: AHashMap<String, Vec<u32>>,
    hasher: ahash::RandomState,
}

const END: u32 = u32::MAX;

struct Postings {
    offsets: Vec<u32>,
    events: Vec<u32>,
}

impl<'b> FieldValues<'b> {
    #[inline(never)] // shows up on its own in profiles
    pub fn build(batch: &'b EventBatch, field: FieldId) -> FieldValues<'b> {
        let events = batch.len();
        let mut dictionary = Dictionary::default();
        let mut offsets = Vec::with_capacity(events + 1);
        let mut items = Vec::with_capacity(events);
        offsets.push(0);
        let Some(column) = batch.column(field) else {
            offsets.resize(events + 1, 0);
            return dictionary.into_values(offsets, items);
        };
        // A deduplicated column's texts are identified by their offsets:
        // hashing those spares reading (and hashing) every string.
        let by_offset = column.is_deduplicated();
        let mut push = |value: &Value, items: &mut Vec<u32>| match *value {
            Value::Null => {}
            Value::Str(span) => items.push(dictionary.id(batch, span, by_offset)),
            _ => {
                dictionary.not_text += 1;
                items.push(NOT_TEXT);
            }
        };
        for ev in 0..events {
            // Texts of consecutive events lie far apart in the arena, past
            // what the hardware prefetcher follows: hashing each would wait
            // on memory, so ask for those a few events ahead.
            if !by_offset {
                if let Some(span) = first_span(column.data(), ev + AHEAD) {
                    prefetch(batch.span_bytes(span));
                }
            }
            if column.is_valid(ev) {
                match column.data() {
                    ColumnData::Str(spans) => push(&Value::Str(spans[ev]), &mut items),
                    ColumnData::List {
                        offsets,
                        items: elements,
                    } => {
                        for element in &elements[offsets[ev] as usize..offsets[ev + 1] as usize] {
                            push(element, &mut items);
                        }
                    }
                    _ => push(&Value::Bool(false), &mut items),
                }
            }
            offsets.push(items.len() as u32);
        }
        dictionary.into_values(offsets, items)
    }

    /// The ids of event `ev`'s values.
    #[inline]
    pub fn of(&self, ev: usize) -> &[u32] {
        &self.items[self.offsets[ev] as usize..self.offsets[ev + 1] as usize]
    }

    /// How many values the field has in the batch, texts or not.
    pub fn values(&self) -> u32 {
        self.items.len() as u32
    }

    /// How many values carry `id`.
    pub fn freq(&self, id: u32) -> u32 {
        self.freq[id as usize]
    }

    /// Add to `out` the ids of the texts that have lookup key `key` (see
    /// [`crate::keys`]): the text itself, or case-insensitively its folds.
    pub fn ids_with_key(&self, key: &str, case_insensitive: bool, out: &mut Vec<u32>) {
        if !case_insensitive {
            out.extend(self.keys.find(key));
            return;
        }
        let texts = self.folded_texts();
        let keys = self.folded.get_or_init(|| {
            let hasher = ahash::RandomState::new();
            let mut table: HashTable<u32> = HashTable::with_capacity(self.texts.len());
            let mut next = vec![END; self.texts.len()];
            for id in 0..self.texts.len() as u32 {
                let fold = texts.get(id);
                let hash = hasher.hash_one(fold.as_bytes());
                match table.find(hash, |&first| texts.get(first) == fold) {
                    // Order within a list does not matter: link after the first.
                    Some(&first) => {
                        next[id as usize] = next[first as usize];
                        next[first as usize] = id;
                    }
                    None => {
                        table.insert_unique(hash, id, |&other| {
                            hasher.hash_one(texts.get(other).as_bytes())
                        });
                    }
                }
            }
            let mut lowered: AHashMap<String, Vec<u32>> = AHashMap::new();
            for &id in &texts.non_ascii {
                if let Some(lower) = lowered_key(self.texts[id as usize], texts.get(id)) {
                    lowered.entry(lower).or_default().push(id);
                }
            }
            FoldedKeys {
                table,
                next,
                lowered,
                hasher,
            }
        });
        let hash = keys.hasher.hash_one(key.as_bytes());
        if let Some(&first) = keys.table.find(hash, |&id| texts.get(id) == key) {
            let mut id = first;
            while id != END {
                out.push(id);
                id = keys.next[id as usize];
            }
        }
        // Almost always empty (only some non-ASCII texts have such a key):
        // then the key need not be hashed a second time.
        if !keys.lowered.is_empty() {
            out.extend(keys.lowered.get(key).into_iter().flatten());
        }
    }

    /// Each text with its case-folded form, by id. The folds are made once
    /// per batch, however many terms of the rule set test this field.
    pub fn texts_folded(&self) -> impl Iterator<Item = (&str, &str)> {
        let folded = self.folded_texts();
        self.texts
            .iter()
            .zip(0..)
            .map(|(text, id)| (*text, folded.get(id)))
    }

    /// Text `id` and its case-folded form.
    pub fn text_folded(&self, id: u32) -> (&str, &str) {
        (self.texts[id as usize], self.folded_texts().get(id))
    }

    /// The ids of the texts that are not all ASCII, ascending.
    pub fn non_ascii(&self) -> &[u32] {
        &self.folded_texts().non_ascii
    }

    fn folded_texts(&self) -> &FoldedTexts {
        self.folded_texts.get_or_init(|| {
            let texts = &self.texts;
            let mut folds = TextBuffer {
                all: String::with_capacity(texts.iter().map(|t| t.len()).sum()),
                ends: Vec::with_capacity(texts.len()),
            };
            let mut non_ascii = Vec::new();
            let mut one = String::new();
            for (id, text) in texts.iter().enumerate() {
                fold_into(text, &mut one);
                folds.push(&one);
                if !text.is_ascii() {
                    non_ascii.push(id as u32);
                }
            }
            FoldedTexts { folds, non_ascii }
        })
    }

    /// The events carrying `id` ([`NOT_TEXT`] included), ascending.
    pub fn events_of(&self, id: u32) -> &[u32] {
        let slot = if id == NOT_TEXT {
            self.texts.len()
        } else {
            id as usize
        };
        let postings = self
            .postings
            .get_or_init(|| postings(&self.offsets, &self.items, self.texts.len()));
        &postings.events[postings.offsets[slot] as usize..postings.offsets[slot + 1] as usize]
    }
}

/// How many events ahead [`FieldValues::build`] asks for texts.
const AHEAD: usize = 8;

/// The span of event `ev`'s (first) text in `data`, if it has one there.
#[inline]
fn first_span(data: &ColumnData, ev: usize) -> Option<Span> {
    let value = match data {
        ColumnData::Str(spans) => return spans.get(ev).copied(),
        ColumnData::List { offsets, items } => items.get(*offsets.get(ev)? as usize)?,
        _ => return None,
    };
    match *value {
        Value::Str(span) => Some(span),
        _ => None,
    }
}

/// Events by id, by counting sort; an event listing an id twice (an array
/// with a repeated element) is kept once.
fn postings(offsets: &[u32], items: &[u32], distinct: usize) -> Postings {
    let slot = |id: u32| {
        if id == NOT_TEXT {
            distinct
        } else {
            id as usize
        }
    };
    let mut starts = vec![0u32; distinct + 2];
    for &id in items {
        starts[slot(id) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut events = vec![0u32; items.len()];
    for ev in 0..offsets.len() - 1 {
        for &id in &items[offsets[ev] as usize..offsets[ev + 1] as usize] {
            let at = &mut next[slot(id)];
            if *at > starts[slot(id)] && events[*at as usize - 1] == ev as u32 {
                continue;
            }
            events[*at as usize] = ev as u32;
            *at += 1;
        }
    }
    // Repeats left gaps at the ends of their lists: close them up.
    let mut compact = Vec::with_capacity(events.len());
    let mut offsets_out = Vec::with_capacity(starts.len());
    offsets_out.push(0);
    for s in 0..starts.len() - 1 {
        compact.extend_from_slice(&events[starts[s] as usize..next[s] as usize]);
        offsets_out.push(compact.len() as u32);
    }
    Postings {
        offsets: offsets_out,
        events: compact,
    }
}

/// The fields the index reads, numbered densely, so a batch's dictionaries
/// are found by array index rather than by hashing a FieldId per lookup.
#[derive(Default)]
pub(crate) struct FieldSlots {
    fields: Vec<FieldId>,
    /// Per field, whether its last large dictionary had many distinct texts
    /// for its values (see [`WIDE`]): learned from the stream, read when
    /// deciding whether testing each distinct text is worth it.
    wide: Vec<AtomicBool>,
}

/// A field is wide when more than one value in `WIDE` is a distinct text
/// (command lines, paths): testing each distinct text then costs about as
/// much as testing each event.
const WIDE: usize = 4;

/// Dictionaries of fewer values than this say too little to learn from.
const LEARN_FROM: usize = 256;

impl FieldSlots {
    pub fn slot(&mut self, field: FieldId) -> u32 {
        match self.fields.iter().position(|&f| f == field) {
            Some(at) => at as u32,
            None => {
                self.fields.push(field);
                self.wide.push(AtomicBool::new(false));
                (self.fields.len() - 1) as u32
            }
        }
    }

    /// Whether field `slot` looked wide in the last batch that showed it.
    pub fn is_wide(&self, slot: u32) -> bool {
        self.wide[slot as usize].load(Ordering::Relaxed)
    }

    fn learn(&self, slot: u32, values: &FieldValues<'_>) {
        if values.items.len() >= LEARN_FROM {
            let wide = values.texts.len() * WIDE > values.items.len();
            self.wide[slot as usize].store(wide, Ordering::Relaxed);
        }
    }
}

/// The dictionaries of one batch, built on first use, by field slot. The
/// threads selecting a batch's candidates share them: each is built once,
/// by the first thread to ask.
pub(crate) struct BatchValues<'b, 's> {
    batch: &'b EventBatch,
    slots: &'s FieldSlots,
    fields: Vec<OnceLock<FieldValues<'b>>>,
}

impl<'b, 's> BatchValues<'b, 's> {
    pub fn new(batch: &'b EventBatch, slots: &'s FieldSlots) -> BatchValues<'b, 's> {
        let fields = slots.fields.iter().map(|_| OnceLock::new()).collect();
        BatchValues {
            batch,
            slots,
            fields,
        }
    }

    #[inline]
    pub fn field(&self, slot: u32) -> &FieldValues<'b> {
        let (batch, slots) = (self.batch, self.slots);
        self.fields[slot as usize].get_or_init(|| {
            let values = FieldValues::build(batch, slots.fields[slot as usize]);
            slots.learn(slot, &values);
            values
        })
    }

    pub fn slots(&self) -> &'s FieldSlots {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_event::{DecodeOptions, Decoder, SourceInfo};
    use kestrel_schema::{FieldType, ScalarType, Schema};

    #[test]
    fn events_share_ids_for_equal_texts_and_arrays_get_one_per_element() {
        let schema = Schema::new("test", "1");
        let name = schema.declare("name", FieldType::scalar(ScalarType::String));
        let tags = schema.declare("tags", FieldType::array_of(ScalarType::String));
        let pid = schema.declare("pid", FieldType::scalar(ScalarType::I64));
        let input = br#"{"name":"a","tags":["x","y"]}
{"name":"b","tags":[]}
{"name":"a"}
{"name":"b","pid":5,"tags":["y",null]}
"#;
        let batch =
            Decoder::new(schema, DecodeOptions::default()).decode(input, &SourceInfo::default());
        let names = FieldValues::build(&batch, name);
        assert_eq!(names.texts, ["a", "b"]);
        assert_eq!(
            [names.of(0), names.of(1), names.of(2), names.of(3)],
            [&[0][..], &[1], &[0], &[1]]
        );
        let pids = FieldValues::build(&batch, pid);
        assert_eq!([pids.of(0), pids.of(3)], [&[][..], &[NOT_TEXT]]);
        let tags = FieldValues::build(&batch, tags);
        assert_eq!(tags.texts, ["x", "y"]);
        assert_eq!(
            [tags.of(0), tags.of(1), tags.of(2), tags.of(3)],
            [&[0, 1][..], &[], &[], &[1]]
        );
        assert_eq!(names.events_of(0), [0, 2]);
        assert_eq!(names.events_of(1), [1, 3]);
        let mut found = Vec::new();
        names.ids_with_key("A", false, &mut found);
        assert!(found.is_empty());
        names.ids_with_key("b", true, &mut found);
        assert_eq!((found, names.freq(1)), (vec![1], 2));
    }

    #[test]
    fn case_insensitive_keys_find_every_text_that_folds_to_them() {
        let schema = Schema::new("test", "1");
        let name = schema.declare("name", FieldType::scalar(ScalarType::String));
        let input = r#"{"name":"CMD.exe"}
{"name":"x"}
{"name":"cmd.EXE"}
{"name":"\u0130"}
{"name":"i"}
{"name":"Cmd.exe"}
"#;
        let batch = Decoder::new(schema, DecodeOptions::default())
            .decode(input.as_bytes(), &SourceInfo::default());
        let names = FieldValues::build(&batch, name);
        let ids = |key: &str| {
            let mut found = Vec::new();
            names.ids_with_key(key, true, &mut found);
            found.sort_unstable();
            found
        };
        assert_eq!(ids("cmd.exe"), [0, 2, 5]);
        assert_eq!(ids("CMD.exe"), Vec::<u32>::new(), "keys come folded");
        // The host folds İ to i; the IR lowercases it to i and a combining dot.
        assert_eq!(ids("i"), [3, 4]);
        assert_eq!(ids("i\u{307}"), [3]);
        assert_eq!(names.non_ascii(), [3]);
        assert_eq!(names.text_folded(2), ("cmd.EXE", "cmd.exe"));
    }

    #[test]
    fn postings_keep_an_event_once_per_id() {
        // Events 0 and 2 repeat id 0 inside an array; event 1 is not text.
        let offsets = [0, 3, 4, 6];
        let items = [0, 1, 0, NOT_TEXT, 0, 0];
        let p = postings(&offsets, &items, 2);
        let list = |s: usize| &p.events[p.offsets[s] as usize..p.offsets[s + 1] as usize];
        assert_eq!(
            (list(0), list(1), list(2)),
            (&[0, 2][..], &[0][..], &[1][..])
        );
    }
}
