//! Untrusted Lua rules run interpreted (a compiled trace ignores hooks, so
//! nothing could stop one). In the interpreter, an FFI call costs far more
//! than a call to a Lua C function, and a count hook slows every bytecode.
//! So for those rules the core offers:
//!
//! * [`api`]: the Lua C API of the process's LuaJIT, resolved at run time
//!   from addresses the Python side finds in lupa's module;
//! * [`host`]: Host API v1's field reads as Lua C closures over a
//!   [`host::LuaHost`] (the batch, and the rule's field table);
//! * [`watchdog`]: one thread that, once a rule's batch is past its
//!   deadline, sets a count hook on its Lua state that raises an error.

pub mod api;
pub mod host;
pub mod watchdog;

pub use api::{LuaApi, LuaState};
pub use host::{open, LuaHost};
pub use watchdog::Watch;
