//! An event rule's anchors: conditions `field ∈ {string values}` that every
//! matching event satisfies, read off the IR.
//!
//! An `and` is true only when every operand is true, and an operand that is
//! null (a missing field) or false makes it not true. So each operand of the
//! predicate's top-level `and` (nested `and`s flattened) is necessary. Of
//! those, these are exact string-membership tests:
//! - `InSet(LoadField, set)` with only string members;
//! - `Compare eq` of a `LoadField` and a string `Literal`, either order;
//! - `WildcardMatch(LoadField, globs)` whose patterns have no `*` or `?`
//!   (the IR's globs have no escapes, so such a pattern is plain text).
//!
//! Sequences and samples are never anchored: their steps feed state, and
//! `until`/missing steps make "could not match" a different question.

use kestrel_ir::model::{GlobDoc, SetDoc};
use kestrel_ir::{Cmp, Const, Logic, Node, Program, RuleKind};
use kestrel_schema::FieldId;
use serde::Deserialize;
use serde_json::Value;

/// A necessary condition of an event rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The field, as the running schema numbers it.
    pub field: FieldId,
    pub path: String,
    pub case_insensitive: bool,
    /// The values as the rule writes them (unfolded).
    pub values: Vec<String>,
    /// The category the rule requires (`None`: any).
    pub category: Option<String>,
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (n, ci) = (
            self.values.len(),
            if self.case_insensitive { "ci" } else { "cs" },
        );
        write!(
            f,
            "{} in {n} value{} ({ci})",
            self.path,
            if n == 1 { "" } else { "s" }
        )
    }
}

/// The raw tables: set members and glob patterns as written, before the
/// IR folds or compiles them (the index folds with its own keys).
#[derive(Deserialize)]
struct RawTables {
    #[serde(default)]
    sets: Vec<SetDoc>,
    #[serde(default)]
    globs: Vec<GlobDoc>,
}

/// Every anchor of `program` (loaded from `json`): each is necessary, so
/// the index may pick any one (see `RuleIndex::new`).
pub fn anchors(program: &Program, json: &str) -> Vec<Anchor> {
    if program.rule.kind != RuleKind::Event || program.rule.steps.len() != 1 {
        return Vec::new();
    }
    let step = &program.rule.steps[0];
    let Ok(tables) = serde_json::from_str::<RawTables>(json) else {
        return Vec::new();
    };
    let nodes = program.nodes();
    let mut conjuncts = Vec::new();
    flatten_and(nodes, step.predicate, &mut conjuncts);
    conjuncts
        .into_iter()
        .filter_map(|n| membership(nodes, &tables, n))
        .map(|(field, path, case_insensitive, values)| Anchor {
            field,
            path,
            case_insensitive,
            values,
            category: step.category.clone(),
        })
        .collect()
}

fn flatten_and(nodes: &[Node], id: u32, out: &mut Vec<u32>) {
    match nodes.get(id as usize) {
        Some(Node::Logical {
            logic: Logic::And,
            operands,
        }) => {
            for &operand in operands.iter() {
                flatten_and(nodes, operand, out);
            }
        }
        Some(_) => out.push(id),
        None => {}
    }
}

type Membership = (FieldId, String, bool, Vec<String>);

/// Node `id` as `field ∈ values`, when it is exactly that.
fn membership(nodes: &[Node], tables: &RawTables, id: u32) -> Option<Membership> {
    let field = |n: u32| match nodes.get(n as usize) {
        Some(Node::LoadField { field, path, .. }) => Some((*field, path.to_string())),
        _ => None,
    };
    let text = |n: u32| match nodes.get(n as usize) {
        Some(Node::Literal(Const::Str(s))) => Some(s.to_string()),
        _ => None,
    };
    match nodes.get(id as usize)? {
        Node::InSet { operand, set } => {
            let (f, path) = field(*operand)?;
            let set = tables.sets.get(*set as usize)?;
            let values = string_members(set)?;
            Some((f, path, set.case_insensitive, values))
        }
        Node::Compare {
            cmp: Cmp::Eq,
            sides: [l, r],
            case_insensitive,
        } => {
            let ((f, path), value) = field(*l)
                .zip(text(*r))
                .or_else(|| field(*r).zip(text(*l)))?;
            Some((f, path, *case_insensitive, vec![value]))
        }
        Node::WildcardMatch { operand, glob } => {
            let (f, path) = field(*operand)?;
            let glob = tables.globs.get(*glob as usize)?;
            if glob.patterns.iter().any(|p| p.contains(['*', '?'])) {
                return None;
            }
            Some((f, path, glob.case_insensitive, glob.patterns.clone()))
        }
        _ => None,
    }
}

/// The members, if every one is a string: a number member also equals the
/// field's numeric values and spellings, which a text key would miss.
fn string_members(set: &SetDoc) -> Option<Vec<String>> {
    set.types
        .iter()
        .zip(&set.values)
        .map(|(ty, v)| match (ty.as_str(), v) {
            ("string", Value::String(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}
