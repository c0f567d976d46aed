//! The per-rule host context: its constants, and the events it emitted.

use std::cell::RefCell;

use kestrel_event::EventBatch;

use crate::constants::RuleConstants;
use crate::ops::Tri;

/// Evaluates a rule's IR nodes in the core, for the parts of a predicate that
/// generated code delegates (functions, arithmetic, expression comparisons).
/// Implemented by the IR crate; kept as a trait here so the Host API does not
/// depend on the IR.
pub trait NodeEvaluator: Send + Sync {
    fn eval_node(&self, batch: &EventBatch, ev: usize, node: u32) -> Tri;
}

/// What host calls from one rule instance see. Not shared across threads:
/// each evaluating thread owns the context of the rule it runs.
#[derive(Default)]
pub struct HostContext {
    pub constants: RuleConstants,
    pub evaluator: Option<std::sync::Arc<dyn NodeEvaluator>>,
    emitted: RefCell<Vec<u32>>,
    matches: RefCell<Vec<(u32, u32)>>,
}

impl std::fmt::Debug for HostContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostContext")
            .field("constants", &self.constants)
            .finish_non_exhaustive()
    }
}

impl HostContext {
    pub fn new(constants: RuleConstants) -> Self {
        HostContext {
            constants,
            ..Default::default()
        }
    }

    /// `match_emit(filter, event)`: a batch loop reporting a match.
    pub fn push_match(&self, filter: u32, ev: u32) {
        if let Ok(mut v) = self.matches.try_borrow_mut() {
            v.push((filter, ev));
        }
    }

    /// `match_emit_many`: many matches of one filter at once.
    pub fn push_matches(&self, filter: u32, events: &[u32]) {
        if let Ok(mut v) = self.matches.try_borrow_mut() {
            v.extend(events.iter().map(|&ev| (filter, ev)));
        }
    }

    /// Take the `(filter, event)` matches reported since the last call.
    ///
    /// The buffer keeps its capacity, bounded by the largest batch seen:
    /// handing it out would make every batch fault in fresh pages for it.
    pub fn take_matches(&self) -> Vec<(u32, u32)> {
        let mut buffer = self.matches.borrow_mut();
        let taken = buffer.clone();
        buffer.clear();
        taken
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
