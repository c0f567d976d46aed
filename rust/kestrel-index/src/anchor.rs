//! An event rule's anchors: conditions on one field's string values that
//! every matching event satisfies, read off the IR.
//!
//! An `and` is true only when every operand is true, and an operand that is
//! null (a missing field) or false makes it not true. So each operand of the
//! predicate's top-level `and` (nested `and`s flattened) is necessary. Of
//! those, these are tests of one field's text:
//! - membership: `InSet(LoadField, set)` with only string members, `Compare
//!   eq` of a `LoadField` and a string `Literal` (either order), and
//!   `WildcardMatch(LoadField, globs)` whose patterns have no `*` or `?`
//!   (the IR's globs have no escapes, so such a pattern is plain text);
//! - a `WildcardMatch` with wildcards (`process.name : "python*"`);
//! - the negation of either (`not process.name : ("*.exe", "*.com")`,
//!   `!=`), which is true only when the field has a value and the test
//!   fails on it.
//!
//! Membership is looked up by key in a batch's dictionary of the field; the
//! others are tested once per distinct text of the batch (see
//! [`crate::check`]), which for fields such as `process.name` is far fewer
//! tests than one per event.
//!
//! An `or` is true only when some operand is, so an `or` whose every
//! operand has an anchor is anchored on their union (`process.name :
//! "x.exe" or process.pe.original_file_name : "X.exe"`, common in rules).
//!
//! A sequence or sample is anchored on the union of one anchor per filter
//! (every step, missing steps and `until` included): an event outside it
//! passes no filter, and such an event only moves the rule's clock, which
//! the matcher reads off the whole batch anyway. If any filter has no
//! anchor, neither has the rule.

use kestrel_ir::model::{GlobDoc, SetDoc};
use kestrel_ir::{Cmp, Const, Filter, Logic, Node, Program, RuleKind};
use kestrel_schema::FieldId;
use serde::Deserialize;
use serde_json::Value;

/// How a term's field must relate to its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TermKind {
    /// Some value of the field equals one of the values.
    In,
    /// The field has a value and none equals one of the values.
    NotIn,
    /// Some value matches one of the glob patterns.
    Like,
    /// The field has a value and none matches a pattern.
    NotLike,
}

impl TermKind {
    fn negated(self) -> TermKind {
        match self {
            TermKind::In => TermKind::NotIn,
            TermKind::NotIn => TermKind::In,
            TermKind::Like => TermKind::NotLike,
            TermKind::NotLike => TermKind::Like,
        }
    }
}

/// One test of a field's text: `path ∈ values`, or its glob or negated forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    /// The field, as the running schema numbers it.
    pub field: FieldId,
    pub path: String,
    pub kind: TermKind,
    pub case_insensitive: bool,
    /// The values (or glob patterns) as the rule writes them (unfolded).
    pub values: Vec<String>,
    /// The category the term's filter requires (`None`: any).
    pub category: Option<String>,
}

/// A necessary condition of a rule's match: some term holds (each with
/// its filter's category).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub terms: Vec<Term>,
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.values.len();
        let ci = if self.case_insensitive { "ci" } else { "cs" };
        let plural = if n == 1 { "" } else { "s" };
        let (relation, noun) = match self.kind {
            TermKind::In => ("in", "value"),
            TermKind::NotIn => ("not in", "value"),
            TermKind::Like => ("like", "pattern"),
            TermKind::NotLike => ("not like", "pattern"),
        };
        write!(f, "{} {relation} {n} {noun}{plural} ({ci})", self.path)
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let terms: Vec<String> = self.terms.iter().map(ToString::to_string).collect();
        f.write_str(&terms.join(" or "))
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

/// The anchors of `program` (loaded from `json`), per filter: one list of
/// alternatives for each filter (an event rule has one; a sequence or
/// sample has its steps, then `until`). Every alternative is necessary for
/// its filter, so the index may pick any one per filter, and the rule's
/// anchor is the union of the picks (see `RuleIndex::new`). Empty when
/// some filter has no anchor: the rule cannot be restricted.
pub fn anchors(program: &Program, json: &str) -> Vec<Vec<Anchor>> {
    let Ok(tables) = serde_json::from_str::<RawTables>(json) else {
        return Vec::new();
    };
    let (nodes, rule) = (program.nodes(), &program.rule);
    if rule.kind == RuleKind::Event && rule.steps.len() != 1 {
        return Vec::new();
    }
    let per_filter: Vec<Vec<Anchor>> = rule
        .steps
        .iter()
        .chain(&rule.until)
        .map(|filter| filter_anchors(nodes, &tables, filter))
        .collect();
    if per_filter.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    per_filter
}

/// The alternative anchors of one filter, from its predicate's conjuncts.
fn filter_anchors(nodes: &[Node], tables: &RawTables, filter: &Filter) -> Vec<Anchor> {
    let mut conjuncts = Vec::new();
    flatten_and(nodes, filter.predicate, &mut conjuncts);
    conjuncts
        .into_iter()
        .filter_map(|n| terms(nodes, tables, n, 0))
        .map(|mut terms| {
            terms
                .iter_mut()
                .for_each(|t| t.category = filter.category.clone());
            Anchor { terms }
        })
        .collect()
}

/// A rough cost of an anchor, without data: more values pass more events,
/// a glob more than a value, and a negation most. Breaks ties between
/// alternatives when the rule set is indexed (the choice per batch is made
/// on counts).
pub(crate) fn weight(anchor: &Anchor) -> usize {
    anchor.terms.iter().map(Term::weight).sum()
}

impl Term {
    pub(crate) fn weight(&self) -> usize {
        let n = self.values.len();
        match self.kind {
            TermKind::In => n,
            TermKind::Like => 8 + n,
            TermKind::NotIn | TermKind::NotLike => 1000 + n,
        }
    }
}

/// How deep `or`/`and` nesting is followed: rules nest shallowly, and this
/// keeps a pathological IR from costing much.
const MAX_NESTING: u32 = 8;

/// The terms, one of which holds whenever node `id` is true.
fn terms(nodes: &[Node], tables: &RawTables, id: u32, depth: u32) -> Option<Vec<Term>> {
    if let Some(term) = membership(nodes, tables, id) {
        return Some(vec![term]);
    }
    if depth >= MAX_NESTING {
        return None;
    }
    match nodes.get(id as usize)? {
        // Every branch needs its own anchor; the union covers them all.
        Node::Logical {
            logic: Logic::Or,
            operands,
        } => {
            let mut all = Vec::new();
            for &operand in operands.iter() {
                all.extend(terms(nodes, tables, operand, depth + 1)?);
            }
            Some(all)
        }
        // Any conjunct's anchor will do; the fewest values keeps the union small.
        Node::Logical {
            logic: Logic::And, ..
        } => {
            let mut conjuncts = Vec::new();
            flatten_and(nodes, id, &mut conjuncts);
            conjuncts
                .into_iter()
                .filter_map(|n| terms(nodes, tables, n, depth + 1))
                .min_by_key(|t| t.iter().map(Term::weight).sum::<usize>())
        }
        _ => None,
    }
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

/// Node `id` as a test of one field's text, when it is exactly that.
fn membership(nodes: &[Node], tables: &RawTables, id: u32) -> Option<Term> {
    // A date, ip or version field's equality is not its text's ("::1" is
    // "0::1"), so the text dictionaries cannot stand in for it.
    let field = |n: u32| match nodes.get(n as usize) {
        Some(Node::LoadField {
            field, path, kind, ..
        }) if !kind.is_typed() => Some((*field, path.to_string())),
        _ => None,
    };
    let text = |n: u32| match nodes.get(n as usize) {
        Some(Node::Literal(Const::Str(s))) => Some(s.to_string()),
        _ => None,
    };
    match nodes.get(id as usize)? {
        Node::Not(operand) => {
            let term = membership(nodes, tables, *operand)?;
            Some(Term {
                kind: term.kind.negated(),
                ..term
            })
        }
        Node::InSet { operand, set } => {
            let (f, path) = field(*operand)?;
            let set = tables.sets.get(*set as usize)?;
            let values = string_members(set)?;
            Some(Term {
                field: f,
                path,
                kind: TermKind::In,
                case_insensitive: set.case_insensitive,
                values,
                category: None,
            })
        }
        Node::Compare {
            cmp: cmp @ (Cmp::Eq | Cmp::Ne),
            sides: [l, r],
            case_insensitive,
        } => {
            let ((f, path), value) = field(*l)
                .zip(text(*r))
                .or_else(|| field(*r).zip(text(*l)))?;
            Some(Term {
                field: f,
                path,
                kind: if *cmp == Cmp::Eq {
                    TermKind::In
                } else {
                    TermKind::NotIn
                },
                case_insensitive: *case_insensitive,
                values: vec![value],
                category: None,
            })
        }
        Node::WildcardMatch { operand, glob } => {
            let (f, path) = field(*operand)?;
            let glob = tables.globs.get(*glob as usize)?;
            let wild = glob.patterns.iter().any(|p| p.contains(['*', '?']));
            Some(Term {
                field: f,
                path,
                kind: if wild { TermKind::Like } else { TermKind::In },
                case_insensitive: glob.case_insensitive,
                values: glob.patterns.clone(),
                category: None,
            })
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
