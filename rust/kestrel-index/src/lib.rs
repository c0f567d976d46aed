//! Rule prefiltering for the engine: offer each event to the rules that
//! could match it, so that the cost of a batch scales with the relevant
//! rules rather than with every rule of the event's category.
//!
//! Most event rules require one field to take one of a few string values
//! (`process.name in ("cmd.exe", ...)`, `event.action == "x"`), or to
//! match (or not) a few glob patterns (`process.name : "python*"`). Such a
//! condition is an [`Anchor`] of the rule. Per batch, a [`RuleIndex`]
//! dictionary-encodes each anchored field once, counts the events every
//! anchor passes, enumerates each rule's candidates from its filter's
//! rarest anchor in that batch, and checks them against the filter's other
//! anchors. The index may offer an event that does not match, never
//! withhold one that does.
//!
//! ```ignore
//! let index = RuleIndex::new(&[Some(ir_json), None], &schema)?;
//! for (rule, events) in index.candidates(&batch).iter().enumerate() {
//!     // None: evaluate the whole batch; Some(evs): only evs (maybe none)
//! }
//! ```

mod anchor;
mod check;
mod error;
mod index;
mod keys;
mod values;

pub use anchor::{anchors, Anchor, Term, TermKind};
pub use error::IndexError;
pub use index::RuleIndex;
