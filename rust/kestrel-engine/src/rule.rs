//! A rule as the pipeline runs it: what it is, how it evaluates, its state
//! per partition, its pipes and its counters.

use std::sync::{Arc, Mutex, MutexGuard};

use kestrel_index::Anchor;
use kestrel_ir::Program;
use kestrel_schema::FieldId;
use kestrel_seq::{Config, SequenceMatcher, StateBudget};
use kestrel_wasm::WasmRule;

use crate::pipes::{PipeOp, Pipes};
use crate::EngineError;

/// A lock whose holder panicked still guards plain data: keep using it (the
/// panic itself is reported where it was caught).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    Event,
    Sequence,
    Sample,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Event => "event",
            AlertKind::Sequence => "sequence",
            AlertKind::Sample => "sample",
        }
    }
}

/// What a rule is, independent of how it runs.
#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub id: String,
    /// Digest of everything the rule was built from (checkpoints carry it).
    pub fingerprint: String,
    /// The alert's `rule` object, as JSON.
    pub alert_rule_json: Vec<u8>,
    pub kind: AlertKind,
    /// Event categories the rule can match; empty for any.
    pub categories: Vec<String>,
    /// Its anchors for the rule index ([`kestrel_index::anchors`]); empty
    /// when it cannot be restricted.
    pub anchors: Vec<Vec<Anchor>>,
    /// `| head` / `| tail` in query order, then `size` as a last head.
    pub pipes: Vec<(PipeOp, u64)>,
}

/// How a rule evaluates. The instances given are partition 0's; other
/// partitions get their own, made from them when the pipeline needs them.
pub enum Evaluator {
    /// A Wasm event rule (compiled EQL or a hand-written module).
    Wasm(Arc<Mutex<WasmRule>>),
    /// A sequence or sample: Wasm step predicates and the matcher.
    Sequence {
        predicate: Arc<Mutex<WasmRule>>,
        matcher: Arc<Mutex<SequenceMatcher>>,
        program: Arc<Program>,
        config: Config,
        budget: StateBudget,
    },
    /// Evaluated outside the core (Lua, in the Python shell), once per
    /// batch; its matches are handed to the pipeline.
    External,
}

/// One partition's instances of a rule.
#[derive(Clone)]
pub(crate) struct Part {
    pub predicate: Option<Arc<Mutex<WasmRule>>>,
    pub matcher: Option<Arc<Mutex<SequenceMatcher>>>,
}

/// Counters of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleCounters {
    /// Events offered to the rule.
    pub evaluations: u64,
    pub batches: u64,
    pub matches: u64,
    pub alerts: u64,
    pub errors: u64,
    pub time_ns: u64,
    pub last_error: Option<String>,
    pub quarantined: bool,
}

/// What changes as the rule runs, beside the partitions' own state.
#[derive(Debug, Default)]
pub(crate) struct RuleState {
    pub pipes: Pipes,
    pub counters: RuleCounters,
}

pub struct Rule {
    pub spec: RuleSpec,
    evaluator: Evaluator,
    parts: Mutex<Vec<Part>>,
    pub(crate) state: Mutex<RuleState>,
}

impl Rule {
    pub fn new(spec: RuleSpec, evaluator: Evaluator) -> Rule {
        let first = match &evaluator {
            Evaluator::Wasm(w) => Part {
                predicate: Some(w.clone()),
                matcher: None,
            },
            Evaluator::Sequence {
                predicate, matcher, ..
            } => Part {
                predicate: Some(predicate.clone()),
                matcher: Some(matcher.clone()),
            },
            Evaluator::External => Part {
                predicate: None,
                matcher: None,
            },
        };
        let state = RuleState {
            pipes: Pipes::new(&spec.pipes),
            counters: RuleCounters::default(),
        };
        Rule {
            spec,
            evaluator,
            parts: Mutex::new(vec![first]),
            state: Mutex::new(state),
        }
    }

    pub fn is_external(&self) -> bool {
        matches!(self.evaluator, Evaluator::External)
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self.evaluator, Evaluator::Sequence { .. })
    }

    /// Whether every event that shares a join key with another also shares
    /// its entity (`entity` is the field the decoder keys events by): then
    /// the rule's state splits by entity across partitions. True when some
    /// position of every filter's join key is the entity field. A rule
    /// without join keys, or joined on other fields (`user.name`,
    /// `source.ip`), keeps its state in one partition that sees every event.
    pub fn joins_on(&self, entity: FieldId) -> bool {
        let Evaluator::Sequence { matcher, .. } = &self.evaluator else {
            return true;
        };
        let matcher = lock(matcher);
        let plan = matcher.plan();
        let specs: Vec<&Vec<kestrel_ir::FieldRef>> = plan
            .filters
            .iter()
            .map(|f| &plan.key_specs[f.key_spec])
            .collect();
        let width = specs.iter().map(|s| s.len()).min().unwrap_or(0);
        (0..width).any(|i| specs.iter().all(|s| s[i].field == entity))
    }

    /// Make sure `count` partitions have their instances: Wasm modules are
    /// instantiated again (compiled once), matchers start empty.
    pub fn ensure_partitions(&self, count: usize) -> Result<(), EngineError> {
        let mut parts = lock(&self.parts);
        while parts.len() < count {
            let part = match &self.evaluator {
                Evaluator::Wasm(w) => Part {
                    predicate: Some(Arc::new(Mutex::new(self.fork(w)?))),
                    matcher: None,
                },
                Evaluator::Sequence {
                    predicate, matcher, ..
                } => Part {
                    predicate: Some(Arc::new(Mutex::new(self.fork(predicate)?))),
                    matcher: Some(Arc::new(Mutex::new(lock(matcher).empty_like()))),
                },
                Evaluator::External => Part {
                    predicate: None,
                    matcher: None,
                },
            };
            parts.push(part);
        }
        Ok(())
    }

    fn fork(&self, wasm: &Arc<Mutex<WasmRule>>) -> Result<WasmRule, EngineError> {
        lock(wasm).fork().map_err(|e| EngineError::Rule {
            rule: self.spec.id.clone(),
            message: e.to_string(),
        })
    }

    pub(crate) fn part(&self, p: usize) -> Option<Part> {
        lock(&self.parts).get(p).cloned()
    }

    pub(crate) fn parts(&self) -> Vec<Part> {
        lock(&self.parts).clone()
    }

    pub fn counters(&self) -> RuleCounters {
        lock(&self.state).counters.clone()
    }

    /// Whether evaluating the rule can still produce anything: not
    /// quarantined, and no full `| head` ends its output.
    pub(crate) fn live(&self) -> bool {
        let state = lock(&self.state);
        !state.counters.quarantined && !state.pipes.exhausted()
    }

    pub fn pipe_stats(&self) -> (Vec<crate::pipes::StageStats>, u64, bool) {
        let state = lock(&self.state);
        (
            state.pipes.stats(),
            state.pipes.emitted,
            state.pipes.exhausted(),
        )
    }
}

impl Rule {
    /// The fields the rule reads (`None`: it may read any, as a rule
    /// evaluated outside the core or a module addressing schema ids).
    pub fn fields(&self) -> Option<Vec<FieldId>> {
        let (predicate, program) = match &self.evaluator {
            Evaluator::External => return None,
            Evaluator::Wasm(w) => (w, None),
            Evaluator::Sequence {
                predicate, program, ..
            } => (predicate, Some(program)),
        };
        let mut fields: Vec<FieldId> = lock(predicate).field_ids().to_vec();
        if fields.is_empty() {
            return None;
        }
        if let Some(program) = program {
            let rule = &program.rule;
            let keys = rule
                .by
                .iter()
                .chain(rule.steps.iter().chain(&rule.until).flat_map(|f| &f.by));
            fields.extend(
                keys.chain(&program.event_fields.tiebreaker)
                    .map(|f| f.field),
            );
        }
        fields.retain(|&f| f != FieldId::MAX);
        Some(fields)
    }

    /// A new, empty matcher for this rule to restore state into (`None` for
    /// an event rule), on counters of its own until it replaces a live one.
    pub(crate) fn fresh_matcher(&self) -> Option<SequenceMatcher> {
        let Evaluator::Sequence { matcher, .. } = &self.evaluator else {
            return None;
        };
        Some(lock(matcher).empty_detached())
    }
}
