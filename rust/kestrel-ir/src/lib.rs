//! Kestrel's IR in Rust: load the compiler's versioned JSON (`ir_version`
//! 1, written by `python/kestrel/compiler/ir_json.py`), validate it, compile
//! its constant tables, and evaluate any node for one event of an
//! [`kestrel_event::EventBatch`].
//!
//! The semantics are those of the Python IR interpreter
//! (`interpreter.py` + `function_semantics.py`), the executable spec of
//! Elasticsearch's EQL: three-valued logic, null propagation, multi-valued
//! fields as alternatives, and the 16 EQL functions.
//!
//! ```ignore
//! let program = kestrel_ir::Program::from_json(&ir_json, &schema)?;
//! let hit = program.step_matches(0, &batch, ev);          // category + predicate
//! let tri = program.eval_predicate(&batch, ev, node);       // Some(true) / Some(false) / None
//! let ctx_evaluator: Box<dyn kestrel_host::NodeEvaluator> = Box::new(program);
//! ```
//!
//! Modules: [`model`] (serde shape), `validate` (document → [`Program`]),
//! [`tables`] (globs, regexes, sets), [`value`] (runtime values), `compare`,
//! `functions`, `cidr`, `text` (Python string semantics), `eval`.

mod cidr;
mod compare;
mod error;
mod eval;
mod functions;
pub mod model;
mod node;
mod program;
pub mod tables;
mod text;
pub mod typed;
mod validate;
pub mod value;

pub use compare::compare_scalars;
pub use error::{IrError, Location};
pub use eval::MAX_COMBINATIONS;
pub use functions::{arithmetic, call, EvalError};
pub use node::{Arith, Cmp, Const, Func, Logic, Node};
pub use program::{EventFields, FieldRef, Filter, Pipe, Program, Rule, RuleKind, IR_VERSION};
pub use tables::Tables;
pub use text::java_double_text;
pub use typed::FieldKind;
pub use validate::MAX_DEPTH;
pub use value::{Scalar, Val};
