//! Why an IR document was refused.

/// Where in the document a problem sits, for messages a rule author can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// `nodes[index]`, and the field of that node.
    Node { index: usize, field: &'static str },
    /// A constant table entry: `strings[3]`, `sets[0]`, ...
    Table { table: &'static str, index: usize },
    /// A filter: `rule.steps[index]` or `rule.until` (index = number of steps).
    Step { index: usize, field: &'static str },
    /// Any other member, by its dotted name (`rule.kind`, `event_fields.timestamp`).
    Member(&'static str),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Node { index, field } => write!(f, "nodes[{index}].{field}"),
            Location::Table { table, index } => write!(f, "{table}[{index}]"),
            Location::Step { index, field } => write!(f, "rule filter {index}: {field}"),
            Location::Member(name) => f.write_str(name),
        }
    }
}

/// An IR document that cannot be loaded. Every variant names where the
/// problem is, so the message alone identifies the offending part.
#[derive(Debug, thiserror::Error)]
pub enum IrError {
    /// Not JSON, or JSON of the wrong shape (a missing or mistyped member).
    #[error("malformed IR JSON: {0}")]
    Json(String),
    /// An `ir_version` this crate does not read.
    #[error("unsupported ir_version {found} (this build reads version {supported})")]
    Version { found: String, supported: u32 },
    /// A node or table index that points nowhere, or at a node that does not
    /// come before its parent (the nodes array is in dependency order).
    #[error("{at}: index {index} is out of range ({reason})")]
    Index {
        at: Location,
        index: u64,
        reason: String,
    },
    /// A name outside the IR's vocabulary (op, cmp, arith, function, kind...).
    #[error("{at}: unknown {what} {name:?}")]
    Unknown {
        at: Location,
        what: &'static str,
        name: String,
    },
    /// A function called with a number of arguments it does not accept.
    #[error("{at}: {function} takes {expected} argument(s), got {got}")]
    Arity {
        at: Location,
        function: &'static str,
        expected: String,
        got: usize,
    },
    /// A constant whose JSON value does not match its declared type.
    #[error("{at}: {reason}")]
    Literal { at: Location, reason: String },
    /// Anything else inconsistent: mismatched table flags, bad counts, too deep.
    #[error("{at}: {reason}")]
    Invalid { at: Location, reason: String },
    /// A regex that the `regex` crate refuses (or that outgrows its limits).
    #[error("{at}: {reason}")]
    Regex { at: Location, reason: String },
}
