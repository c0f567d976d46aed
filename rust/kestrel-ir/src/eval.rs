//! Evaluating nodes for one event, with the interpreter's semantics:
//! null propagation, Kleene logic, and multi-valued fields as alternatives
//! (a test holds if it holds for any alternative; derived values keep every
//! alternative, through cross products bounded by [`MAX_COMBINATIONS`]).

use kestrel_event::EventBatch;
use kestrel_host::ops::Tri;
use kestrel_host::NodeEvaluator;

use crate::cidr::{parse_ip, Block};
use crate::compare::compare_scalars;
use crate::functions::{arithmetic, call};
use crate::node::{Arith, Cmp, Logic, Node};
use crate::program::Program;
use crate::tables::const_scalar;
use crate::text::to_text;
use crate::typed::FieldKind;
use crate::value::{any_true, Scalar, Val, NULL};

/// Give up on array cross products beyond this many combinations (a
/// comparison is then false, a function or arithmetic null), as the
/// interpreter does.
pub const MAX_COMBINATIONS: usize = 100_000;

/// One event of one batch, under one program.
struct Eval<'a> {
    program: &'a Program,
    batch: &'a EventBatch,
    ev: usize,
}

impl<'a> Eval<'a> {
    fn node(&self, id: u32) -> &'a Node {
        &self.program.nodes[id as usize]
    }

    /// The value of node `id`.
    fn value(&self, id: u32) -> Val<'a> {
        match self.node(id) {
            Node::Literal(c) => Val::One(const_scalar(c)),
            Node::LoadField { field, .. } => Val::load(self.batch, self.ev, *field),
            Node::Arithmetic { arith, operands } => self.arithmetic(*arith, operands),
            Node::Call {
                func,
                args,
                case_insensitive,
            } if !func.is_boolean() => self.combine(args, |combo| {
                call(*func, combo, *case_insensitive).unwrap_or(Scalar::Null)
            }),
            _ => Val::One(Scalar::from_tri(self.truth(id))),
        }
    }

    /// Node `id` in a boolean context: `Some(true)`, `Some(false)` or null.
    fn truth(&self, id: u32) -> Option<bool> {
        match self.node(id) {
            Node::Compare {
                cmp,
                sides: [left_id, right_id],
                case_insensitive,
            } => {
                let kind = self.kind(*left_id).or(self.kind(*right_id));
                let compare = |l: &Scalar<'_>, r: &Scalar<'_>| match kind {
                    Some(kind) => kind.compare(*cmp, l, r),
                    None => compare_scalars(*cmp, l, r, *case_insensitive),
                };
                let (left, right) = (self.value(*left_id), self.value(*right_id));
                if !left.is_many() && !right.is_many() {
                    let (Val::One(l), Val::One(r)) = (&left, &right) else {
                        return None;
                    };
                    return compare(l, r);
                }
                if left.count().saturating_mul(right.count()) > MAX_COMBINATIONS {
                    return Some(false);
                }
                any_true(
                    left.alternatives(self.batch)
                        .flat_map(|l| right.alternatives(self.batch).map(move |r| compare(&l, &r))),
                )
            }
            Node::Logical { logic, operands } => {
                // `or` stops at true, `and` at false; null only if nothing decided.
                let absorbing = *logic == Logic::Or;
                let mut saw_null = false;
                for &operand in operands.iter() {
                    match self.truth(operand) {
                        None => saw_null = true,
                        Some(v) if v == absorbing => return Some(absorbing),
                        Some(_) => {}
                    }
                }
                if saw_null {
                    None
                } else {
                    Some(!absorbing)
                }
            }
            Node::Not(operand) => self.truth(*operand).map(|v| !v),
            Node::IsNull(operand) => Some(self.value(*operand).is_null()),
            Node::InSet { operand, set } => {
                let set = &self.program.tables.sets[*set as usize];
                match self.kind(*operand) {
                    Some(kind) => self.any_alternative(*operand, |item| {
                        set.members()
                            .iter()
                            .any(|m| kind.compare(Cmp::Eq, item, m) == Some(true))
                    }),
                    None => self.any_alternative(*operand, |item| set.contains(item)),
                }
            }
            Node::WildcardMatch { operand, glob } => {
                let globs = &self.program.tables.globs[*glob as usize];
                self.any_text(*operand, |text| globs.matches(text))
            }
            Node::RegexMatch { operand, regex } => {
                let regex = &self.program.tables.regexes[*regex as usize];
                self.any_text(*operand, |text| regex.is_match(text))
            }
            Node::Call { args, .. } if self.program.cidr_blocks.contains_key(&id) => {
                // cidrMatch over literal blocks, parsed when the program was loaded.
                let blocks = &self.program.cidr_blocks[&id];
                let address = self.value(args[0]);
                any_true(
                    address
                        .alternatives(self.batch)
                        .map(|item| cidr_match_parsed(&item, blocks)),
                )
            }
            Node::Call {
                func,
                args,
                case_insensitive,
            } if func.is_boolean() => {
                match self.combine(args, |combo| {
                    call(*func, combo, *case_insensitive).unwrap_or(Scalar::Null)
                }) {
                    Val::One(result) => bool_result(&result),
                    results => any_true(results.alternatives(self.batch).map(|r| bool_result(&r))),
                }
            }
            _ => self.value(id).truth(),
        }
    }

    /// The typed semantics of node `id` when it reads a date, ip or version field.
    fn kind(&self, id: u32) -> Option<FieldKind> {
        match self.node(id) {
            Node::LoadField { kind, .. } if kind.is_typed() => Some(*kind),
            _ => None,
        }
    }

    /// `test` over the operand's alternatives: null ones are null, and the
    /// result is true if any alternative passes.
    fn any_alternative(&self, operand: u32, test: impl Fn(&Scalar<'_>) -> bool) -> Option<bool> {
        let value = self.value(operand);
        any_true(
            value
                .alternatives(self.batch)
                .map(|item| (!item.is_null()).then(|| test(&item))),
        )
    }

    /// Pattern matching: a non-string alternative is matched by its text.
    fn any_text(&self, operand: u32, test: impl Fn(&str) -> bool) -> Option<bool> {
        self.any_alternative(operand, |item| match item {
            Scalar::Str(s) => test(s),
            other => to_text(other).is_some_and(|t| test(&t)),
        })
    }

    fn arithmetic(&self, op: Arith, operands: &[u32]) -> Val<'a> {
        self.combine(operands, |combo| {
            let right = combo.get(1).unwrap_or(&Scalar::Null);
            arithmetic(op, &combo[0], right).unwrap_or(Scalar::Null)
        })
    }

    /// Evaluate `args` and apply `f` to every combination of their
    /// alternatives (in `itertools.product` order); one combination when no
    /// argument is multi-valued. Too many combinations: null. Up to
    /// [`INLINE_ARGS`] arguments live on the stack.
    fn combine(&self, args: &[u32], f: impl Fn(&[Scalar<'a>]) -> Scalar<'a>) -> Val<'a> {
        if args.len() > INLINE_ARGS {
            let mut values: Vec<Val<'a>> = args.iter().map(|&a| self.value(a)).collect();
            if !values.iter().any(Val::is_many) {
                let scalars: Vec<Scalar<'a>> = values.iter_mut().map(take_scalar).collect();
                return Val::One(f(&scalars));
            }
            return self.cross_product(values, f);
        }
        let mut values: [Val<'a>; INLINE_ARGS] = std::array::from_fn(|_| NULL);
        for (slot, &arg) in values.iter_mut().zip(args) {
            *slot = self.value(arg);
        }
        let values = &mut values[..args.len()];
        if !values.iter().any(Val::is_many) {
            let mut scalars: [Scalar<'a>; INLINE_ARGS] = std::array::from_fn(|_| Scalar::Null);
            for (slot, value) in scalars.iter_mut().zip(values.iter_mut()) {
                *slot = take_scalar(value);
            }
            return Val::One(f(&scalars[..args.len()]));
        }
        self.cross_product(
            values
                .iter_mut()
                .map(|v| std::mem::replace(v, NULL))
                .collect(),
            f,
        )
    }

    fn cross_product(
        &self,
        values: Vec<Val<'a>>,
        f: impl Fn(&[Scalar<'a>]) -> Scalar<'a>,
    ) -> Val<'a> {
        let total = values.iter().try_fold(1usize, |n, v| {
            n.checked_mul(v.count()).filter(|&n| n <= MAX_COMBINATIONS)
        });
        let Some(total) = total else { return NULL };
        let choices: Vec<Vec<Scalar<'a>>> = values
            .into_iter()
            .map(|v| v.into_alternatives(self.batch))
            .collect();
        let mut results = Vec::with_capacity(total);
        let mut pick = vec![0usize; choices.len()];
        let mut combo: Vec<Scalar<'a>> = choices
            .iter()
            .map(|c| c.first().cloned().unwrap_or(Scalar::Null))
            .collect();
        for _ in 0..total {
            results.push(f(&combo));
            // Odometer: the last argument varies fastest.
            for slot in (0..choices.len()).rev() {
                pick[slot] += 1;
                if pick[slot] < choices[slot].len() {
                    combo[slot] = choices[slot][pick[slot]].clone();
                    break;
                }
                pick[slot] = 0;
                combo[slot] = choices[slot].first().cloned().unwrap_or(Scalar::Null);
            }
        }
        Val::collect(results)
    }
}

/// Function arguments evaluated without touching the heap.
const INLINE_ARGS: usize = 4;

/// The scalar of a single-valued value, leaving null behind.
fn take_scalar<'a>(value: &mut Val<'a>) -> Scalar<'a> {
    match std::mem::replace(value, NULL) {
        Val::One(s) => s,
        _ => Scalar::Null,
    }
}

/// A boolean function's result for `any_true`: only booleans count, null is null.
/// `cidrMatch(address, blocks...)` with the blocks already parsed: null for
/// a null address, false for one that is not an IP, and as the blocks are
/// read in order, null (an error) on reaching one that does not parse.
fn cidr_match_parsed(address: &Scalar<'_>, blocks: &[Option<Block>]) -> Option<bool> {
    if address.is_null() {
        return None;
    }
    let Some(ip) = address.as_str().and_then(parse_ip) else {
        return Some(false);
    };
    for block in blocks {
        match block {
            Some(block) if block.contains(ip) => return Some(true),
            Some(_) => {}
            None => return None,
        }
    }
    Some(false)
}

fn bool_result(value: &Scalar<'_>) -> Option<bool> {
    match value {
        Scalar::Bool(b) => Some(*b),
        Scalar::Null => None,
        _ => Some(false),
    }
}

impl Program {
    fn evaluator<'a>(&'a self, batch: &'a EventBatch, ev: usize, node: u32) -> Option<Eval<'a>> {
        ((node as usize) < self.nodes.len() && ev < batch.len()).then_some(Eval {
            program: self,
            batch,
            ev,
        })
    }

    /// The value of `node` for event `ev`; `None` if either is out of range.
    pub fn eval<'a>(&'a self, batch: &'a EventBatch, ev: usize, node: u32) -> Option<Val<'a>> {
        self.evaluator(batch, ev, node).map(|e| e.value(node))
    }

    /// `node` in a boolean context for event `ev` (null when out of range).
    pub fn eval_predicate(&self, batch: &EventBatch, ev: usize, node: u32) -> Option<bool> {
        self.evaluator(batch, ev, node)?.truth(node)
    }

    /// Step `step`'s predicate for event `ev`, without the category check.
    /// Steps are numbered as in the package ABI: `until` comes last.
    pub fn eval_step(&self, step: usize, batch: &EventBatch, ev: usize) -> Option<bool> {
        self.eval_predicate(batch, ev, self.filter(step)?.predicate)
    }

    /// Whether event `ev` passes step `step` (the interpreter's
    /// `step_matches`): its category matches (a step without one takes any
    /// event) and the predicate is true. `until` is step `steps.len()`.
    pub fn step_matches(&self, step: usize, batch: &EventBatch, ev: usize) -> bool {
        let Some(f) = self.filter(step) else {
            return false;
        };
        if ev >= batch.len() {
            return false;
        }
        if let Some(category) = f.category.as_deref() {
            if !batch.categories(ev).any(|c| c == category) {
                return false;
            }
        }
        self.eval_predicate(batch, ev, f.predicate) == Some(true)
    }
}

impl NodeEvaluator for Program {
    /// The Host API's `eval_node`: 1 true, 0 false, -1 null (also for a bad
    /// node or event index).
    fn eval_node(&self, batch: &EventBatch, ev: usize, node: u32) -> Tri {
        match self.eval_predicate(batch, ev, node) {
            Some(true) => kestrel_host::ops::TRUE,
            Some(false) => kestrel_host::ops::FALSE,
            None => kestrel_host::ops::NULL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cidr::parse_block;
    use crate::node::Func;
    use crate::value::s;

    #[test]
    fn parsed_cidr_blocks_answer_as_the_function_does() {
        let blocks = ["10.0.0.0/8", "bad", "::1", "192.168.0.0/16"];
        let parsed: Vec<Option<Block>> = blocks.iter().map(|b| parse_block(b)).collect();
        for address in [
            s("10.1.2.3"),
            s("11.0.0.1"),
            s("::1"),
            s("192.168.1.1"),
            s("nope"),
            Scalar::Int(1),
            Scalar::Null,
        ] {
            let mut args = vec![address.clone()];
            args.extend(blocks.iter().map(|b| s(b)));
            let expected =
                bool_result(&call(Func::CidrMatch, &args, false).unwrap_or(Scalar::Null));
            assert_eq!(
                cidr_match_parsed(&address, &parsed),
                expected,
                "{address:?}"
            );
        }
    }
}
