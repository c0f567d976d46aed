//! Host API v1 served to Wasm modules: the `"kestrel"` imports.
//!
//! Each import is a closure over the store's [`HostState`], which points at
//! the batch under evaluation. Field ids arriving from a module are local to
//! its package and are mapped to schema FieldIds here, so a package runs
//! against any schema that has its fields.

use kestrel_event::EventBatch;
use kestrel_host::ops::{self, Tri, NULL};
use kestrel_host::{GlobSet, HostContext, RuleConstants};
use kestrel_schema::FieldId;
use wasmtime::{Caller, Extern, Linker, StoreLimits};

use crate::leaves::Leaf;

/// Raw pointer to the batch being evaluated; set for the duration of one
/// evaluation call only.
#[derive(Clone, Copy)]
pub(crate) struct BatchPtr(*const EventBatch);

// SAFETY: the pointer is only dereferenced inside an evaluation call, on the
// thread that set it, while the caller holds a borrow of the batch.
unsafe impl Send for BatchPtr {}

pub struct HostState {
    pub(crate) batch: BatchPtr,
    pub(crate) ctx: HostContext,
    /// Local field id → schema FieldId. Empty means ids are schema ids.
    pub(crate) field_map: Vec<FieldId>,
    /// Local ids of the package's field table, by path (for `field_id`).
    pub(crate) field_paths: Vec<String>,
    pub(crate) limits: StoreLimits,
    /// Fields reported by `pred_capture` for the current event.
    pub(crate) captured: Vec<FieldId>,
    /// Events passed to `alert_emit`.
    pub(crate) alerts: Vec<u32>,
    /// `(filter, event)` pairs reported by `match_emit`.
    pub(crate) matches: Vec<u32>,
    /// An emit named an event outside the batch, or more emits came than
    /// the batch has events: the module's results cannot be trusted.
    pub(crate) bad_emit: Option<String>,
}

impl HostState {
    pub fn new(
        ctx: HostContext,
        field_map: Vec<FieldId>,
        field_paths: Vec<String>,
        limits: StoreLimits,
    ) -> Self {
        HostState {
            batch: BatchPtr(std::ptr::null()),
            ctx,
            field_map,
            field_paths,
            limits,
            captured: Vec::new(),
            alerts: Vec::new(),
            matches: Vec::new(),
            bad_emit: None,
        }
    }

    /// Record one emitted event for `buffer` (`alerts` or `matches`), or
    /// note why the module's emits are refused. A buffer never holds more
    /// than one entry per event of the batch, so a flood costs no memory.
    fn emit(&mut self, ev: i32, to_alerts: bool) -> bool {
        let len = self.batch().map_or(0, EventBatch::len);
        let held = if to_alerts {
            self.alerts.len()
        } else {
            self.matches.len()
        };
        let problem = match usize::try_from(ev) {
            Ok(e) if e >= len => Some(format!("emitted event {ev}, outside the batch of {len}")),
            Err(_) => Some(format!("emitted event {ev}, outside the batch of {len}")),
            Ok(_) if held >= len => Some(format!(
                "emitted more results than the batch's {len} events"
            )),
            Ok(_) => None,
        };
        match problem {
            Some(message) => {
                self.bad_emit.get_or_insert(message);
                false
            }
            None => {
                let buffer = if to_alerts {
                    &mut self.alerts
                } else {
                    &mut self.matches
                };
                buffer.push(ev as u32);
                true
            }
        }
    }

    pub(crate) fn set_batch(&mut self, batch: Option<&EventBatch>) {
        self.batch = BatchPtr(batch.map_or(std::ptr::null(), |b| b as *const _));
    }

    #[inline]
    pub(crate) fn batch(&self) -> Option<&EventBatch> {
        // SAFETY: see `BatchPtr`.
        unsafe { self.batch.0.as_ref() }
    }

    #[inline]
    pub(crate) fn field(&self, local: i32) -> Option<FieldId> {
        if self.field_map.is_empty() {
            return u32::try_from(local).ok();
        }
        self.field_map.get(usize::try_from(local).ok()?).copied()
    }

    /// A leaf's answer for event `ev` and local field `field`, as its
    /// import gives it: null when the event or the field is not valid.
    #[inline]
    pub(crate) fn leaf(&self, ev: i32, field: i32, leaf: &Leaf) -> Tri {
        self.at(ev, field)
            .map_or(NULL, |(b, ev, f)| leaf.eval(self, b, ev, f))
    }

    /// The batch, the event index and the schema field, when all are valid.
    #[inline]
    fn at(&self, ev: i32, field: i32) -> Option<(&EventBatch, usize, FieldId)> {
        let batch = self.batch()?;
        let ev = usize::try_from(ev).ok().filter(|&e| e < batch.len())?;
        Some((batch, ev, self.field(field)?))
    }
}

type C<'a> = Caller<'a, HostState>;

/// Read `len` bytes of guest memory at `ptr` as UTF-8.
fn guest_text(caller: &mut C<'_>, ptr: i32, len: i32) -> Option<String> {
    let Some(Extern::Memory(mem)) = caller.get_export("memory") else {
        return None;
    };
    let (start, len) = (usize::try_from(ptr).ok()?, usize::try_from(len).ok()?);
    let bytes = mem.data(&caller).get(start..start.checked_add(len)?)?;
    String::from_utf8(bytes.to_vec()).ok()
}

/// Whether the guest text at `(ptr, len)` matches the rule's constant
/// matcher `id` (a glob set, a regex); null for a bad id or text.
fn constant_matches<T>(
    c: &mut C<'_>,
    id: i32,
    (ptr, len): (i32, i32),
    table: impl Fn(&RuleConstants) -> &[T],
    matches: impl Fn(&T, &str) -> bool,
) -> i32 {
    let Some(text) = guest_text(c, ptr, len) else {
        return NULL;
    };
    usize::try_from(id)
        .ok()
        .and_then(|i| table(&c.data().ctx.constants).get(i))
        .map_or(NULL, |m| matches(m, &text) as Tri)
}

fn glob_match(mut c: C<'_>, id: i32, ptr: i32, len: i32) -> i32 {
    constant_matches(&mut c, id, (ptr, len), |k| &k.globs, GlobSet::matches)
}

fn re_match(mut c: C<'_>, id: i32, ptr: i32, len: i32) -> i32 {
    constant_matches(&mut c, id, (ptr, len), |k| &k.regexes, |r, t| r.is_match(t))
}

/// Every `"kestrel"` import a module may use, with its signature as
/// `rules/README.md` documents it: the one list of the Wasm side of Host
/// API v1. A test checks [`define_imports`] against it, names and types,
/// and `kestrel._core.wasm_imports()` hands it to the documentation test.
pub const WASM_IMPORTS: &[(&str, &str)] = &[
    ("event_get_i64", "(ev i32, field i32) -> i64"),
    ("event_get_u64", "(ev i32, field i32) -> i64"),
    ("event_get_f64", "(ev i32, field i32) -> f64"),
    ("event_get_bool", "(ev i32, field i32) -> i32"),
    ("event_is_null", "(ev i32, field i32) -> i32"),
    (
        "event_get_str",
        "(ev i32, field i32, buf i32, cap i32) -> i32",
    ),
    ("cmp_i64", "(ev i32, field i32, op i32, rhs i64) -> i32"),
    ("cmp_f64", "(ev i32, field i32, op i32, rhs f64) -> i32"),
    ("category_is", "(ev i32, lit i32) -> i32"),
    ("str_eq", "(ev i32, field i32, lit i32, ci i32) -> i32"),
    (
        "str_contains",
        "(ev i32, field i32, lit i32, ci i32) -> i32",
    ),
    (
        "str_starts_with",
        "(ev i32, field i32, lit i32, ci i32) -> i32",
    ),
    (
        "str_ends_with",
        "(ev i32, field i32, lit i32, ci i32) -> i32",
    ),
    ("glob_match_field", "(ev i32, field i32, glob i32) -> i32"),
    ("re_match_field", "(ev i32, field i32, re i32) -> i32"),
    ("set_contains", "(ev i32, field i32, set i32) -> i32"),
    ("eval_node", "(ev i32, node i32) -> i32"),
    ("glob_match", "(glob i32, ptr i32, len i32) -> i32"),
    ("re_match", "(re i32, ptr i32, len i32) -> i32"),
    ("field_id", "(ptr i32, len i32) -> i32"),
    ("capture_field", "(ev i32, field i32)"),
    ("alert_emit", "(ev i32) -> i32"),
    ("match_emit", "(filter i32, ev i32)"),
];

/// Register every Host API v1 import on `linker`.
pub fn define_imports(linker: &mut Linker<HostState>) -> anyhow::Result<()> {
    const M: &str = "kestrel";
    linker.func_wrap(M, "event_get_i64", |c: C<'_>, ev: i32, f: i32| -> i64 {
        c.data()
            .at(ev, f)
            .and_then(|(b, ev, f)| ops::event_get_i64(b, ev, f))
            .unwrap_or(0)
    })?;
    linker.func_wrap(M, "event_get_u64", |c: C<'_>, ev: i32, f: i32| -> i64 {
        c.data()
            .at(ev, f)
            .and_then(|(b, ev, f)| ops::event_get_u64(b, ev, f))
            .unwrap_or(0) as i64
    })?;
    linker.func_wrap(M, "event_get_f64", |c: C<'_>, ev: i32, f: i32| -> f64 {
        c.data()
            .at(ev, f)
            .and_then(|(b, ev, f)| ops::event_get_f64(b, ev, f))
            .unwrap_or(0.0)
    })?;
    linker.func_wrap(M, "event_get_bool", |c: C<'_>, ev: i32, f: i32| -> i32 {
        c.data()
            .at(ev, f)
            .and_then(|(b, ev, f)| ops::event_get_bool(b, ev, f))
            .map_or(NULL, |x| x as Tri)
    })?;
    linker.func_wrap(M, "event_is_null", |c: C<'_>, ev: i32, f: i32| -> i32 {
        // An event or field id the batch does not have reads as absent.
        match c.data().leaf(ev, f, &Leaf::IsNull) {
            NULL => 1,
            t => t,
        }
    })?;
    linker.func_wrap(
        M,
        "event_get_str",
        |mut c: C<'_>, ev: i32, f: i32, buf: i32, cap: i32| -> i32 {
            let Some(text) = c
                .data()
                .at(ev, f)
                .and_then(|(b, ev, f)| ops::event_get_str(b, ev, f))
                .map(str::to_owned)
            else {
                return -1;
            };
            let Some(Extern::Memory(mem)) = c.get_export("memory") else {
                return -1;
            };
            let n = text.len().min(usize::try_from(cap).unwrap_or(0));
            if let Ok(start) = usize::try_from(buf) {
                if let Some(dst) = mem.data_mut(&mut c).get_mut(start..start.saturating_add(n)) {
                    dst.copy_from_slice(&text.as_bytes()[..n]);
                }
            }
            i32::try_from(text.len()).unwrap_or(i32::MAX)
        },
    )?;
    linker.func_wrap(
        M,
        "cmp_i64",
        |c: C<'_>, ev: i32, f: i32, op: i32, rhs: i64| -> i32 {
            c.data().leaf(ev, f, &Leaf::CmpI64 { op, rhs })
        },
    )?;
    linker.func_wrap(
        M,
        "cmp_f64",
        |c: C<'_>, ev: i32, f: i32, op: i32, rhs: f64| -> i32 {
            c.data().leaf(ev, f, &Leaf::CmpF64 { op, rhs })
        },
    )?;
    linker.func_wrap(M, "category_is", |c: C<'_>, ev: i32, lit: i32| -> i32 {
        let s = c.data();
        let Some(lit) = usize::try_from(lit)
            .ok()
            .and_then(|i| s.ctx.constants.literals.get(i))
        else {
            return 0;
        };
        let Some(batch) = s.batch() else { return 0 };
        match usize::try_from(ev) {
            Ok(ev) if ev < batch.len() => batch.categories(ev).any(|c| c == &*lit.text) as i32,
            _ => 0,
        }
    })?;
    macro_rules! literal_op {
        ($name:literal, $leaf:ident) => {
            linker.func_wrap(
                M,
                $name,
                |c: C<'_>, ev: i32, f: i32, lit: i32, ci: i32| -> i32 {
                    c.data().leaf(ev, f, &Leaf::$leaf { lit, ci: ci != 0 })
                },
            )?;
        };
    }
    literal_op!("str_eq", StrEq);
    literal_op!("str_contains", StrContains);
    literal_op!("str_starts_with", StrStartsWith);
    literal_op!("str_ends_with", StrEndsWith);
    macro_rules! table_op {
        ($name:literal, $leaf:ident) => {
            linker.func_wrap(M, $name, |c: C<'_>, ev: i32, f: i32, id: i32| -> i32 {
                c.data().leaf(ev, f, &Leaf::$leaf(id))
            })?;
        };
    }
    table_op!("glob_match_field", Glob);
    table_op!("re_match_field", Regex);
    table_op!("set_contains", Set);
    linker.func_wrap(M, "eval_node", |c: C<'_>, ev: i32, node: i32| -> i32 {
        let s = c.data();
        let (Some(batch), Some(eval), Ok(node)) =
            (s.batch(), s.ctx.evaluator.as_deref(), u32::try_from(node))
        else {
            return NULL;
        };
        match usize::try_from(ev) {
            Ok(ev) if ev < batch.len() => eval.eval_node(batch, ev, node),
            _ => NULL,
        }
    })?;
    linker.func_wrap(M, "glob_match", glob_match)?;
    linker.func_wrap(M, "re_match", re_match)?;
    linker.func_wrap(M, "field_id", |mut c: C<'_>, ptr: i32, len: i32| -> i32 {
        let Some(path) = guest_text(&mut c, ptr, len) else {
            return -1;
        };
        c.data()
            .field_paths
            .iter()
            .position(|p| *p == path)
            .map_or(-1, |i| i as i32)
    })?;
    linker.func_wrap(M, "capture_field", |mut c: C<'_>, _ev: i32, f: i32| {
        if let Some(field) = c.data().field(f) {
            c.data_mut().captured.push(field);
        }
    })?;
    linker.func_wrap(M, "alert_emit", |mut c: C<'_>, ev: i32| -> i32 {
        if c.data_mut().emit(ev, true) {
            0
        } else {
            -1
        }
    })?;
    linker.func_wrap(M, "match_emit", |mut c: C<'_>, _filter: i32, ev: i32| {
        c.data_mut().emit(ev, false);
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameter and result types, as wasmtime prints them.
    type Types = (Vec<String>, Vec<String>);

    /// "(ev i32, field i32) -> i64" as (["i32", "i32"], ["i64"]).
    fn types(signature: &str) -> Types {
        let (params, results) = signature.split_once(')').expect("a signature");
        let last = |part: &str| {
            part.split_whitespace()
                .last()
                .unwrap_or_default()
                .to_string()
        };
        let params = params
            .trim_start_matches('(')
            .split(',')
            .filter(|p| !p.trim().is_empty());
        let results = results.trim().trim_start_matches("->").trim();
        let results = if results.is_empty() {
            vec![]
        } else {
            vec![results.to_string()]
        };
        (params.map(last).collect(), results)
    }

    #[test]
    fn the_linker_defines_exactly_the_declared_imports() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::new(&engine);
        define_imports(&mut linker).unwrap();
        let state = HostState::new(
            HostContext::new(kestrel_host::RuleConstants::default()),
            Vec::new(),
            Vec::new(),
            wasmtime::StoreLimitsBuilder::new().build(),
        );
        let mut store = wasmtime::Store::new(&engine, state);
        let mut defined: Vec<(String, Types)> = Vec::new();
        let found: Vec<(String, Extern)> = linker
            .iter(&mut store)
            .map(|(module, name, item)| {
                assert_eq!(module, "kestrel");
                (name.to_string(), item)
            })
            .collect();
        for (name, item) in found {
            let Extern::Func(func) = item else {
                panic!("{name} is not a function");
            };
            let ty = func.ty(&store);
            let show = |t: wasmtime::ValType| t.to_string();
            defined.push((
                name,
                (
                    ty.params().map(show).collect(),
                    ty.results().map(show).collect(),
                ),
            ));
        }
        defined.sort();
        let mut declared: Vec<(String, Types)> = WASM_IMPORTS
            .iter()
            .map(|(n, s)| (n.to_string(), types(s)))
            .collect();
        declared.sort();
        assert_eq!(defined, declared);
    }
}
