//! The serde shape of the IR's JSON document (`ir_version` 1), exactly as
//! `python/kestrel/compiler/ir_json.py` writes it. Nothing here is checked
//! beyond JSON types: [`crate::validate`] turns it into a [`crate::Program`].
//!
//! Nodes stay raw JSON until validation so that an unknown `op` or a bad
//! member is reported with the node's index rather than as a bare serde error.

use serde::Deserialize;
use serde_json::Value;

/// The whole document. `metadata` is the compiler's summary for the engine
/// and is not needed to evaluate, so it is not read.
#[derive(Debug, Deserialize)]
pub struct Document {
    pub ir_version: Value,
    #[serde(default)]
    pub schema: SchemaDoc,
    pub event_fields: EventFieldsDoc,
    pub rule: RuleDoc,
    pub nodes: Vec<Value>,
    #[serde(default)]
    pub strings: Vec<String>,
    #[serde(default)]
    pub sets: Vec<SetDoc>,
    #[serde(default)]
    pub globs: Vec<GlobDoc>,
    #[serde(default)]
    pub regexes: Vec<RegexDoc>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SchemaDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Deserialize)]
pub struct FieldRefDoc {
    pub field: u64,
    pub path: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub optional: bool,
}

#[derive(Debug, Deserialize)]
pub struct TimestampDoc {
    #[serde(flatten)]
    pub field: FieldRefDoc,
    pub unit: String,
}

#[derive(Debug, Deserialize)]
pub struct EventFieldsDoc {
    pub category: FieldRefDoc,
    pub timestamp: TimestampDoc,
    pub tiebreaker: Option<FieldRefDoc>,
}

#[derive(Debug, Deserialize)]
pub struct StepDoc {
    pub category: Option<String>,
    pub predicate: u64,
    #[serde(default)]
    pub by: Vec<FieldRefDoc>,
    pub runs: u64,
    #[serde(default)]
    pub missing: bool,
}

#[derive(Debug, Deserialize)]
pub struct PipeDoc {
    pub op: String,
    pub count: u64,
}

#[derive(Debug, Deserialize)]
pub struct RuleDoc {
    pub kind: String,
    pub steps: Vec<StepDoc>,
    #[serde(default)]
    pub by: Vec<FieldRefDoc>,
    pub maxspan_ns: Option<u64>,
    pub until: Option<StepDoc>,
    #[serde(default)]
    pub pipes: Vec<PipeDoc>,
}

#[derive(Debug, Deserialize)]
pub struct SetDoc {
    pub values: Vec<Value>,
    pub types: Vec<String>,
    pub case_insensitive: bool,
}

#[derive(Debug, Deserialize)]
pub struct GlobDoc {
    pub patterns: Vec<String>,
    pub case_insensitive: bool,
}

#[derive(Debug, Deserialize)]
pub struct RegexDoc {
    #[serde(default)]
    pub patterns: Vec<String>,
    pub translated: Vec<String>,
    pub case_insensitive: bool,
}

/// One entry of `nodes`, by its `op`.
#[derive(Debug, Deserialize)]
#[serde(tag = "op")]
pub enum NodeDoc {
    Literal {
        #[serde(rename = "type")]
        ty: String,
        value: Value,
        string: Option<u64>,
    },
    LoadField {
        field: u64,
        path: String,
        #[serde(rename = "type")]
        ty: String,
        #[serde(default)]
        optional: bool,
    },
    Compare {
        cmp: String,
        left: u64,
        right: u64,
        case_insensitive: bool,
    },
    Logical {
        logic: String,
        operands: Vec<u64>,
    },
    Not {
        operand: u64,
    },
    IsNull {
        operand: u64,
    },
    Arithmetic {
        arith: String,
        operands: Vec<u64>,
    },
    FunctionCall {
        name: String,
        args: Vec<u64>,
        case_insensitive: bool,
    },
    InSet {
        operand: u64,
        set: u64,
        case_insensitive: bool,
    },
    WildcardMatch {
        operand: u64,
        glob: u64,
        case_insensitive: bool,
    },
    RegexMatch {
        operand: u64,
        regex: u64,
        case_insensitive: bool,
    },
}

/// The `op` names [`NodeDoc`] knows, for the "unknown op" message.
pub const NODE_OPS: &[&str] = &[
    "Literal",
    "LoadField",
    "Compare",
    "Logical",
    "Not",
    "IsNull",
    "Arithmetic",
    "FunctionCall",
    "InSet",
    "WildcardMatch",
    "RegexMatch",
];
