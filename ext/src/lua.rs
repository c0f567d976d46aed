//! Lua C functions for untrusted Lua rules, and their watchdog
//! (`kestrel-lua`), as `kestrel._core.LuaHost`.

use std::collections::HashMap;
use std::os::raw::c_int;
use std::time::Duration;

use kestrel_lua::{LuaApi, LuaHost, LuaState};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::guarded;

/// The Lua entry point of `kestrel-lua`'s closures: Lua finds it with
/// `package.loadlib(<this module's file>, "kestrel_lua_open")` and calls it
/// with a `LuaHost` address.
///
/// # Safety
/// Called by Lua only (see `kestrel_lua::open`).
#[no_mangle]
pub unsafe extern "C-unwind" fn kestrel_lua_open(lua: *mut LuaState) -> c_int {
    kestrel_lua::open(lua)
}

/// One Lua rule's core-side state: what its C functions read (the batch,
/// its field table) and the watch that stops a run over its time budget.
#[pyclass(module = "kestrel._core", name = "LuaHost")]
pub struct PyLuaHost {
    // Boxed: Lua holds its address.
    inner: Box<LuaHost>,
}

// SAFETY: the host's batch and field cells are used only by the Lua state's
// own thread, inside Lua calls; Python reaches only the watch, a mutex.
unsafe impl Send for PyLuaHost {}
unsafe impl Sync for PyLuaHost {}

#[pymethods]
impl PyLuaHost {
    /// `api` maps each Lua C API symbol the core needs (`lua_api_symbols()`)
    /// to its address in the process's LuaJIT library.
    #[new]
    fn new(api: HashMap<String, usize>) -> PyResult<Self> {
        // SAFETY: the caller resolved these in lupa's LuaJIT module, which
        // stays loaded for the life of the process.
        let resolved = unsafe { LuaApi::resolve(|name| api.get(name).copied()) };
        LuaApi::install(resolved.map_err(PyValueError::new_err)?);
        Ok(PyLuaHost {
            inner: Box::default(),
        })
    }

    /// The address `kestrel_lua_open` expects. Valid while this object lives.
    fn address(&self) -> usize {
        &*self.inner as *const LuaHost as usize
    }

    /// Whether a Lua state has opened this host (so the watch can stop it).
    #[getter]
    fn attached(&self) -> bool {
        self.inner.watch().attached()
    }

    /// Watch the run about to start: after `seconds`, it is stopped.
    fn watch(&self, seconds: f64) -> PyResult<()> {
        // Capped so that a deadline is always representable (an infinite
        // budget is about 30 years).
        const LONGEST: Duration = Duration::from_secs(1_000_000_000);
        let budget = Duration::try_from_secs_f64(seconds.clamp(0.0, 1e9)).unwrap_or(LONGEST);
        // Starting the watchdog thread may fail (the process is out of threads).
        guarded("watching a Lua rule", || self.inner.watch().watch(budget))
    }

    /// The run has ended; call before any other call into the Lua state.
    fn unwatch(&self) {
        self.inner.watch().unwatch();
    }

    /// Whether the watchdog stopped the last watched run.
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.watch().stopped()
    }
}

/// The Lua C API symbols `LuaHost` needs.
#[pyfunction]
pub fn lua_api_symbols() -> Vec<&'static str> {
    kestrel_lua::api::SYMBOLS.to_vec()
}
