//! Leaves the core evaluates for a whole batch before a module's list loop runs.
//!
//! A host call from Wasm costs more than the cheap leaves it answers (an
//! integer compare, a short string equality). A module may therefore
//! declare, in a table in its own memory, leaves that are plain Host API
//! calls with constant arguments. Before `pred_eval_list` (or
//! `pred_eval_candidates`) the core evaluates the filter's first test (the
//! leaf its code evaluates for every event) over the offered events, writes
//! each event's three-valued result as one byte into the module's memory,
//! and tells the module where; the module then reads a byte where it would
//! have called the host. Later leaves stay host calls, so the module's
//! `and`/`or` still skip them where an earlier operand settles the answer.
//! On a column whose equal texts share storage, a costly test is answered
//! once per distinct text.
//!
//! Each leaf is computed by [`Leaf::eval`], the very function the matching
//! import calls, so a result never depends on which path produced it.
//! A table is only a request: the core reads it bounds-checked, evaluates
//! nothing an import could not, and writes only into the module's memory.
//!
//! Table layout, little-endian, at the address the exported global
//! `pred_leaves` holds:
//!
//! ```text
//! u32 count
//! u32 slots     address of `count` u32s the core fills before the loop:
//!               where leaf i's bytes are, or 0 (call the host instead)
//! count × { u32 kind, u32 filter, i32 field, i32 a, i32 b, u32 flags, i64 rhs }
//! ```
//!
//! `filter` is the filter whose code reads the leaf: only its leaves are
//! evaluated for a call on that filter. Flag bit 0 says the filter's code
//! evaluates the leaf for every event it is offered (its first test), so
//! evaluating it ahead costs no short-circuit, whatever its price.
//!
//! Leaf i's byte for event `ev` is at `slots[i] + ev`: 1 true, 0 false,
//! -1 null. `kind` is an index into [`LEAF_KINDS`]; `a`, `b` and `rhs` are
//! the import's arguments after `(ev, field)`, in order (`rhs` carries the
//! bits of an f64 for `cmp_f64`).

use kestrel_event::bytes::prefetch;
use kestrel_event::{Column, ColumnData, EventBatch, ValueRef};
use kestrel_host::ops::{self, cmp_f64, cmp_i64, cmp_i64_value, Tri, NULL};
use kestrel_schema::FieldId;

use crate::host::HostState;

/// The imports a leaf may stand for, by kind code (the index): the one
/// list generated modules and the core agree on.
pub const LEAF_KINDS: &[&str] = &[
    "event_is_null",
    "cmp_i64",
    "cmp_f64",
    "str_eq",
    "str_contains",
    "str_starts_with",
    "str_ends_with",
    "glob_match_field",
    "re_match_field",
    "set_contains",
];

/// Bytes of one table entry.
pub const ENTRY_BYTES: usize = 32;
/// More leaves than this and the table is ignored: the module still works,
/// through its host calls.
pub const MAX_LEAVES: usize = 4096;

/// One leaf: an import and its constant arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Leaf {
    IsNull,
    CmpI64 { op: i32, rhs: i64 },
    CmpF64 { op: i32, rhs: f64 },
    StrEq { lit: i32, ci: bool },
    StrContains { lit: i32, ci: bool },
    StrStartsWith { lit: i32, ci: bool },
    StrEndsWith { lit: i32, ci: bool },
    Glob(i32),
    Regex(i32),
    Set(i32),
}

impl Leaf {
    fn decode(kind: u32, a: i32, b: i32, rhs: i64) -> Option<Leaf> {
        let ci = b != 0;
        Some(match kind {
            0 => Leaf::IsNull,
            1 => Leaf::CmpI64 { op: a, rhs },
            2 => Leaf::CmpF64 {
                op: a,
                rhs: f64::from_bits(rhs as u64),
            },
            3 => Leaf::StrEq { lit: a, ci },
            4 => Leaf::StrContains { lit: a, ci },
            5 => Leaf::StrStartsWith { lit: a, ci },
            6 => Leaf::StrEndsWith { lit: a, ci },
            7 => Leaf::Glob(a),
            8 => Leaf::Regex(a),
            9 => Leaf::Set(a),
            _ => return None,
        })
    }

    /// This leaf for event `ev` of `batch` on schema field `field`: what the
    /// import of the same name returns.
    pub(crate) fn eval(&self, s: &HostState, batch: &EventBatch, ev: usize, field: FieldId) -> Tri {
        let k = &s.ctx.constants;
        let literal = |id: i32| usize::try_from(id).ok().and_then(|i| k.literals.get(i));
        match *self {
            Leaf::IsNull => ops::event_is_null(batch, ev, field) as Tri,
            Leaf::CmpI64 { op, rhs } => cmp_i64(batch, ev, field, op, rhs),
            Leaf::CmpF64 { op, rhs } => cmp_f64(batch, ev, field, op, rhs),
            Leaf::StrEq { lit, ci } => {
                literal(lit).map_or(NULL, |l| ops::str_eq(batch, ev, field, l, ci))
            }
            Leaf::StrContains { lit, ci } => {
                literal(lit).map_or(NULL, |l| ops::str_contains(batch, ev, field, l, ci))
            }
            Leaf::StrStartsWith { lit, ci } => {
                literal(lit).map_or(NULL, |l| ops::str_starts_with(batch, ev, field, l, ci))
            }
            Leaf::StrEndsWith { lit, ci } => {
                literal(lit).map_or(NULL, |l| ops::str_ends_with(batch, ev, field, l, ci))
            }
            Leaf::Glob(id) => usize::try_from(id)
                .ok()
                .and_then(|i| k.globs.get(i))
                .map_or(NULL, |g| ops::glob_match_field(batch, ev, field, g)),
            Leaf::Regex(id) => usize::try_from(id)
                .ok()
                .and_then(|i| k.regexes.get(i))
                .map_or(NULL, |r| ops::re_match_field(batch, ev, field, r)),
            Leaf::Set(id) => usize::try_from(id)
                .ok()
                .and_then(|i| k.sets.get(i))
                .map_or(NULL, |set| ops::set_contains(batch, ev, field, set)),
        }
    }

    /// Whether a test of this kind costs little per event whatever the text,
    /// so that remembering answers per distinct text would cost more than
    /// it saves.
    fn cheap(&self) -> bool {
        matches!(
            self,
            Leaf::IsNull
                | Leaf::CmpI64 { .. }
                | Leaf::CmpF64 { .. }
                | Leaf::StrEq { .. }
                | Leaf::StrStartsWith { ci: false, .. }
                | Leaf::StrEndsWith { ci: false, .. }
        )
    }
}

/// One entry of a module's table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeclaredLeaf {
    pub filter: u32,
    /// The module's local field id.
    pub field: i32,
    pub leaf: Leaf,
    /// The filter tests this leaf first, on every event.
    pub always: bool,
}

/// A module's declared leaves, read once per instance.
#[derive(Clone, Debug, Default)]
pub struct LeafTable {
    /// Address of the slot array in the module's memory.
    pub slots: usize,
    pub leaves: Vec<DeclaredLeaf>,
}

impl LeafTable {
    /// Read the table at `at` in `memory`; None when it is malformed, too
    /// large or outside the memory (the module then runs on host calls).
    pub fn read(memory: &[u8], at: usize) -> Option<LeafTable> {
        let u32_at = |p: usize| -> Option<u32> {
            let b = memory.get(p..p.checked_add(4)?)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let count = u32_at(at)? as usize;
        let slots = u32_at(at.checked_add(4)?)? as usize;
        if count > MAX_LEAVES {
            return None;
        }
        memory.get(slots..slots.checked_add(count * 4)?)?;
        let entries = at.checked_add(8)?;
        let mut leaves = Vec::with_capacity(count);
        for i in 0..count {
            let e = entries + i * ENTRY_BYTES;
            let b = memory.get(e..e + ENTRY_BYTES)?;
            let word = |o: usize| i32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
            let rhs = i64::from_le_bytes(b[24..32].try_into().ok()?);
            leaves.push(DeclaredLeaf {
                filter: word(4) as u32,
                field: word(8),
                leaf: Leaf::decode(word(0) as u32, word(12), word(16), rhs)?,
                always: word(20) & 1 == 1,
            });
        }
        Some(LeafTable { slots, leaves })
    }
}

/// Whether the core should evaluate `declared` ahead. Only a filter's first
/// test: the filter evaluates it for every event anyway, so computing it
/// ahead saves the calls and never costs an `and`/`or` the operands it
/// would have skipped (a rule of many cheap tests would pay for them all).
pub(crate) fn worth_evaluating(declared: &DeclaredLeaf) -> bool {
    declared.always
}

/// Write `leaf`'s result for each of `events` at `out[ev]`.
pub(crate) fn fill(
    s: &HostState,
    batch: &EventBatch,
    field: FieldId,
    leaf: &Leaf,
    events: &[u32],
    out: &mut [u8],
) {
    let put = |out: &mut [u8], ev: u32, t: Tri| out[ev as usize] = t as i8 as u8;
    let Some(column) = batch.column(field) else {
        return fill_each(s, batch, field, leaf, events, out);
    };
    match (column.data(), leaf) {
        // The common numeric leaf over a plain integer column: no value
        // views, no calls; the same answers as `cmp_i64_value`.
        (ColumnData::I64(values), &Leaf::CmpI64 { op, rhs }) => {
            // One loop per operator, so the compare is not a branch on `op`
            // per event; each is `cmp_i64_value` on an I64.
            match op {
                0 => fill_i64(column, values, events, out, |x| x == rhs),
                1 => fill_i64(column, values, events, out, |x| x != rhs),
                2 => fill_i64(column, values, events, out, |x| x < rhs),
                3 => fill_i64(column, values, events, out, |x| x <= rhs),
                4 => fill_i64(column, values, events, out, |x| x > rhs),
                5 => fill_i64(column, values, events, out, |x| x >= rhs),
                _ => fill_i64(column, values, events, out, |x| {
                    cmp_i64_value(ValueRef::I64(x), op, rhs) == 1
                }),
            }
        }
        (ColumnData::Str(spans), &Leaf::StrEq { lit, ci }) => {
            let Some(literal) = usize::try_from(lit)
                .ok()
                .and_then(|i| s.ctx.constants.literals.get(i))
            else {
                return fill_each(s, batch, field, leaf, events, out);
            };
            // `ops::str_eq`'s fast path without finding the column again per
            // event; in a deduplicated column a run of one value is answered once.
            let mut last: Option<(u32, Tri)> = None;
            for &ev in events {
                let e = ev as usize;
                let span = spans[e];
                let t = match last {
                    _ if !column.is_valid(e) => NULL,
                    Some((off, t)) if off == span.off && column.is_deduplicated() => t,
                    _ => match ops::str_eq_ascii_span(batch, span, literal, ci) {
                        Some(t) => {
                            last = Some((span.off, t));
                            t
                        }
                        None => leaf.eval(s, batch, e, field),
                    },
                };
                put(out, ev, t);
            }
        }
        (ColumnData::Str(spans), _) if column.is_deduplicated() && !leaf.cheap() => {
            // One answer per distinct text: in a deduplicated column a
            // text's offset is its identity.
            let mut seen: ahash::AHashMap<u32, Tri> = ahash::AHashMap::new();
            for &ev in events {
                let e = ev as usize;
                let t = if column.is_valid(e) {
                    *seen
                        .entry(spans[e].off)
                        .or_insert_with(|| leaf.eval(s, batch, e, field))
                } else {
                    leaf.eval(s, batch, e, field)
                };
                put(out, ev, t);
            }
        }
        (ColumnData::Str(spans), _) => {
            // Texts of consecutive events lie far apart in the arena, past
            // what the hardware prefetcher follows: ask for the ones a few
            // events ahead while this one is tested.
            const AHEAD: usize = 8;
            for (i, &ev) in events.iter().enumerate() {
                if let Some(&next) = events.get(i + AHEAD) {
                    prefetch(batch.span_bytes(spans[next as usize]));
                }
                put(out, ev, leaf.eval(s, batch, ev as usize, field));
            }
        }
        _ => fill_each(s, batch, field, leaf, events, out),
    }
}

fn fill_each(
    s: &HostState,
    batch: &EventBatch,
    field: FieldId,
    leaf: &Leaf,
    events: &[u32],
    out: &mut [u8],
) {
    for &ev in events {
        out[ev as usize] = leaf.eval(s, batch, ev as usize, field) as i8 as u8;
    }
}

fn fill_i64(
    column: &Column,
    values: &[i64],
    events: &[u32],
    out: &mut [u8],
    test: impl Fn(i64) -> bool,
) {
    for &ev in events {
        let e = ev as usize;
        out[e] = if column.is_valid(e) {
            test(values[e]) as u8
        } else {
            NULL as i8 as u8
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: u32, filter: u32, field: i32, a: i32, b: i32, rhs: i64) -> Vec<u8> {
        let mut e = Vec::new();
        for w in [kind, filter, field as u32, a as u32, b as u32, filter % 2] {
            e.extend(w.to_le_bytes());
        }
        e.extend(rhs.to_le_bytes());
        e
    }

    /// Memory with the slots at 16 and the table at 32.
    fn memory(count: u32, slots: u32, entries: &[Vec<u8>]) -> Vec<u8> {
        let mut m = vec![0u8; 32];
        m.extend(count.to_le_bytes());
        m.extend(slots.to_le_bytes());
        for e in entries {
            m.extend(e);
        }
        m.resize(m.len() + 64, 0);
        m
    }

    #[test]
    fn a_well_formed_table_is_read_entry_by_entry() {
        let m = memory(
            2,
            16,
            &[
                entry(1, 0, 3, 4, 0, -1000),
                entry(2, 1, 5, 2, 0, 1.5f64.to_bits() as i64),
            ],
        );
        let table = LeafTable::read(&m, 32).expect("a table");
        assert_eq!(table.slots, 16);
        assert_eq!(
            table.leaves,
            vec![
                DeclaredLeaf {
                    filter: 0,
                    field: 3,
                    leaf: Leaf::CmpI64 { op: 4, rhs: -1000 },
                    always: false
                },
                DeclaredLeaf {
                    filter: 1,
                    field: 5,
                    leaf: Leaf::CmpF64 { op: 2, rhs: 1.5 },
                    always: true
                },
            ]
        );
    }

    #[test]
    fn the_kind_codes_follow_the_declared_list() {
        let names: Vec<&str> = (0..LEAF_KINDS.len() as u32)
            .map(|k| {
                let leaf = Leaf::decode(k, 0, 0, 0).expect("every declared kind decodes");
                match leaf {
                    Leaf::IsNull => "event_is_null",
                    Leaf::CmpI64 { .. } => "cmp_i64",
                    Leaf::CmpF64 { .. } => "cmp_f64",
                    Leaf::StrEq { .. } => "str_eq",
                    Leaf::StrContains { .. } => "str_contains",
                    Leaf::StrStartsWith { .. } => "str_starts_with",
                    Leaf::StrEndsWith { .. } => "str_ends_with",
                    Leaf::Glob(_) => "glob_match_field",
                    Leaf::Regex(_) => "re_match_field",
                    Leaf::Set(_) => "set_contains",
                }
            })
            .collect();
        assert_eq!(names, LEAF_KINDS);
        assert!(Leaf::decode(LEAF_KINDS.len() as u32, 0, 0, 0).is_none());
    }

    #[test]
    fn a_malformed_table_is_ignored() {
        let good = entry(1, 0, 1, 4, 0, 0);
        // Unknown kind.
        assert!(LeafTable::read(&memory(1, 16, &[entry(99, 0, 1, 0, 0, 0)]), 32).is_none());
        // More entries than the memory holds.
        assert!(LeafTable::read(&memory(1000, 16, std::slice::from_ref(&good)), 32).is_none());
        // More than the cap.
        assert!(LeafTable::read(
            &memory(MAX_LEAVES as u32 + 1, 16, std::slice::from_ref(&good)),
            32
        )
        .is_none());
        // Slots outside the memory, or wrapping the address space.
        assert!(LeafTable::read(&memory(1, 1 << 30, std::slice::from_ref(&good)), 32).is_none());
        assert!(
            LeafTable::read(&memory(1, u32::MAX - 1, std::slice::from_ref(&good)), 32).is_none()
        );
        // The table itself outside the memory.
        assert!(LeafTable::read(&memory(1, 16, &[good]), usize::MAX - 2).is_none());
    }
}
