//! The matcher's view of a rule: steps with `runs` expanded, each missing
//! step placed relative to the positive steps around it, and the distinct
//! join-key field lists, so an event's key is computed once per list.

use kestrel_ir::{FieldRef, Filter, Program, RuleKind};

use crate::SeqError;

/// The most filters a rule may have: an event's matches are a `u64` mask.
pub const MAX_FILTERS: usize = 64;

/// Where a missing step sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Before the first positive step.
    Leading,
    /// Between positive steps `p` and `p + 1`: an event of it discards the
    /// partial match waiting in state `p`.
    Between(usize),
    /// After the last positive step: decided when the window closes.
    Trailing,
}

/// How the matcher handles one filter of the rule (ABI order: steps, then `until`).
#[derive(Clone, Debug)]
pub struct FilterPlan {
    pub key_spec: usize,
    /// Positive steps this filter drives, in sequence order (a step with
    /// `runs=n` drives n consecutive positions).
    pub positions: Vec<usize>,
    pub missing: Vec<Missing>,
    pub until: bool,
    /// For samples: the filter's position.
    pub sample_slot: Option<usize>,
}

/// A sequence or sample rule, ready for the matcher.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kind: RuleKind,
    pub filters: Vec<FilterPlan>,
    /// Distinct join-key field lists (sequence-level `by` then step `by`).
    pub key_specs: Vec<Vec<FieldRef>>,
    /// Positive positions after `runs` expansion; each names its filter.
    pub positive_filters: Vec<usize>,
    /// For output: every position (positive or missing) in order, as
    /// `Some(positive index)` or `None` for a missing placeholder.
    pub layout: Vec<Option<usize>>,
    pub maxspan_ns: Option<i64>,
    pub has_leading: bool,
    pub has_trailing: bool,
    /// The tiebreaker field, used to order events with equal timestamps.
    pub tiebreaker: Option<FieldRef>,
}

impl Plan {
    pub fn from_program(program: &Program) -> Result<Plan, SeqError> {
        let rule = &program.rule;
        if rule.kind == RuleKind::Event {
            return Err(SeqError::Plan(
                "an event query is not a sequence or sample".into(),
            ));
        }
        let count = program.filter_count();
        if count > MAX_FILTERS {
            return Err(SeqError::Plan(format!(
                "{count} filters; at most {MAX_FILTERS} are supported"
            )));
        }
        let mut key_specs: Vec<Vec<FieldRef>> = Vec::new();
        let mut spec_of = |filter: &Filter| -> usize {
            let fields: Vec<FieldRef> = rule.by.iter().chain(&filter.by).cloned().collect();
            match key_specs.iter().position(|s| same_fields(s, &fields)) {
                Some(i) => i,
                None => {
                    key_specs.push(fields);
                    key_specs.len() - 1
                }
            }
        };
        let mut filters: Vec<FilterPlan> = program
            .filters()
            .map(|f| FilterPlan {
                key_spec: spec_of(f),
                positions: vec![],
                missing: vec![],
                until: false,
                sample_slot: None,
            })
            .collect();
        if rule.until.is_some() {
            filters[count - 1].until = true;
        }

        let mut positive_filters = Vec::new();
        let mut layout = Vec::new();
        // Missing steps are placed once the positive count before them is known.
        let mut pending_missing: Vec<(usize, usize)> = Vec::new(); // (filter, positives before)
        for (index, step) in rule.steps.iter().enumerate() {
            if rule.kind == RuleKind::Sample {
                filters[index].sample_slot = Some(index);
                positive_filters.push(index);
                layout.push(Some(index));
                continue;
            }
            for _ in 0..step.runs.max(1) {
                if step.missing {
                    pending_missing.push((index, positive_filters.len()));
                    layout.push(None);
                } else {
                    filters[index].positions.push(positive_filters.len());
                    layout.push(Some(positive_filters.len()));
                    positive_filters.push(index);
                }
            }
        }
        let positives = positive_filters.len();
        if positives == 0 {
            return Err(SeqError::Plan(
                "a sequence needs at least one positive step".into(),
            ));
        }
        let (mut has_leading, mut has_trailing) = (false, false);
        for (filter, before) in pending_missing {
            let place = if before == 0 {
                has_leading = true;
                Missing::Leading
            } else if before == positives {
                has_trailing = true;
                Missing::Trailing
            } else {
                Missing::Between(before - 1)
            };
            if !filters[filter].missing.contains(&place) {
                filters[filter].missing.push(place);
            }
        }
        let maxspan_ns = rule
            .maxspan_ns
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        if (has_leading || has_trailing) && maxspan_ns.is_none() {
            return Err(SeqError::Plan(
                "leading or trailing missing steps need `with maxspan`".into(),
            ));
        }
        Ok(Plan {
            kind: rule.kind,
            filters,
            key_specs,
            positive_filters,
            layout,
            maxspan_ns,
            has_leading,
            has_trailing,
            tiebreaker: program.event_fields.tiebreaker.clone(),
        })
    }

    /// Number of positive positions (sequence) or filters (sample).
    pub fn positives(&self) -> usize {
        self.positive_filters.len()
    }
}

fn same_fields(a: &[FieldRef], b: &[FieldRef]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.field == y.field && x.optional == y.optional)
}
