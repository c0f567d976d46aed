//! Stopping an untrusted Lua rule that overruns its time budget, without a
//! per-instruction cost while it runs.
//!
//! A rule's batch is *watched* with a deadline. One process-wide thread
//! sleeps until the earliest deadline; once one has passed, it sets a count
//! hook (every instruction) on that rule's Lua state. `lua_sethook` may be
//! called asynchronously: it only stores the hook and switches the
//! interpreter's dispatch. The hook removes itself and raises an error, so
//! the rule's next bytecode fails. Until the run is unwatched, the hook is
//! set again every [`REFIRE`], so code that catches the error (a `pcall`, or
//! an error handler that loops) is stopped again.

use std::os::raw::{c_int, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::api::{Hook, LuaApi, LuaState, MASKCOUNT};

/// How often a stopped run that is still going is stopped again.
pub const REFIRE: Duration = Duration::from_millis(10);

/// The error a stopped rule sees.
pub const STOPPED: &str = "time budget per batch exceeded (rule stopped)";

/// One Lua state's watch: its deadline while a run is watched.
#[derive(Default)]
pub struct Watch {
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    /// The `lua_State` (as an address: the watchdog thread only passes it to
    /// `lua_sethook`).
    lua: usize,
    deadline: Option<Instant>,
    stopped: bool,
}

impl Watch {
    fn lock(&self) -> MutexGuard<'_, WatchState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The Lua state this watch stops.
    pub fn attach(&self, lua: *mut LuaState) {
        self.lock().lua = lua as usize;
    }

    /// Whether a Lua state is attached.
    pub fn attached(&self) -> bool {
        self.lock().lua != 0
    }

    /// Watch a run that must end within `budget`.
    pub fn watch(self: &Arc<Self>, budget: Duration) {
        let deadline = Instant::now() + budget;
        {
            let mut state = self.lock();
            state.deadline = Some(deadline);
            state.stopped = false;
        }
        Watchdog::get().add(self.clone(), deadline);
    }

    /// The run has ended: no hook is set on the state after this returns.
    pub fn unwatch(&self) {
        let mut state = self.lock();
        state.deadline = None;
        if state.lua != 0 {
            if let Some(api) = LuaApi::get() {
                // SAFETY: the state is alive (its owner calls this) and not
                // running Lua: the owner's thread is here.
                unsafe { set_hook(api, state.lua as *mut LuaState, None) };
            }
        }
    }

    /// Whether the watchdog stopped the current (or last) run.
    pub fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Stop the run if its deadline has passed; the next time to look again.
    fn check(&self, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        let deadline = state.deadline?;
        if deadline > now {
            return Some(deadline);
        }
        state.stopped = true;
        if state.lua != 0 {
            if let Some(api) = LuaApi::get() {
                // SAFETY: the state stays alive while watched (unwatch runs
                // before its owner may close it, and takes this lock).
                unsafe { set_hook(api, state.lua as *mut LuaState, Some(stop)) };
            }
        }
        let next = now + REFIRE;
        state.deadline = Some(next);
        Some(next)
    }
}

/// Set (a count hook on every instruction) or clear `hook` on `lua`.
///
/// `lua_sethook` rewrites the interpreter's dispatch table, so two threads
/// must not run it at once: the watchdog sets the hook while the hook may
/// be clearing itself on the rule's thread. One lock serialises them.
///
/// # Safety
/// `lua` must be a live Lua state of the installed API's library.
unsafe fn set_hook(api: &LuaApi, lua: *mut LuaState, hook: Option<Hook>) {
    static SETTING: Mutex<()> = Mutex::new(());
    let _setting = SETTING.lock().unwrap_or_else(|p| p.into_inner());
    match hook {
        Some(hook) => (api.sethook)(lua, Some(hook), MASKCOUNT, 1),
        None => (api.sethook)(lua, None, 0, 0),
    };
}

/// The count hook the watchdog sets: removes itself and raises [`STOPPED`].
unsafe extern "C-unwind" fn stop(lua: *mut LuaState, _debug: *mut c_void) {
    if let Some(api) = LuaApi::get() {
        // The lock is released inside set_hook, before the error unwinds.
        set_hook(api, lua, None);
        let _: c_int = api.raise(lua, STOPPED);
    }
}

struct Watchdog {
    watched: Mutex<Watched>,
    wake: Condvar,
}

#[derive(Default)]
struct Watched {
    /// Watches that may be armed (an unwatched one leaves at the next check).
    watches: Vec<Arc<Watch>>,
    /// When the thread will next look, if it sleeps with a timeout: a run
    /// whose deadline is no earlier need not wake it, so most batches cost
    /// no wake-up at all.
    wake_at: Option<Instant>,
}

impl Watchdog {
    /// The process's watchdog. A forked child has none of its parent's
    /// threads, so it starts its own.
    fn get() -> &'static Watchdog {
        static WATCHDOG: Mutex<Option<(u32, &'static Watchdog)>> = Mutex::new(None);
        let mut current = WATCHDOG.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if let Some((owner, watchdog)) = *current {
            if owner == pid {
                return watchdog;
            }
        }
        let watchdog: &'static Watchdog = Box::leak(Box::new(Watchdog {
            watched: Mutex::new(Watched::default()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("kestrel-lua-watchdog".into())
            .spawn(move || watchdog.run())
            .expect("the Lua watchdog thread must start");
        *current = Some((pid, watchdog));
        watchdog
    }

    fn add(&self, watch: Arc<Watch>, deadline: Instant) {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        if !watched.watches.iter().any(|w| Arc::ptr_eq(w, &watch)) {
            watched.watches.push(watch);
        }
        if !matches!(watched.wake_at, Some(at) if at <= deadline) {
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let mut earliest: Option<Instant> = None;
            watched.watches.retain(|watch| match watch.check(now) {
                Some(next) => {
                    earliest = Some(earliest.map_or(next, |e| e.min(next)));
                    true
                }
                None => false,
            });
            watched.wake_at = earliest;
            watched = match earliest {
                None => self.wake.wait(watched).unwrap_or_else(|p| p.into_inner()),
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.wake
                        .wait_timeout(watched, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_for(watch: &Watch, stopped: bool) -> bool {
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if watch.stopped() == stopped {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    #[test]
    fn a_run_past_its_deadline_is_stopped_and_a_new_run_starts_clean() {
        let watch = Arc::new(Watch::default());
        watch.watch(Duration::ZERO);
        assert!(
            wait_for(&watch, true),
            "the watchdog should stop an overdue run"
        );
        watch.unwatch();
        watch.watch(Duration::from_secs(60));
        assert!(!watch.stopped());
        std::thread::sleep(Duration::from_millis(30));
        assert!(!watch.stopped(), "a run within its budget is left alone");
        watch.unwatch();
    }

    #[test]
    fn an_earlier_deadline_wakes_a_watchdog_sleeping_until_a_later_one() {
        let patient = Arc::new(Watch::default());
        patient.watch(Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
        let hasty = Arc::new(Watch::default());
        hasty.watch(Duration::from_millis(5));
        assert!(
            wait_for(&hasty, true),
            "a deadline earlier than the watchdog's next look must wake it"
        );
        assert!(!patient.stopped());
        hasty.unwatch();
        patient.unwatch();
    }

    #[test]
    fn an_unwatched_run_is_never_stopped() {
        let watch = Arc::new(Watch::default());
        watch.watch(Duration::from_millis(20));
        watch.unwatch();
        std::thread::sleep(Duration::from_millis(60));
        assert!(!watch.stopped());
    }
}
