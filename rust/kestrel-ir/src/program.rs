//! A loaded program: the rule descriptor, its validated nodes and compiled
//! tables, with every field bound to the running schema's FieldIds.

use kestrel_event::TimeUnit;
use kestrel_schema::{FieldId, Schema};

use ahash::AHashMap;

use crate::cidr::{parse_block, Block};
use crate::error::IrError;
use crate::node::{Const, Func, Node};
use crate::tables::Tables;

/// The IR version this crate reads.
pub const IR_VERSION: u32 = 1;

/// A field named by the rule descriptor (join keys, event-field bindings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRef {
    /// The id in the running schema (what `EventBatch::value` takes).
    pub field: FieldId,
    /// The id the document carried (the compiling schema's).
    pub ir_field: u32,
    pub path: String,
    /// The schema type name the compiler saw (`string`, `i64`, `unknown`...).
    pub ty: String,
    /// How its values compare, read off `ty` once.
    pub kind: crate::typed::FieldKind,
    pub optional: bool,
}

/// Event queries, sequences and samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Event,
    Sequence,
    Sample,
}

/// One filter: an event query, a sequence or sample step, or `until`.
#[derive(Clone, Debug)]
pub struct Filter {
    /// The event category it requires; `None` is `any`.
    pub category: Option<String>,
    /// The predicate's node index.
    pub predicate: u32,
    pub by: Vec<FieldRef>,
    /// `with runs=n` (1 without).
    pub runs: u32,
    /// A missing-event step (`![...]`).
    pub missing: bool,
}

/// `| head n` or `| tail n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipe {
    Head(u64),
    Tail(u64),
}

/// The rule descriptor.
#[derive(Clone, Debug)]
pub struct Rule {
    pub kind: RuleKind,
    pub steps: Vec<Filter>,
    pub by: Vec<FieldRef>,
    pub maxspan_ns: Option<u64>,
    pub until: Option<Filter>,
    pub pipes: Vec<Pipe>,
}

/// Where the engine finds an event's category, timestamp and tiebreaker.
#[derive(Clone, Debug)]
pub struct EventFields {
    pub category: FieldRef,
    pub timestamp: FieldRef,
    pub timestamp_unit: TimeUnit,
    pub tiebreaker: Option<FieldRef>,
}

/// A validated, ready-to-evaluate IR program.
///
/// Load it with [`Program::from_json`] (fields bound by path through a
/// [`Schema`]) or [`Program::from_json_with`] (any id mapping). It evaluates
/// nodes with [`Program::eval`] / [`Program::eval_node`], filters with
/// [`Program::eval_step`] / [`Program::step_matches`], and serves the
/// Host API's `eval_node` as a [`kestrel_host::NodeEvaluator`].
#[derive(Debug)]
pub struct Program {
    pub schema_name: String,
    pub schema_version: String,
    pub event_fields: EventFields,
    pub rule: Rule,
    pub(crate) nodes: Vec<Node>,
    pub(crate) tables: Tables,
    /// `cidrMatch` calls whose blocks are all string literals: the blocks,
    /// parsed once (`None` for one that does not parse), by node id.
    pub(crate) cidr_blocks: AHashMap<u32, Box<[Option<Block>]>>,
}

/// The blocks of every `cidrMatch` over literal blocks (see `Program::cidr_blocks`).
pub(crate) fn literal_cidr_blocks(nodes: &[Node]) -> AHashMap<u32, Box<[Option<Block>]>> {
    let literal = |id: &u32| match nodes.get(*id as usize) {
        Some(Node::Literal(Const::Str(text))) => Some(parse_block(text)),
        _ => None,
    };
    nodes
        .iter()
        .enumerate()
        .filter_map(|(id, node)| match node {
            Node::Call {
                func: Func::CidrMatch,
                args,
                ..
            } if args.len() > 1 => {
                let blocks: Option<Box<[Option<Block>]>> = args[1..].iter().map(literal).collect();
                Some((id as u32, blocks?))
            }
            _ => None,
        })
        .collect()
}

impl Program {
    /// Load and validate `json`, binding every field by path in `schema`
    /// (paths the schema lacks get auto-assigned ids, as the package loader
    /// does).
    pub fn from_json(json: &str, schema: &Schema) -> Result<Program, IrError> {
        Self::from_json_with(json, |_, path| schema.resolve(path).id)
    }

    /// Load and validate `json`, mapping each field with
    /// `resolve(ir_field_id, path)`. Use `|id, _| id` to keep the document's ids.
    pub fn from_json_with(
        json: &str,
        resolve: impl FnMut(u32, &str) -> FieldId,
    ) -> Result<Program, IrError> {
        crate::validate::load(json, resolve)
    }

    /// The validated nodes, in dependency order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The number of nodes (valid node ids are `0..node_count()`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The compiled constant tables.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// Every filter in ABI order: the steps, then `until` if present.
    pub fn filters(&self) -> impl Iterator<Item = &Filter> {
        self.rule.steps.iter().chain(self.rule.until.as_ref())
    }

    /// Filter `index` in ABI order (steps `0..k`, then `until` as `k`).
    pub fn filter(&self, index: usize) -> Option<&Filter> {
        self.filters().nth(index)
    }

    /// How many filters there are (steps plus `until`).
    pub fn filter_count(&self) -> usize {
        self.rule.steps.len() + usize::from(self.rule.until.is_some())
    }
}
