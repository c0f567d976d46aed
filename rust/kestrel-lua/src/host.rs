//! Host API v1 field reads as Lua C closures, for untrusted (interpreted)
//! Lua rules, with the same answers as the FFI binding's calls.
//!
//! Each closure's one upvalue is a light userdata pointing at the rule's
//! [`LuaHost`], which the Python side owns for as long as the Lua state.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::os::raw::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use kestrel_event::EventBatch;
use kestrel_host::ops;

use crate::api::{CFunction, LuaApi, LuaState, TNIL, TNUMBER, UPVALUE_1};
use crate::watchdog::Watch;

/// Local field ids above this are refused: the table is a dense vector.
const MAX_LOCAL_ID: usize = 1 << 20;
const NO_FIELD: u32 = u32::MAX;

/// One Lua rule's view of the core: the batch being evaluated, its field
/// table (local id -> schema FieldId) and its watchdog entry.
pub struct LuaHost {
    batch: Cell<*const EventBatch>,
    len: Cell<usize>,
    fields: RefCell<Vec<u32>>,
    watch: Arc<Watch>,
}

impl Default for LuaHost {
    fn default() -> Self {
        LuaHost {
            batch: Cell::new(std::ptr::null()),
            len: Cell::new(0),
            fields: RefCell::new(Vec::new()),
            watch: Arc::new(Watch::default()),
        }
    }
}

impl LuaHost {
    /// The watchdog entry for this rule's Lua state.
    pub fn watch(&self) -> &Arc<Watch> {
        &self.watch
    }

    fn field(&self, local: f64) -> Option<u32> {
        if !(local >= 0.0 && local.fract() == 0.0 && (local as usize) < MAX_LOCAL_ID) {
            return None;
        }
        let id = *self.fields.borrow().get(local as usize)?;
        (id != NO_FIELD).then_some(id)
    }

    fn event(&self, ev: f64) -> Option<usize> {
        (ev >= 0.0 && ev.fract() == 0.0 && (ev as usize) < self.len.get()).then_some(ev as usize)
    }
}

/// The functions [`open`] puts in the table it returns, by Lua name.
const FUNCTIONS: [(&[u8], CFunction); 9] = [
    (b"event_get_i64\0", get_i64),
    (b"event_get_u64\0", get_u64),
    (b"event_get_f64\0", get_f64),
    (b"event_get_bool\0", get_bool),
    (b"event_get_str\0", get_str),
    (b"is_null\0", is_null),
    (b"set_batch\0", set_batch),
    (b"define_field\0", define_field),
    (b"stopped\0", stopped),
];

/// `open(host_address)`, called from Lua: a table of closures over the
/// [`LuaHost`] at `host_address`, whose watch entry now names this state.
///
/// # Safety
/// Called by Lua with `lua` its running state. The address must be a live
/// `LuaHost` that outlives the state; the Python side guarantees both.
pub unsafe fn open(lua: *mut LuaState) -> c_int {
    let Some(api) = LuaApi::get() else { return 0 };
    if (api.type_)(lua, 1) != TNUMBER {
        return api.raise(lua, "kestrel_lua_open expects a host address");
    }
    let host = (api.tonumber)(lua, 1) as usize as *mut LuaHost;
    let Some(h) = host.as_ref() else {
        return api.raise(lua, "kestrel_lua_open expects a host address");
    };
    h.watch.attach(lua);
    (api.createtable)(lua, 0, FUNCTIONS.len() as c_int);
    for (name, function) in FUNCTIONS {
        (api.pushlightuserdata)(lua, host.cast::<c_void>());
        (api.pushcclosure)(lua, function, 1);
        (api.setfield)(lua, -2, name.as_ptr().cast());
    }
    1
}

/// A message built on the stack, so that raising it leaves nothing to drop.
struct Message {
    bytes: [u8; 200],
    len: usize,
}

impl Message {
    fn new() -> Self {
        Message {
            bytes: [0; 200],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or("error")
    }
}

impl std::fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let mut take = s.len().min(self.bytes.len() - self.len);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

fn type_name(t: c_int) -> &'static str {
    match t {
        TNIL => "nil",
        1 => "boolean",
        2 | 7 => "userdata",
        TNUMBER => "number",
        4 => "string",
        5 => "table",
        6 => "function",
        8 => "thread",
        _ => "cdata",
    }
}

/// The `(event, field)` arguments of a read (an event outside the batch is
/// `None`), or None with the reason in `message`, for the caller to raise.
unsafe fn arguments(
    api: &LuaApi,
    lua: *mut LuaState,
    host: &LuaHost,
    message: &mut Message,
) -> Option<(Option<usize>, u32)> {
    let event_type = (api.type_)(lua, 1);
    if event_type != TNUMBER {
        let _ = write!(
            message,
            "bad argument #1: an event index expected, got {}",
            type_name(event_type)
        );
        return None;
    }
    let ev = host.event((api.tonumber)(lua, 1));
    let field_type = (api.type_)(lua, 2);
    let local = (api.tonumber)(lua, 2);
    match host.field(local).filter(|_| field_type == TNUMBER) {
        Some(field) => Some((ev, field)),
        None => {
            if field_type == TNUMBER {
                let _ = write!(message, "unknown field id {local}");
            } else {
                let _ = write!(message, "unknown field id (a {})", type_name(field_type));
            }
            let _ = write!(
                message,
                " (declare it in the manifest's \"fields\" or get it from kestrel.field_id)"
            );
            None
        }
    }
}

/// The body every getter shares: check the arguments, read the batch (a
/// panic reads as null), push what `push` makes of the result.
#[inline(always)]
unsafe fn read<T>(
    lua: *mut LuaState,
    get: impl Fn(&EventBatch, usize, u32) -> Option<T>,
    push: impl FnOnce(&LuaApi, *mut LuaState, Option<T>),
) -> c_int {
    let Some(api) = LuaApi::get() else { return 0 };
    let host = &*((api.touserdata)(lua, UPVALUE_1) as *const LuaHost);
    let mut message = Message::new();
    let Some((ev, field)) = arguments(api, lua, host, &mut message) else {
        return api.raise(lua, message.as_str());
    };
    let found = match (ev, host.batch.get().as_ref()) {
        (Some(ev), Some(batch)) => catch_unwind(AssertUnwindSafe(|| get(batch, ev, field)))
            .ok()
            .flatten(),
        _ => None,
    };
    push(api, lua, found);
    1
}

fn number<T: Into<f64>>(api: &LuaApi, lua: *mut LuaState, found: Option<T>) {
    let value = found.map_or(0.0, Into::into);
    // SAFETY: `lua` is the running state (see `read`).
    unsafe { (api.pushnumber)(lua, value) }
}

unsafe extern "C-unwind" fn get_i64(lua: *mut LuaState) -> c_int {
    read(
        lua,
        |b, ev, f| ops::event_get_i64(b, ev, f).map(|v| v as f64),
        number,
    )
}

unsafe extern "C-unwind" fn get_u64(lua: *mut LuaState) -> c_int {
    read(
        lua,
        |b, ev, f| ops::event_get_u64(b, ev, f).map(|v| v as f64),
        number,
    )
}

unsafe extern "C-unwind" fn get_f64(lua: *mut LuaState) -> c_int {
    read(lua, ops::event_get_f64, number)
}

/// Three-valued, as the FFI call: 1 true, 0 false, -1 null.
unsafe extern "C-unwind" fn get_bool(lua: *mut LuaState) -> c_int {
    read(lua, ops::event_get_bool, |api, lua, found| {
        let tri = found.map_or(-1, |b| b as i32);
        (api.pushnumber)(lua, tri as f64)
    })
}

/// A missing string reads as "", as a missing number reads as 0.
unsafe extern "C-unwind" fn get_str(lua: *mut LuaState) -> c_int {
    read(
        lua,
        |b, ev, f| ops::event_get_str(b, ev, f).map(|s| (s.as_ptr(), s.len())),
        |api, lua, found| {
            let (ptr, len) = found.unwrap_or((b"".as_ptr(), 0));
            (api.pushlstring)(lua, ptr.cast(), len)
        },
    )
}

/// True for a null or missing field, and outside the batch.
unsafe extern "C-unwind" fn is_null(lua: *mut LuaState) -> c_int {
    read(
        lua,
        |b, ev, f| Some(ops::event_is_null(b, ev, f)),
        |api, lua, found| (api.pushboolean)(lua, (found != Some(false)) as c_int),
    )
}

/// `set_batch(address, n)`: the batch the reads see (0 for none).
unsafe extern "C-unwind" fn set_batch(lua: *mut LuaState) -> c_int {
    let Some(api) = LuaApi::get() else { return 0 };
    let host = &*((api.touserdata)(lua, UPVALUE_1) as *const LuaHost);
    let address = (api.tonumber)(lua, 1);
    let len = (api.tonumber)(lua, 2);
    if address > 0.0 && len >= 0.0 {
        host.batch.set(address as usize as *const EventBatch);
        host.len.set(len as usize);
    } else {
        host.batch.set(std::ptr::null());
        host.len.set(0);
    }
    0
}

/// `define_field(local, field)`: a local id of the rule's field table.
unsafe extern "C-unwind" fn define_field(lua: *mut LuaState) -> c_int {
    let Some(api) = LuaApi::get() else { return 0 };
    let host = &*((api.touserdata)(lua, UPVALUE_1) as *const LuaHost);
    let local = (api.tonumber)(lua, 1);
    let field = (api.tonumber)(lua, 2);
    let usable = local >= 0.0 && local.fract() == 0.0 && (local as usize) < MAX_LOCAL_ID;
    if !(usable && field >= 0.0 && field < NO_FIELD as f64) {
        return api.raise(
            lua,
            "define_field: a local id below 2^20 and a schema field id expected",
        );
    }
    let mut fields = host.fields.borrow_mut();
    let local = local as usize;
    if fields.len() <= local {
        fields.resize(local + 1, NO_FIELD);
    }
    fields[local] = field as u32;
    0
}

/// Whether the watchdog has stopped the current run.
unsafe extern "C-unwind" fn stopped(lua: *mut LuaState) -> c_int {
    let Some(api) = LuaApi::get() else { return 0 };
    let host = &*((api.touserdata)(lua, UPVALUE_1) as *const LuaHost);
    (api.pushboolean)(lua, host.watch.stopped() as c_int);
    1
}
