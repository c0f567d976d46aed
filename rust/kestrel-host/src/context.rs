//! The per-rule host context: its constants, and the events it emitted.

use std::cell::RefCell;

use crate::constants::RuleConstants;

/// What host calls from one rule instance see. Not shared across threads:
/// each evaluating thread owns the context of the rule it runs.
#[derive(Debug, Default)]
pub struct HostContext {
    pub constants: RuleConstants,
    emitted: RefCell<Vec<u32>>,
}

impl HostContext {
    pub fn new(constants: RuleConstants) -> Self {
        HostContext { constants, emitted: RefCell::new(Vec::new()) }
    }

    /// `alert_emit(event)`: record an event index for alerting.
    pub fn emit(&self, ev: u32) {
        if let Ok(mut v) = self.emitted.try_borrow_mut() {
            v.push(ev);
        }
    }

    /// Take the events emitted since the last call.
    pub fn take_emitted(&self) -> Vec<u32> {
        std::mem::take(&mut *self.emitted.borrow_mut())
    }
}
