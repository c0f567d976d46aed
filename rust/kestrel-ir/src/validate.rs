//! Document → [`Program`]: check everything a hostile or stale document
//! could get wrong, so evaluation can index without checks and never panics.
//!
//! Checked: the version; every node's op and names (cmp, logic, arith,
//! function) and arity; that children come before parents (the nodes array
//! is a DAG in dependency order) and the DAG is not too deep to evaluate
//! recursively; literal values against their types; table indexes and their
//! case flags; steps, `until`, keys and pipes.

use kestrel_event::TimeUnit;
use kestrel_host::GlobSet;
use kestrel_schema::{FieldId, FieldType};
use serde_json::Value;

use crate::error::{IrError, Location};
use crate::model::{Document, FieldRefDoc, NodeDoc, StepDoc, NODE_OPS};
use crate::node::{Arith, Cmp, Const, Func, Logic, Node};
use crate::program::{
    literal_cidr_blocks, EventFields, FieldRef, Filter, Pipe, Program, Rule, RuleKind, IR_VERSION,
};
use crate::tables::{ConstSet, RegexAny, Tables};
use crate::typed::FieldKind;

/// How deep the node DAG may nest. Evaluation recurses once per level, so
/// this bounds stack use; real rules stay far below it.
pub const MAX_DEPTH: usize = 256;
/// Most nodes an expression may have once shared nodes are counted per use
/// (the compiler's own bound, E060): each is evaluated per event.
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

pub(crate) fn load(
    json: &str,
    resolve: impl FnMut(u32, &str) -> FieldId,
) -> Result<Program, IrError> {
    let raw: Value = serde_json::from_str(json).map_err(|e| IrError::Json(e.to_string()))?;
    check_version(&raw)?;
    let document: Document =
        serde_json::from_value(raw).map_err(|e| IrError::Json(e.to_string()))?;
    let case_flags = [
        document.sets.iter().map(|e| e.case_insensitive).collect(),
        document.globs.iter().map(|e| e.case_insensitive).collect(),
        document
            .regexes
            .iter()
            .map(|e| e.case_insensitive)
            .collect(),
    ];
    Loader {
        resolve,
        strings_len: document.strings.len(),
        case_flags,
    }
    .program(document)
}

fn check_version(raw: &Value) -> Result<(), IrError> {
    let found = raw.get("ir_version");
    if found.and_then(Value::as_u64) == Some(IR_VERSION.into()) {
        return Ok(());
    }
    let found = found.map_or_else(|| "missing".to_string(), Value::to_string);
    Err(IrError::Version {
        found,
        supported: IR_VERSION,
    })
}

struct Loader<R> {
    resolve: R,
    strings_len: usize,
    /// Each table's entries' `case_insensitive` flags, by [`Table`].
    case_flags: [Vec<bool>; 3],
}

/// The tables a pattern node can point into.
#[derive(Clone, Copy)]
enum Table {
    Sets,
    Globs,
    Regexes,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Sets => "sets",
            Table::Globs => "globs",
            Table::Regexes => "regexes",
        }
    }
}

/// Check that `index` is below `len`, naming what it points into.
fn index(at: Location, index: u64, len: usize, what: &str) -> Result<u32, IrError> {
    if index < len as u64 {
        Ok(index as u32)
    } else {
        Err(IrError::Index {
            at,
            index,
            reason: format!("{what} has {len} entries"),
        })
    }
}

impl<R: FnMut(u32, &str) -> FieldId> Loader<R> {
    fn program(&mut self, mut doc: Document) -> Result<Program, IrError> {
        let tables = Tables {
            strings: doc.strings.iter().map(|s| s.as_str().into()).collect(),
            sets: doc
                .sets
                .iter()
                .enumerate()
                .map(|(i, s)| set(i, s))
                .collect::<Result<_, _>>()?,
            globs: doc
                .globs
                .iter()
                .map(|g| {
                    GlobSet::new(
                        &g.patterns.iter().map(String::as_str).collect::<Vec<_>>(),
                        g.case_insensitive,
                    )
                })
                .collect(),
            regexes: doc
                .regexes
                .iter()
                .enumerate()
                .map(|(i, r)| regex(i, r))
                .collect::<Result<_, _>>()?,
        };
        let mut nodes = Vec::with_capacity(doc.nodes.len());
        let mut depth = Vec::with_capacity(doc.nodes.len());
        // Shared nodes are evaluated once per use, so what an event costs is
        // the tree with sharing expanded: bounded like the depth.
        let mut expanded: Vec<usize> = Vec::with_capacity(doc.nodes.len());
        for (i, raw) in std::mem::take(&mut doc.nodes).into_iter().enumerate() {
            let node = self.node(i, raw, &tables)?;
            let size = node
                .children()
                .iter()
                .fold(1usize, |n, &c| n.saturating_add(expanded[c as usize]));
            if size > MAX_EXPANDED_NODES {
                let reason =
                    format!("the expression expands to more than {MAX_EXPANDED_NODES} nodes");
                return Err(IrError::Invalid {
                    at: Location::Node {
                        index: i,
                        field: "op",
                    },
                    reason,
                });
            }
            expanded.push(size);
            let d = 1 + node
                .children()
                .iter()
                .map(|&c| depth[c as usize])
                .max()
                .unwrap_or(0);
            if d > MAX_DEPTH {
                let reason = format!("the expression nests deeper than {MAX_DEPTH} levels");
                return Err(IrError::Invalid {
                    at: Location::Node {
                        index: i,
                        field: "op",
                    },
                    reason,
                });
            }
            depth.push(d);
            nodes.push(node);
        }
        let rule = self.rule(&doc, nodes.len())?;
        let fields = &doc.event_fields;
        let unit = &fields.timestamp.unit;
        let event_fields = EventFields {
            category: self.field_ref(&fields.category, "event_fields.category")?,
            timestamp: self.field_ref(&fields.timestamp.field, "event_fields.timestamp")?,
            timestamp_unit: TimeUnit::parse(unit).ok_or_else(|| IrError::Unknown {
                at: Location::Member("event_fields.timestamp.unit"),
                what: "time unit",
                name: unit.clone(),
            })?,
            tiebreaker: fields
                .tiebreaker
                .as_ref()
                .map(|t| self.field_ref(t, "event_fields.tiebreaker"))
                .transpose()?,
        };
        Ok(Program {
            schema_name: doc.schema.name,
            schema_version: doc.schema.version,
            event_fields,
            rule,
            cidr_blocks: literal_cidr_blocks(&nodes),
            nodes,
            tables,
        })
    }

    fn field_ref(&mut self, doc: &FieldRefDoc, member: &'static str) -> Result<FieldRef, IrError> {
        let ir_field = field_id(doc.field, Location::Member(member))?;
        check_path_and_type(&doc.path, &doc.ty, Location::Member(member))?;
        Ok(FieldRef {
            field: (self.resolve)(ir_field, &doc.path),
            ir_field,
            path: doc.path.clone(),
            ty: doc.ty.clone(),
            kind: FieldKind::of_type(&doc.ty),
            optional: doc.optional,
        })
    }

    fn rule(&mut self, doc: &Document, node_count: usize) -> Result<Rule, IrError> {
        let r = &doc.rule;
        let kind = match r.kind.as_str() {
            "event" => RuleKind::Event,
            "sequence" => RuleKind::Sequence,
            "sample" => RuleKind::Sample,
            other => return Err(unknown(Location::Member("rule.kind"), "rule kind", other)),
        };
        let invalid = |reason: &str| IrError::Invalid {
            at: Location::Member("rule.steps"),
            reason: reason.into(),
        };
        if r.steps.is_empty() {
            return Err(invalid("a rule needs at least one step"));
        }
        if kind == RuleKind::Event && (r.steps.len() != 1 || r.until.is_some()) {
            return Err(invalid(
                "an event query has exactly one filter and no `until`",
            ));
        }
        if kind != RuleKind::Sequence && r.until.is_some() {
            return Err(invalid("only sequences have `until`"));
        }
        let steps: Vec<Filter> = r
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| self.filter(i, s, node_count))
            .collect::<Result<_, _>>()?;
        let until = r
            .until
            .as_ref()
            .map(|s| self.filter(r.steps.len(), s, node_count))
            .transpose()?;
        check_shape(kind, &steps, until.as_ref(), r.maxspan_ns)?;
        let by =
            r.by.iter()
                .map(|k| self.field_ref(k, "rule.by"))
                .collect::<Result<_, _>>()?;
        let pipes = r
            .pipes
            .iter()
            .map(|p| match p.op.as_str() {
                "head" => Ok(Pipe::Head(p.count)),
                "tail" => Ok(Pipe::Tail(p.count)),
                other => Err(unknown(Location::Member("rule.pipes"), "pipe", other)),
            })
            .collect::<Result<_, _>>()?;
        Ok(Rule {
            kind,
            steps,
            by,
            maxspan_ns: r.maxspan_ns,
            until,
            pipes,
        })
    }

    fn filter(&mut self, i: usize, step: &StepDoc, node_count: usize) -> Result<Filter, IrError> {
        let predicate = index(
            Location::Step {
                index: i,
                field: "predicate",
            },
            step.predicate,
            node_count,
            "nodes",
        )?;
        let runs = u32::try_from(step.runs)
            .ok()
            .filter(|&r| r >= 1)
            .ok_or_else(|| IrError::Invalid {
                at: Location::Step {
                    index: i,
                    field: "runs",
                },
                reason: format!("runs must be from 1 to {}, got {}", u32::MAX, step.runs),
            })?;
        let by = step
            .by
            .iter()
            .map(|k| self.field_ref(k, "rule step `by`"))
            .collect::<Result<_, _>>()?;
        Ok(Filter {
            category: step.category.clone(),
            predicate,
            by,
            runs,
            missing: step.missing,
        })
    }

    /// Node `i`'s reference `entry` into `table`, whose case flag must be
    /// the node's: the table is compiled once, with its own flag.
    fn entry(
        &self,
        i: usize,
        field: &'static str,
        entry: u64,
        table: Table,
        case_insensitive: bool,
    ) -> Result<u32, IrError> {
        let flags = &self.case_flags[table as usize];
        let entry = index(
            Location::Node { index: i, field },
            entry,
            flags.len(),
            table.name(),
        )?;
        let expected = flags[entry as usize];
        if case_insensitive != expected {
            let reason = format!(
                "case_insensitive is {case_insensitive} but the table entry says {expected}"
            );
            return Err(IrError::Invalid {
                at: Location::Node {
                    index: i,
                    field: "case_insensitive",
                },
                reason,
            });
        }
        Ok(entry)
    }

    fn node(&mut self, i: usize, raw: Value, tables: &Tables) -> Result<Node, IrError> {
        let op = raw
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !NODE_OPS.contains(&op.as_str()) {
            return Err(unknown(
                Location::Node {
                    index: i,
                    field: "op",
                },
                "node op",
                &op,
            ));
        }
        let parsed: NodeDoc = serde_json::from_value(raw)
            .map_err(|e| IrError::Json(format!("nodes[{i}] ({op}): {e}")))?;
        let at = |field| Location::Node { index: i, field };
        // Children must come first: that is what makes the array a DAG.
        let child = |field, c: u64| {
            index(
                at(field),
                c,
                i,
                "only earlier nodes can be children: nodes before it",
            )
        };
        let children = |field, cs: &[u64]| {
            cs.iter()
                .map(|&c| child(field, c))
                .collect::<Result<Box<[u32]>, _>>()
        };
        Ok(match parsed {
            NodeDoc::Literal { ty, value, string } => {
                let constant = literal(&ty, &value).map_err(|reason| IrError::Literal {
                    at: at("value"),
                    reason,
                })?;
                if let Some(s) = string {
                    let s = index(at("string"), s, self.strings_len, "strings")?;
                    if !matches!(&constant, Const::Str(text) if *text == tables.strings[s as usize])
                    {
                        let reason = format!("strings[{s}] is not this literal's value");
                        return Err(IrError::Invalid {
                            at: at("string"),
                            reason,
                        });
                    }
                }
                Node::Literal(constant)
            }
            NodeDoc::LoadField {
                field,
                path,
                ty,
                optional,
            } => {
                let ir_field = field_id(field, at("field"))?;
                check_path_and_type(&path, &ty, at("path"))?;
                let field = (self.resolve)(ir_field, &path);
                Node::LoadField {
                    field,
                    ir_field,
                    path: path.into(),
                    optional,
                    kind: FieldKind::of_type(&ty),
                }
            }
            NodeDoc::Compare {
                cmp,
                left,
                right,
                case_insensitive,
            } => Node::Compare {
                cmp: Cmp::parse(&cmp).ok_or_else(|| unknown(at("cmp"), "comparison", &cmp))?,
                sides: [child("left", left)?, child("right", right)?],
                case_insensitive,
            },
            NodeDoc::Logical { logic, operands } => Node::Logical {
                logic: match logic.as_str() {
                    "and" => Logic::And,
                    "or" => Logic::Or,
                    other => return Err(unknown(at("logic"), "logical operator", other)),
                },
                operands: children("operands", &operands)?,
            },
            NodeDoc::Not { operand } => Node::Not(child("operand", operand)?),
            NodeDoc::IsNull { operand } => Node::IsNull(child("operand", operand)?),
            NodeDoc::Arithmetic { arith, operands } => {
                let op = Arith::parse(&arith)
                    .ok_or_else(|| unknown(at("arith"), "arithmetic operator", &arith))?;
                if operands.len() != op.arity() {
                    let expected = op.arity().to_string();
                    return Err(IrError::Arity {
                        at: at("operands"),
                        function: "arithmetic",
                        expected,
                        got: operands.len(),
                    });
                }
                Node::Arithmetic {
                    arith: op,
                    operands: children("operands", &operands)?,
                }
            }
            NodeDoc::FunctionCall {
                name,
                args,
                case_insensitive,
            } => {
                let func =
                    Func::parse(&name).ok_or_else(|| unknown(at("name"), "function", &name))?;
                let (min, max) = func.arity();
                if args.len() < min || max.is_some_and(|m| args.len() > m) {
                    let expected = match max {
                        None => format!("at least {min}"),
                        Some(m) if m == min => min.to_string(),
                        Some(m) => format!("{min} to {m}"),
                    };
                    return Err(IrError::Arity {
                        at: at("args"),
                        function: func.name(),
                        expected,
                        got: args.len(),
                    });
                }
                Node::Call {
                    func,
                    args: children("args", &args)?,
                    case_insensitive,
                }
            }
            NodeDoc::InSet {
                operand,
                set,
                case_insensitive,
            } => Node::InSet {
                operand: child("operand", operand)?,
                set: self.entry(i, "set", set, Table::Sets, case_insensitive)?,
            },
            NodeDoc::WildcardMatch {
                operand,
                glob,
                case_insensitive,
            } => Node::WildcardMatch {
                operand: child("operand", operand)?,
                glob: self.entry(i, "glob", glob, Table::Globs, case_insensitive)?,
            },
            NodeDoc::RegexMatch {
                operand,
                regex,
                case_insensitive,
            } => Node::RegexMatch {
                operand: child("operand", operand)?,
                regex: self.entry(i, "regex", regex, Table::Regexes, case_insensitive)?,
            },
        })
    }
}

/// What docs/ir.md §1.2 requires of each kind: only sequences have
/// `maxspan`, `runs` and missing steps (which need `maxspan`), and every
/// filter has the same number of join keys.
fn check_shape(
    kind: RuleKind,
    steps: &[Filter],
    until: Option<&Filter>,
    maxspan: Option<u64>,
) -> Result<(), IrError> {
    let filters = steps.iter().chain(until);
    for (i, f) in filters.clone().enumerate() {
        let at = |field| Location::Step { index: i, field };
        let invalid = |field, reason: &str| {
            Err(IrError::Invalid {
                at: at(field),
                reason: reason.into(),
            })
        };
        if kind != RuleKind::Sequence && f.runs != 1 {
            return invalid("runs", "only sequence steps repeat (`with runs`)");
        }
        if f.missing && (kind != RuleKind::Sequence || maxspan.is_none()) {
            return invalid("missing", "missing steps need a sequence with maxspan");
        }
        if f.by.len() != steps[0].by.len() {
            return invalid(
                "by",
                "every filter needs as many join keys as the first step",
            );
        }
    }
    if kind != RuleKind::Sequence && maxspan.is_some() {
        let reason = "only sequences have maxspan".into();
        return Err(IrError::Invalid {
            at: Location::Member("rule.maxspan_ns"),
            reason,
        });
    }
    Ok(())
}

fn unknown(at: Location, what: &'static str, name: &str) -> IrError {
    IrError::Unknown {
        at,
        what,
        name: name.to_string(),
    }
}

fn field_id(id: u64, at: Location) -> Result<u32, IrError> {
    u32::try_from(id).map_err(|_| IrError::Index {
        at,
        index: id,
        reason: "field ids are 32-bit".into(),
    })
}

fn check_path_and_type(path: &str, ty: &str, at: Location) -> Result<(), IrError> {
    if path.is_empty() {
        return Err(IrError::Invalid {
            at,
            reason: "empty field path".into(),
        });
    }
    if FieldType::parse(ty).is_none() {
        return Err(unknown(at, "field type", ty));
    }
    Ok(())
}

/// A literal's JSON value checked against its declared type.
fn literal(ty: &str, value: &Value) -> Result<Const, String> {
    let wrong = || format!("{value} is not a valid {ty} literal");
    Ok(match (ty, value) {
        ("null", Value::Null) => Const::Null,
        ("bool", Value::Bool(b)) => Const::Bool(*b),
        ("i64", Value::Number(n)) => Const::Int(n.as_i64().ok_or_else(wrong)?.into()),
        ("u64", Value::Number(n)) => Const::Int(n.as_u64().ok_or_else(wrong)?.into()),
        ("f64", Value::Number(n)) => Const::Float(n.as_f64().ok_or_else(wrong)?),
        // JSON has no NaN or infinities; the writer spells them out.
        ("f64", Value::String(s)) => Const::Float(match s.as_str() {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            _ => return Err(wrong()),
        }),
        ("string", Value::String(s)) => Const::Str(s.as_str().into()),
        ("null" | "bool" | "i64" | "u64" | "f64" | "string", _) => return Err(wrong()),
        _ => return Err(format!("unknown literal type {ty:?}")),
    })
}

fn set(i: usize, doc: &crate::model::SetDoc) -> Result<ConstSet, IrError> {
    let at = Location::Table {
        table: "sets",
        index: i,
    };
    if doc.values.len() != doc.types.len() {
        let reason = format!("{} values but {} types", doc.values.len(), doc.types.len());
        return Err(IrError::Invalid { at, reason });
    }
    let members = doc
        .types
        .iter()
        .zip(&doc.values)
        .map(|(t, v)| literal(t, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|reason| IrError::Literal { at, reason })?;
    Ok(ConstSet::new(&members, doc.case_insensitive))
}

fn regex(i: usize, doc: &crate::model::RegexDoc) -> Result<RegexAny, IrError> {
    RegexAny::new(&doc.translated, doc.case_insensitive).map_err(|(p, reason)| IrError::Regex {
        at: Location::Table {
            table: "regexes",
            index: i,
        },
        reason: format!("translated[{p}]: {reason}"),
    })
}
