//! Validated IR nodes: the vocabulary of `python/kestrel/compiler/ir.py` with
//! names resolved to enums and children as indexes into the program's nodes.

use kestrel_schema::FieldId;

use crate::typed::FieldKind;

/// A constant. Integers are kept as `i128` so that every `i64` and `u64`
/// literal (and every field value) compares exactly, as Python's ints do.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Box<str>),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub(crate) fn parse(name: &str) -> Option<Cmp> {
        Some(match name {
            "eq" => Cmp::Eq,
            "ne" => Cmp::Ne,
            "lt" => Cmp::Lt,
            "le" => Cmp::Le,
            "gt" => Cmp::Gt,
            "ge" => Cmp::Ge,
            _ => return None,
        })
    }
}

/// `and` / `or` under Kleene logic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logic {
    And,
    Or,
}

/// An arithmetic operator; `Neg` takes one operand, the others two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Neg,
}

impl Arith {
    pub(crate) fn parse(name: &str) -> Option<Arith> {
        Some(match name {
            "add" => Arith::Add,
            "sub" => Arith::Sub,
            "mul" => Arith::Mul,
            "div" => Arith::Div,
            "mod" => Arith::Mod,
            "neg" => Arith::Neg,
            _ => return None,
        })
    }

    pub(crate) fn arity(self) -> usize {
        if self == Arith::Neg {
            1
        } else {
            2
        }
    }
}

/// The 16 EQL functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Add,
    Between,
    CidrMatch,
    Concat,
    Divide,
    EndsWith,
    IndexOf,
    Length,
    Modulo,
    Multiply,
    Number,
    StartsWith,
    String,
    StringContains,
    Substring,
    Subtract,
}

impl Func {
    /// Every function with its canonical (IR) name.
    pub const ALL: [(&'static str, Func); 16] = [
        ("add", Func::Add),
        ("between", Func::Between),
        ("cidrMatch", Func::CidrMatch),
        ("concat", Func::Concat),
        ("divide", Func::Divide),
        ("endsWith", Func::EndsWith),
        ("indexOf", Func::IndexOf),
        ("length", Func::Length),
        ("modulo", Func::Modulo),
        ("multiply", Func::Multiply),
        ("number", Func::Number),
        ("startsWith", Func::StartsWith),
        ("string", Func::String),
        ("stringContains", Func::StringContains),
        ("substring", Func::Substring),
        ("subtract", Func::Subtract),
    ];

    pub(crate) fn parse(name: &str) -> Option<Func> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, f)| f)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Accepted argument counts, `(min, max)`; `None` = variadic. Mirrors
    /// `functions.py`'s signatures.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Between => (3, Some(4)),
            Func::CidrMatch => (2, None),
            Func::Concat => (1, None),
            Func::IndexOf | Func::Substring => (2, Some(3)),
            Func::Number => (1, Some(2)),
            Func::Length | Func::String => (1, Some(1)),
            _ => (2, Some(2)),
        }
    }

    /// Boolean functions reduce their alternatives with "any" (the
    /// interpreter's `BOOLEAN_FUNCTIONS`); the others keep every result.
    pub fn is_boolean(self) -> bool {
        matches!(
            self,
            Func::CidrMatch | Func::EndsWith | Func::StartsWith | Func::StringContains
        )
    }
}

/// One validated node. Child indexes are always smaller than the node's own.
#[derive(Clone, Debug)]
pub enum Node {
    Literal(Const),
    /// `field` is the running schema's id; `ir_field` the id in the document.
    LoadField {
        field: FieldId,
        ir_field: u32,
        path: Box<str>,
        optional: bool,
        /// How the field's values compare (its mapping type's semantics).
        kind: FieldKind,
    },
    /// `sides` are the left and right operands.
    Compare {
        cmp: Cmp,
        sides: [u32; 2],
        case_insensitive: bool,
    },
    Logical {
        logic: Logic,
        operands: Box<[u32]>,
    },
    Not(u32),
    IsNull(u32),
    Arithmetic {
        arith: Arith,
        operands: Box<[u32]>,
    },
    Call {
        func: Func,
        args: Box<[u32]>,
        case_insensitive: bool,
    },
    /// `set` indexes [`crate::Tables::sets`]; case sensitivity lives there.
    InSet {
        operand: u32,
        set: u32,
    },
    WildcardMatch {
        operand: u32,
        glob: u32,
    },
    RegexMatch {
        operand: u32,
        regex: u32,
    },
}

impl Node {
    /// The direct children, in evaluation order.
    pub fn children(&self) -> &[u32] {
        match self {
            Node::Literal(_) | Node::LoadField { .. } => &[],
            Node::Compare { sides, .. } => sides,
            Node::Logical { operands, .. } | Node::Arithmetic { operands, .. } => operands,
            Node::Call { args, .. } => args,
            Node::Not(c) | Node::IsNull(c) => std::slice::from_ref(c),
            Node::InSet { operand, .. }
            | Node::WildcardMatch { operand, .. }
            | Node::RegexMatch { operand, .. } => std::slice::from_ref(operand),
        }
    }
}
