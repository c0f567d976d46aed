//! The few Lua C API functions the core calls, resolved once per process.
//!
//! lupa links LuaJIT into its own extension module, loaded without global
//! symbols, so the core cannot link against it: the Python side looks the
//! functions up in that module and hands their addresses over.

use std::os::raw::{c_char, c_int, c_void};
use std::sync::OnceLock;

/// An opaque `lua_State`.
#[repr(C)]
pub struct LuaState {
    _private: [u8; 0],
}

pub type CFunction = unsafe extern "C-unwind" fn(*mut LuaState) -> c_int;
pub type Hook = unsafe extern "C-unwind" fn(*mut LuaState, *mut c_void);

pub const TNIL: c_int = 0;
pub const TNUMBER: c_int = 3;
pub const MASKCOUNT: c_int = 1 << 3;
/// `lua_upvalueindex(1)` in Lua 5.1 and LuaJIT.
pub const UPVALUE_1: c_int = -10002 - 1;

/// Lua C API entry points. Every one may raise a Lua error (memory, most
/// often), so callers keep no value that needs dropping across a call.
#[derive(Clone, Copy, Debug)]
pub struct LuaApi {
    pub type_: unsafe extern "C-unwind" fn(*mut LuaState, c_int) -> c_int,
    pub tonumber: unsafe extern "C-unwind" fn(*mut LuaState, c_int) -> f64,
    pub touserdata: unsafe extern "C-unwind" fn(*mut LuaState, c_int) -> *mut c_void,
    pub pushnil: unsafe extern "C-unwind" fn(*mut LuaState),
    pub pushnumber: unsafe extern "C-unwind" fn(*mut LuaState, f64),
    pub pushboolean: unsafe extern "C-unwind" fn(*mut LuaState, c_int),
    pub pushlstring: unsafe extern "C-unwind" fn(*mut LuaState, *const c_char, usize),
    pub pushlightuserdata: unsafe extern "C-unwind" fn(*mut LuaState, *mut c_void),
    pub pushcclosure: unsafe extern "C-unwind" fn(*mut LuaState, CFunction, c_int),
    pub createtable: unsafe extern "C-unwind" fn(*mut LuaState, c_int, c_int),
    pub setfield: unsafe extern "C-unwind" fn(*mut LuaState, c_int, *const c_char),
    pub concat: unsafe extern "C-unwind" fn(*mut LuaState, c_int),
    pub error: unsafe extern "C-unwind" fn(*mut LuaState) -> c_int,
    pub where_: unsafe extern "C-unwind" fn(*mut LuaState, c_int),
    pub sethook: unsafe extern "C-unwind" fn(*mut LuaState, Option<Hook>, c_int, c_int) -> c_int,
}

/// The C names of [`LuaApi`]'s entries, in field order.
pub const SYMBOLS: [&str; 15] = [
    "lua_type",
    "lua_tonumber",
    "lua_touserdata",
    "lua_pushnil",
    "lua_pushnumber",
    "lua_pushboolean",
    "lua_pushlstring",
    "lua_pushlightuserdata",
    "lua_pushcclosure",
    "lua_createtable",
    "lua_setfield",
    "lua_concat",
    "lua_error",
    "luaL_where",
    "lua_sethook",
];

static API: OnceLock<LuaApi> = OnceLock::new();

/// The function pointer at `address`.
///
/// # Safety
/// `address` must be a function of type `F`, a function pointer type.
unsafe fn function_at<F: Copy>(address: usize) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    std::mem::transmute_copy(&address)
}

impl LuaApi {
    /// The API from `address(symbol)` for each of [`SYMBOLS`].
    ///
    /// # Safety
    /// Every address must be the named function of one LuaJIT 2.1 (Lua 5.1
    /// API) library that stays loaded for the life of the process.
    pub unsafe fn resolve(address: impl Fn(&str) -> Option<usize>) -> Result<LuaApi, String> {
        let mut found = [0usize; SYMBOLS.len()];
        for (slot, name) in found.iter_mut().zip(SYMBOLS) {
            *slot = address(name)
                .filter(|&a| a != 0)
                .ok_or_else(|| format!("the Lua C API lacks {name}"))?;
        }
        // SAFETY: the caller vouches for each address; each is a non-null
        // function pointer of the declared type.
        macro_rules! f {
            ($i:expr) => {
                function_at(found[$i])
            };
        }
        Ok(LuaApi {
            type_: f!(0),
            tonumber: f!(1),
            touserdata: f!(2),
            pushnil: f!(3),
            pushnumber: f!(4),
            pushboolean: f!(5),
            pushlstring: f!(6),
            pushlightuserdata: f!(7),
            pushcclosure: f!(8),
            createtable: f!(9),
            setfield: f!(10),
            concat: f!(11),
            error: f!(12),
            where_: f!(13),
            sethook: f!(14),
        })
    }

    /// Make `api` the process's Lua API. The first one installed stays: one
    /// process loads lupa's LuaJIT once, so a second one is the same library.
    pub fn install(api: LuaApi) -> &'static LuaApi {
        API.get_or_init(|| api)
    }

    /// The installed API, if any.
    pub fn get() -> Option<&'static LuaApi> {
        API.get()
    }

    /// Raise a Lua error `message`, prefixed with the caller's position.
    ///
    /// # Safety
    /// `lua` must be the state running the current C function. The error
    /// unwinds through the caller's frames, which must hold nothing to drop.
    pub unsafe fn raise(&self, lua: *mut LuaState, message: &str) -> c_int {
        (self.where_)(lua, 1);
        (self.pushlstring)(lua, message.as_ptr().cast(), message.len());
        (self.concat)(lua, 2);
        (self.error)(lua)
    }
}
