//! Host API v1 as a C ABI: a table of `extern "C"` function pointers, for
//! LuaJIT's FFI (and any other native caller). The layout is documented in
//! `rules/README.md` and must only ever grow at the end; `struct_size` lets a
//! caller check that the fields it knows are there.
//!
//! Every entry point validates its handles and indexes and returns a null
//! result instead of panicking: unwinding across `extern "C"` would abort the
//! whole process.

use std::panic::{catch_unwind, AssertUnwindSafe};

use kestrel_event::EventBatch;

use crate::context::HostContext;
use crate::ops::{self, Tri, NULL};

#[repr(C)]
pub struct HostApiV1 {
    pub abi_version: u32,
    pub struct_size: u32,
    pub event_get_i64: unsafe extern "C" fn(*const EventBatch, u32, u32, *mut i32) -> i64,
    pub event_get_u64: unsafe extern "C" fn(*const EventBatch, u32, u32, *mut i32) -> u64,
    pub event_get_f64: unsafe extern "C" fn(*const EventBatch, u32, u32, *mut i32) -> f64,
    pub event_get_bool: unsafe extern "C" fn(*const EventBatch, u32, u32) -> Tri,
    pub event_get_str: unsafe extern "C" fn(*const EventBatch, u32, u32, *mut u32) -> *const u8,
    pub event_is_null: unsafe extern "C" fn(*const EventBatch, u32, u32) -> i32,
    pub str_eq: StrOp,
    pub str_contains: StrOp,
    pub str_starts_with: StrOp,
    pub str_ends_with: StrOp,
    pub glob_match_field: IdOp,
    pub re_match_field: IdOp,
    pub set_contains: IdOp,
    pub glob_match: TextOp,
    pub re_match: TextOp,
    pub alert_emit: unsafe extern "C" fn(*const HostContext, u32) -> i32,
    /// `(ctx, filter, ev) -> 0`: a batch loop reporting a match into the
    /// core-owned buffer (`HostContext::take_matches`).
    pub match_emit: unsafe extern "C" fn(*const HostContext, u32, u32) -> i32,
    /// `(ctx, batch, ev, node) -> tri`: evaluate an IR node in the core.
    pub eval_node: unsafe extern "C" fn(*const HostContext, *const EventBatch, u32, u32) -> Tri,
    /// `(batch, field, data, valid) -> kind`: where a plain int64 column
    /// keeps its values and validity bits, so a caller may read them
    /// directly (1); 0, and nothing written, for any other column.
    pub column_i64:
        unsafe extern "C" fn(*const EventBatch, u32, *mut *const i64, *mut *const u64) -> i32,
    /// `(batch, name, name_len, out, n) -> 0`: `out[ev]` = 1 where event
    /// `ev`'s categories include `name`, else 0, for every event of the
    /// batch (`n` must be the batch's length); -1 and nothing written on
    /// bad arguments.
    pub category_mask: unsafe extern "C" fn(*const EventBatch, *const u8, u32, *mut u8, u32) -> i32,
    /// `(ctx, filter, events, n) -> 0`: `match_emit` for `n` events at once,
    /// so a batch loop may collect its matches and report them in one call;
    /// -1 and nothing recorded on a null context or array.
    pub match_emit_many: unsafe extern "C" fn(*const HostContext, u32, *const u32, u32) -> i32,
    /// `(batch, name, name_len, out, n) -> count`: the indexes of the events
    /// whose categories include `name`, ascending, into `out` (room for `n`,
    /// the batch's length); -1 and nothing written on bad arguments.
    pub category_events:
        unsafe extern "C" fn(*const EventBatch, *const u8, u32, *mut u32, u32) -> i32,
    /// `(batch, ev, field, op, rhs) -> tri`: the field compared with an
    /// integer (`op` as in `rules/README.md`), true when any of an array's
    /// values compares true.
    pub cmp_i64: unsafe extern "C" fn(*const EventBatch, u32, u32, i32, i64) -> Tri,
    /// `cmp_i64` with a float.
    pub cmp_f64: unsafe extern "C" fn(*const EventBatch, u32, u32, i32, f64) -> Tri,
    /// `(batch, field, spans, valid, arena) -> kind`: where a plain string
    /// column keeps its spans (per event, `uint32_t` offset into the arena,
    /// then length with the top bit set for non-ASCII text), validity bits
    /// and arena, so a caller may read texts in place (1); 0, and nothing
    /// written, for any other column.
    pub column_str: unsafe extern "C" fn(
        *const EventBatch,
        u32,
        *mut *const u32,
        *mut *const u64,
        *mut *const u8,
    ) -> i32,
}

/// `(ctx, batch, event, field, literal_id, case_insensitive) -> tri`
pub type StrOp =
    unsafe extern "C" fn(*const HostContext, *const EventBatch, u32, u32, u32, i32) -> Tri;
/// `(ctx, batch, event, field, pattern_or_set_id) -> tri`
pub type IdOp = unsafe extern "C" fn(*const HostContext, *const EventBatch, u32, u32, u32) -> Tri;
/// `(ctx, pattern_id, text_ptr, text_len) -> 0 | 1` (-1 on a bad id or non-UTF-8 text)
pub type TextOp = unsafe extern "C" fn(*const HostContext, u32, *const u8, u32) -> Tri;

pub const ABI_VERSION: u32 = 1;

/// Every field of [`HostApiV1`] in table order, with its C declaration: the
/// one statement of the C layout. `kestrel.host_abi` builds LuaJIT's `cdef`
/// from it and checks its ctypes view against it; a test below checks the
/// struct.
pub const HOST_API_V1_FIELDS: &[(&str, &str)] = &[
    ("abi_version", "uint32_t abi_version"),
    ("struct_size", "uint32_t struct_size"),
    ("event_get_i64", "int64_t (*event_get_i64)(const void *batch, uint32_t ev, uint32_t field, int32_t *is_null)"),
    ("event_get_u64", "uint64_t (*event_get_u64)(const void *batch, uint32_t ev, uint32_t field, int32_t *is_null)"),
    ("event_get_f64", "double (*event_get_f64)(const void *batch, uint32_t ev, uint32_t field, int32_t *is_null)"),
    ("event_get_bool", "int32_t (*event_get_bool)(const void *batch, uint32_t ev, uint32_t field)"),
    ("event_get_str", "const char *(*event_get_str)(const void *batch, uint32_t ev, uint32_t field, uint32_t *len)"),
    ("event_is_null", "int32_t (*event_is_null)(const void *batch, uint32_t ev, uint32_t field)"),
    ("str_eq", "int32_t (*str_eq)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t lit, int32_t ci)"),
    ("str_contains", "int32_t (*str_contains)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t lit, int32_t ci)"),
    ("str_starts_with", "int32_t (*str_starts_with)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t lit, int32_t ci)"),
    ("str_ends_with", "int32_t (*str_ends_with)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t lit, int32_t ci)"),
    ("glob_match_field", "int32_t (*glob_match_field)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t id)"),
    ("re_match_field", "int32_t (*re_match_field)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t id)"),
    ("set_contains", "int32_t (*set_contains)(const void *ctx, const void *batch, uint32_t ev, uint32_t field, uint32_t id)"),
    ("glob_match", "int32_t (*glob_match)(const void *ctx, uint32_t id, const char *text, uint32_t len)"),
    ("re_match", "int32_t (*re_match)(const void *ctx, uint32_t id, const char *text, uint32_t len)"),
    ("alert_emit", "int32_t (*alert_emit)(const void *ctx, uint32_t ev)"),
    ("match_emit", "int32_t (*match_emit)(const void *ctx, uint32_t filter, uint32_t ev)"),
    ("eval_node", "int32_t (*eval_node)(const void *ctx, const void *batch, uint32_t ev, uint32_t node)"),
    ("column_i64", "int32_t (*column_i64)(const void *batch, uint32_t field, const int64_t **data, const uint64_t **valid)"),
    ("category_mask", "int32_t (*category_mask)(const void *batch, const char *name, uint32_t len, uint8_t *out, uint32_t n)"),
    ("match_emit_many", "int32_t (*match_emit_many)(const void *ctx, uint32_t filter, const uint32_t *events, uint32_t n)"),
    ("category_events", "int32_t (*category_events)(const void *batch, const char *name, uint32_t len, uint32_t *out, uint32_t n)"),
    ("cmp_i64", "int32_t (*cmp_i64)(const void *batch, uint32_t ev, uint32_t field, int32_t op, int64_t rhs)"),
    ("cmp_f64", "int32_t (*cmp_f64)(const void *batch, uint32_t ev, uint32_t field, int32_t op, double rhs)"),
    ("column_str", "int32_t (*column_str)(const void *batch, uint32_t field, const uint32_t **spans, const uint64_t **valid, const uint8_t **arena)"),
];

pub static HOST_API_V1: HostApiV1 = HostApiV1 {
    abi_version: ABI_VERSION,
    struct_size: std::mem::size_of::<HostApiV1>() as u32,
    event_get_i64: c_get_i64,
    event_get_u64: c_get_u64,
    event_get_f64: c_get_f64,
    event_get_bool: c_get_bool,
    event_get_str: c_get_str,
    event_is_null: c_is_null,
    str_eq: c_str_eq,
    str_contains: c_str_contains,
    str_starts_with: c_str_starts_with,
    str_ends_with: c_str_ends_with,
    glob_match_field: c_glob_match_field,
    re_match_field: c_re_match_field,
    set_contains: c_set_contains,
    glob_match: c_glob_match,
    re_match: c_re_match,
    alert_emit: c_alert_emit,
    match_emit: c_match_emit,
    eval_node: c_eval_node,
    column_i64: c_column_i64,
    category_mask: c_category_mask,
    match_emit_many: c_match_emit_many,
    category_events: c_category_events,
    cmp_i64: c_cmp_i64,
    cmp_f64: c_cmp_f64,
    column_str: c_column_str,
};

/// A plain column of `field` that a caller may read in place: the batch,
/// the values `pick` finds in it and its validity bits, when both cover
/// every event of the batch (readers index them by event).
unsafe fn column_in_place<'a, T>(
    batch: *const EventBatch,
    field: u32,
    pick: impl Fn(&'a kestrel_event::ColumnData) -> Option<&'a [T]>,
) -> Option<(&'a EventBatch, &'a [T], &'a [u64])> {
    let b = batch.as_ref()?;
    let column = b.column(field)?;
    let values = pick(column.data())?;
    let valid = column.validity();
    (values.len() >= b.len() && valid.len() * 64 >= b.len()).then_some((b, values, valid))
}

unsafe extern "C" fn c_column_i64(
    batch: *const EventBatch,
    field: u32,
    data: *mut *const i64,
    valid: *mut *const u64,
) -> i32 {
    let found = column_in_place(batch, field, |data| match data {
        kestrel_event::ColumnData::I64(values) => Some(values.as_slice()),
        _ => None,
    });
    match (found, data.as_mut(), valid.as_mut()) {
        (Some((_, values, bits)), Some(d), Some(v)) => {
            *d = values.as_ptr();
            *v = bits.as_ptr();
            1
        }
        _ => 0,
    }
}

unsafe extern "C" fn c_column_str(
    batch: *const EventBatch,
    field: u32,
    spans: *mut *const u32,
    valid: *mut *const u64,
    arena: *mut *const u8,
) -> i32 {
    let found = column_in_place(batch, field, |data| match data {
        kestrel_event::ColumnData::Str(texts) => Some(texts.as_slice()),
        _ => None,
    });
    match (found, spans.as_mut(), valid.as_mut(), arena.as_mut()) {
        (Some((b, texts, bits)), Some(s), Some(v), Some(a)) => {
            // Span is repr(C): (offset, length) as two u32s.
            *s = texts.as_ptr().cast::<u32>();
            *v = bits.as_ptr();
            *a = b.arena().as_ptr();
            1
        }
        _ => 0,
    }
}

unsafe extern "C" fn c_category_mask(
    batch: *const EventBatch,
    name: *const u8,
    len: u32,
    out: *mut u8,
    n: u32,
) -> i32 {
    let Some((b, id)) = category_of(batch, name, len, out, n) else {
        return -1;
    };
    let out = std::slice::from_raw_parts_mut(out, n as usize);
    out.fill(0);
    if let Some(id) = id {
        for &ev in b.category_events(id) {
            out[ev as usize] = 1;
        }
    }
    0
}

unsafe extern "C" fn c_category_events(
    batch: *const EventBatch,
    name: *const u8,
    len: u32,
    out: *mut u32,
    n: u32,
) -> i32 {
    let Some((b, id)) = category_of(batch, name, len, out, n) else {
        return -1;
    };
    let Some(id) = id else { return 0 };
    let events = b.category_events(id);
    std::slice::from_raw_parts_mut(out, events.len()).copy_from_slice(events);
    events.len() as i32
}

/// The batch and the interned id of category `name` (None for a category
/// the batch lacks), after checking the arguments every category entry
/// takes: `out` must be non-null and `n` the batch's length.
unsafe fn category_of<'a, T>(
    batch: *const EventBatch,
    name: *const u8,
    len: u32,
    out: *mut T,
    n: u32,
) -> Option<(&'a EventBatch, Option<u16>)> {
    let b = batch.as_ref()?;
    // The count is returned as an i32.
    if name.is_null() || out.is_null() || n as usize != b.len() || n > i32::MAX as u32 {
        return None;
    }
    let name = std::str::from_utf8(std::slice::from_raw_parts(name, len as usize)).ok()?;
    let id = b.category_names().iter().position(|c| c == name);
    Some((b, id.map(|id| id as u16)))
}

/// Run `f` on a valid (batch, event) pair, or return `fallback`.
#[inline]
unsafe fn with_event<R>(
    batch: *const EventBatch,
    ev: u32,
    fallback: R,
    f: impl FnOnce(&EventBatch, usize) -> R,
) -> R {
    let Some(b) = batch.as_ref() else {
        return fallback;
    };
    if ev as usize >= b.len() {
        return fallback;
    }
    match catch_unwind(AssertUnwindSafe(|| f(b, ev as usize))) {
        Ok(r) => r,
        Err(_) => fallback,
    }
}

#[inline]
unsafe fn set_flag(out: *mut i32, value: i32) {
    if let Some(o) = out.as_mut() {
        *o = value;
    }
}

macro_rules! numeric_getter {
    ($name:ident, $ty:ty, $op:path) => {
        unsafe extern "C" fn $name(
            b: *const EventBatch,
            ev: u32,
            field: u32,
            is_null: *mut i32,
        ) -> $ty {
            let v = with_event(b, ev, None, |b, ev| $op(b, ev, field));
            set_flag(is_null, v.is_none() as i32);
            v.unwrap_or_default()
        }
    };
}

numeric_getter!(c_get_i64, i64, ops::event_get_i64);
numeric_getter!(c_get_u64, u64, ops::event_get_u64);
numeric_getter!(c_get_f64, f64, ops::event_get_f64);

unsafe extern "C" fn c_get_bool(b: *const EventBatch, ev: u32, field: u32) -> Tri {
    with_event(b, ev, NULL, |b, ev| {
        ops::event_get_bool(b, ev, field).map_or(NULL, |x| x as Tri)
    })
}

unsafe extern "C" fn c_get_str(
    b: *const EventBatch,
    ev: u32,
    field: u32,
    len: *mut u32,
) -> *const u8 {
    let (ptr, n) = with_event(b, ev, (std::ptr::null(), 0), |b, ev| {
        ops::event_get_str(b, ev, field)
            .map_or((std::ptr::null(), 0), |s| (s.as_ptr(), s.len() as u32))
    });
    if let Some(l) = len.as_mut() {
        *l = n;
    }
    ptr
}

unsafe extern "C" fn c_is_null(b: *const EventBatch, ev: u32, field: u32) -> i32 {
    with_event(b, ev, 1, |b, ev| ops::event_is_null(b, ev, field) as i32)
}

unsafe extern "C" fn c_cmp_i64(
    b: *const EventBatch,
    ev: u32,
    field: u32,
    op: i32,
    rhs: i64,
) -> Tri {
    with_event(b, ev, NULL, |b, ev| ops::cmp_i64(b, ev, field, op, rhs))
}

unsafe extern "C" fn c_cmp_f64(
    b: *const EventBatch,
    ev: u32,
    field: u32,
    op: i32,
    rhs: f64,
) -> Tri {
    with_event(b, ev, NULL, |b, ev| ops::cmp_f64(b, ev, field, op, rhs))
}

macro_rules! literal_op {
    ($name:ident, $op:path) => {
        unsafe extern "C" fn $name(
            ctx: *const HostContext,
            b: *const EventBatch,
            ev: u32,
            field: u32,
            lit: u32,
            ci: i32,
        ) -> Tri {
            let Some(lit) = ctx
                .as_ref()
                .and_then(|c| c.constants.literals.get(lit as usize))
            else {
                return NULL;
            };
            with_event(b, ev, NULL, |b, ev| $op(b, ev, field, lit, ci != 0))
        }
    };
}

literal_op!(c_str_eq, ops::str_eq);
literal_op!(c_str_contains, ops::str_contains);
literal_op!(c_str_starts_with, ops::str_starts_with);
literal_op!(c_str_ends_with, ops::str_ends_with);

macro_rules! id_op {
    ($name:ident, $table:ident, $op:path) => {
        unsafe extern "C" fn $name(
            ctx: *const HostContext,
            b: *const EventBatch,
            ev: u32,
            field: u32,
            id: u32,
        ) -> Tri {
            let Some(item) = ctx
                .as_ref()
                .and_then(|c| c.constants.$table.get(id as usize))
            else {
                return NULL;
            };
            with_event(b, ev, NULL, |b, ev| $op(b, ev, field, item))
        }
    };
}

id_op!(c_glob_match_field, globs, ops::glob_match_field);
id_op!(c_re_match_field, regexes, ops::re_match_field);
id_op!(c_set_contains, sets, ops::set_contains);

unsafe fn text<'a>(ptr: *const u8, len: u32) -> Option<&'a str> {
    if ptr.is_null() {
        return None;
    }
    std::str::from_utf8(std::slice::from_raw_parts(ptr, len as usize)).ok()
}

unsafe extern "C" fn c_glob_match(
    ctx: *const HostContext,
    id: u32,
    ptr: *const u8,
    len: u32,
) -> Tri {
    let (Some(g), Some(t)) = (
        ctx.as_ref()
            .and_then(|c| c.constants.globs.get(id as usize)),
        text(ptr, len),
    ) else {
        return NULL;
    };
    catch_unwind(AssertUnwindSafe(|| g.matches(t) as Tri)).unwrap_or(NULL)
}

unsafe extern "C" fn c_re_match(ctx: *const HostContext, id: u32, ptr: *const u8, len: u32) -> Tri {
    let (Some(r), Some(t)) = (
        ctx.as_ref()
            .and_then(|c| c.constants.regexes.get(id as usize)),
        text(ptr, len),
    ) else {
        return NULL;
    };
    catch_unwind(AssertUnwindSafe(|| r.is_match(t) as Tri)).unwrap_or(NULL)
}

unsafe extern "C" fn c_alert_emit(ctx: *const HostContext, ev: u32) -> i32 {
    match ctx.as_ref() {
        Some(c) => {
            c.emit(ev);
            0
        }
        None => -1,
    }
}

unsafe extern "C" fn c_match_emit(ctx: *const HostContext, filter: u32, ev: u32) -> i32 {
    match ctx.as_ref() {
        Some(c) => {
            c.push_match(filter, ev);
            0
        }
        None => -1,
    }
}

unsafe extern "C" fn c_match_emit_many(
    ctx: *const HostContext,
    filter: u32,
    events: *const u32,
    n: u32,
) -> i32 {
    let Some(c) = ctx.as_ref() else { return -1 };
    if n == 0 {
        return 0;
    }
    if events.is_null() {
        return -1;
    }
    c.push_matches(filter, std::slice::from_raw_parts(events, n as usize));
    0
}

unsafe extern "C" fn c_eval_node(
    ctx: *const HostContext,
    b: *const EventBatch,
    ev: u32,
    node: u32,
) -> Tri {
    let Some(evaluator) = ctx.as_ref().and_then(|c| c.evaluator.as_deref()) else {
        return NULL;
    };
    with_event(b, ev, NULL, |b, ev| evaluator.eval_node(b, ev, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    use kestrel_event::{DecodeOptions, Decoder, SourceInfo};

    fn batch(lines: &str) -> EventBatch {
        Decoder::new(kestrel_schema::ecs_default(), DecodeOptions::default())
            .decode(lines.as_bytes(), &SourceInfo::default())
    }

    #[test]
    fn category_events_lists_each_event_once_in_order() {
        let b = batch(concat!(
            "{\"event\":{\"category\":\"process\"}}\n",
            "{\"event\":{\"category\":[\"network\",\"process\",\"process\"]}}\n",
            "{\"event\":{\"category\":\"file\"}}\n",
            "{}\n",
            "{\"event\":{\"category\":[\"process\"]}}\n",
        ));
        let n = b.len() as u32;
        let mut out = vec![u32::MAX; b.len()];
        let ask = |name: &str, out: &mut [u32], n: u32| unsafe {
            c_category_events(&b, name.as_ptr(), name.len() as u32, out.as_mut_ptr(), n)
        };
        assert_eq!(ask("process", &mut out, n), 3);
        assert_eq!(&out[..3], &[0, 1, 4]);
        assert_eq!(ask("network", &mut out, n), 1);
        assert_eq!(out[0], 1);
        assert_eq!(ask("registry", &mut out, n), 0);
        // The length must be the batch's, and the pointers real.
        assert_eq!(ask("process", &mut out, n - 1), -1);
        let null =
            unsafe { c_category_events(std::ptr::null(), "x".as_ptr(), 1, out.as_mut_ptr(), n) };
        assert_eq!(null, -1);
        let bad_utf8 = unsafe { c_category_events(&b, [0xffu8].as_ptr(), 1, out.as_mut_ptr(), n) };
        assert_eq!(bad_utf8, -1);
    }

    #[test]
    fn numeric_comparisons_count_any_value_of_an_array() {
        let b = batch(concat!(
            "{\"process\":{\"pid\":[5,2000]}}\n",
            "{\"process\":{\"pid\":[5,6]}}\n",
            "{\"process\":{\"pid\":4000}}\n",
            "{}\n",
        ));
        let pid = kestrel_schema::ecs_default()
            .lookup("process.pid")
            .expect("an ECS field")
            .id;
        let gt = |ev: u32, rhs: i64| unsafe { c_cmp_i64(&b, ev, pid, 4, rhs) };
        assert_eq!(
            [gt(0, 1000), gt(1, 1000), gt(2, 1000), gt(3, 1000)],
            [1, 0, 1, -1]
        );
        let le = |ev: u32, rhs: f64| unsafe { c_cmp_f64(&b, ev, pid, 3, rhs) };
        assert_eq!([le(0, 5.0), le(1, 4.5), le(2, 4000.0)], [1, 0, 1]);
        // Bad handles, indexes and op codes are null, not a crash.
        assert_eq!(unsafe { c_cmp_i64(std::ptr::null(), 0, pid, 4, 1) }, -1);
        assert_eq!(gt(99, 1), -1);
        assert_eq!(unsafe { c_cmp_i64(&b, 0, pid, 42, 1) }, -1);
    }

    #[test]
    fn match_emit_many_records_every_event_for_its_filter() {
        let ctx = HostContext::default();
        let events = [3u32, 5, 9];
        unsafe {
            assert_eq!(c_match_emit(&ctx, 0, 1), 0);
            assert_eq!(c_match_emit_many(&ctx, 2, events.as_ptr(), 3), 0);
            assert_eq!(c_match_emit_many(&ctx, 2, std::ptr::null(), 0), 0);
            assert_eq!(c_match_emit_many(&ctx, 2, std::ptr::null(), 1), -1);
            assert_eq!(
                c_match_emit_many(std::ptr::null(), 2, events.as_ptr(), 3),
                -1
            );
        }
        assert_eq!(ctx.take_matches(), vec![(0, 1), (2, 3), (2, 5), (2, 9)]);
        assert!(ctx.take_matches().is_empty());
    }

    #[test]
    fn the_declared_fields_are_the_structs() {
        // Two u32 headers, then one function pointer per entry.
        let pointers = HOST_API_V1_FIELDS.len() - 2;
        let expected = 8 + pointers * std::mem::size_of::<usize>();
        assert_eq!(std::mem::size_of::<HostApiV1>(), expected);
        assert_eq!(HOST_API_V1_FIELDS[0].0, "abi_version");
        assert_eq!(HOST_API_V1_FIELDS[1].0, "struct_size");
        for (name, declaration) in HOST_API_V1_FIELDS {
            assert!(declaration.contains(name), "{name}: {declaration}");
        }
    }
}
