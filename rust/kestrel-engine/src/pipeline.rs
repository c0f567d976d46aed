//! The per-batch loop: which rules a batch goes to, evaluation across
//! partitions in parallel threads, then each rule's results in
//! Elasticsearch order through its pipes, deduplication and out as JSON
//! lines.
//!
//! A batch is split by entity ([`kestrel_event::partition_rows`]): each
//! partition has its own instance of every rule (Wasm modules are compiled
//! once and instantiated per partition) and its own sequence state, and one
//! thread evaluates it. A sequence joined on the entity keeps its state per
//! partition; one joined on anything else (`user.name`, no join key at all)
//! lives in a single partition, its *home*, which evaluates it over the
//! whole batch. Every matcher sees every event's time, so windows close at
//! the same events whatever the number of partitions.
//!
//! The results of all partitions are merged per rule and sorted by
//! (timestamp, tiebreaker, ingest number) before the pipes: the alerts are
//! the same, in the same order, for any number of partitions.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use ahash::AHashMap;
use kestrel_event::{
    partition_of, partition_rows, DecodeOptions, Decoder, EventBatch, Partitions, SourceInfo,
};
use kestrel_index::RuleIndex;
use kestrel_schema::{FieldId, Schema};
use kestrel_seq::{decode_key, EvRef, Match, SequenceMatcher};
use kestrel_wasm::WasmRule;

use crate::dedup::Dedup;
use crate::render::{
    captures_object, event_order, event_time, render, Alert, AlertParts, FieldKeys, MISSING,
};
use crate::rule::{lock, Part, Rule};
use crate::threads;
use crate::EngineError;

/// Settings fixed for the pipeline's life.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Partitions (and threads) a batch is split into.
    pub partitions: usize,
    /// Identical alerts within this much event time are suppressed; 0 is off.
    pub dedup_window_ns: i64,
    /// Orders events with equal timestamps.
    pub tiebreaker: Option<FieldId>,
    /// The field events are partitioned by (the decoder's entity key).
    pub entity: FieldId,
    /// Offer a batch only to rules whose categories and anchors it has
    /// (the initial setting; see [`Pipeline::set_indexing`]).
    pub indexing: bool,
}

/// The matches of a rule evaluated outside the core (a Lua rule), for one batch.
#[derive(Clone, Debug, Default)]
pub struct ExternalMatches {
    /// The rule's position in the rule set.
    pub rule: usize,
    /// (event index, captures as a JSON object).
    pub hits: Vec<(u32, Vec<u8>)>,
    pub offered: u64,
    pub elapsed_ns: u64,
    pub error: Option<String>,
    pub quarantined: bool,
}

/// Which of a batch's work one call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything: the batch is split by entity over all partitions.
    All,
    /// The batch holds only events of partition `p` (a distributed runner
    /// keyed them there): event rules and the sequences joined on the
    /// entity, with `p`'s state. Sequences joined on anything else need
    /// every event and are left to [`Scope::CrossEntity`].
    Partition(usize),
    /// Only the sequences not joined on the entity, each in its home
    /// partition, over a batch a runner sends to one place whole.
    CrossEntity,
}

/// What a call produced: its alerts' JSON lines, in output order. They are
/// kept as rendered and joined once, where the caller wants them (see
/// [`Output::write_into`]): joining them here would copy every alert once
/// more, and regrow the buffer as rule after rule adds to it.
#[derive(Debug, Default)]
pub struct Output {
    lines: Vec<Vec<u8>>,
}

impl Output {
    /// How many alerts the call produced.
    pub fn alerts(&self) -> usize {
        self.lines.len()
    }

    /// The length of the alerts as JSON lines, each ending in a newline.
    pub fn byte_len(&self) -> usize {
        self.lines.iter().map(|line| line.len() + 1).sum()
    }

    /// Write the alerts as JSON lines into `buf`, which must be
    /// [`Output::byte_len`] bytes long.
    pub fn write_into(&self, buf: &mut [u8]) {
        let mut at = 0;
        for line in &self.lines {
            buf[at..at + line.len()].copy_from_slice(line);
            at += line.len();
            buf[at] = b'\n';
            at += 1;
        }
    }
}

/// A rule's evaluation in one partition.
#[derive(Default)]
struct Outcome {
    offered: u64,
    matches: u64,
    elapsed_ns: u64,
    error: Option<String>,
    quarantined: bool,
    alerts: Vec<Alert>,
}

/// The rules, with what selects them for a batch. Replaced whole when rules
/// change; a batch in flight keeps the set it started with.
pub struct RuleSet {
    pub rules: Vec<Arc<Rule>>,
    any: Vec<usize>,
    buckets: AHashMap<String, Vec<usize>>,
    selections: Mutex<AHashMap<Vec<String>, Arc<Vec<usize>>>>,
    index: Option<RuleIndex>,
    /// Per rule: `None` to run in every partition on its events, or the one
    /// partition that runs it on the whole batch.
    pub(crate) home: Vec<Option<usize>>,
    indexing: bool,
    /// Every field some rule reads, or `None` when a rule may read any.
    fields: Option<Vec<FieldId>>,
    /// Captured fields' JSON keys, made when the set is.
    keys: FieldKeys,
}

impl RuleSet {
    fn new(
        rules: Vec<Arc<Rule>>,
        schema: &Schema,
        config: &PipelineConfig,
        indexing: bool,
    ) -> RuleSet {
        let mut any = Vec::new();
        let mut buckets: AHashMap<String, Vec<usize>> = AHashMap::new();
        for (position, rule) in rules.iter().enumerate() {
            // A sequence's clock moves with every event, of any category:
            // a batch it cannot match still expires partials and settles
            // trailing missing steps.
            if rule.spec.categories.is_empty() || rule.is_sequence() {
                any.push(position);
                continue;
            }
            for category in &rule.spec.categories {
                buckets.entry(category.clone()).or_default().push(position);
            }
        }
        let index = indexing.then(|| {
            // Rules evaluated outside the core are never restricted.
            RuleIndex::from_anchors(
                rules
                    .iter()
                    .map(|r| {
                        if r.is_external() {
                            Vec::new()
                        } else {
                            r.spec.anchors.clone()
                        }
                    })
                    .collect(),
            )
        });
        let home = rules
            .iter()
            .map(|rule| {
                (!rule.joins_on(config.entity))
                    .then(|| partition_of(Some(&rule.spec.id), config.partitions))
            })
            .collect();
        let mut fields: Option<Vec<FieldId>> = Some(config.tiebreaker.into_iter().collect());
        for rule in &rules {
            match (rule.fields(), fields.as_mut()) {
                (Some(found), Some(all)) => all.extend(found),
                _ => fields = None,
            }
        }
        if let Some(all) = fields.as_mut() {
            all.sort_unstable();
            all.dedup();
        }
        RuleSet {
            rules,
            any,
            buckets,
            selections: Mutex::new(AHashMap::new()),
            index,
            home,
            indexing,
            fields,
            keys: FieldKeys::new(schema),
        }
    }

    /// The positions of the rules a batch must be offered to, in load order.
    pub fn select(&self, batch: &EventBatch) -> Arc<Vec<usize>> {
        if !self.indexing {
            return Arc::new((0..self.rules.len()).collect());
        }
        let mut key: Vec<String> = batch.category_names().to_vec();
        key.sort_unstable();
        if let Some(found) = lock(&self.selections).get(&key) {
            return found.clone();
        }
        let mut positions = self.any.clone();
        for category in &key {
            positions.extend(self.buckets.get(category).into_iter().flatten());
        }
        positions.sort_unstable();
        positions.dedup();
        let found = Arc::new(positions);
        let mut selections = lock(&self.selections);
        // Distinct category mixes are few; stay bounded anyway.
        if selections.len() < 4096 {
            selections.insert(key, found.clone());
        }
        found
    }

    /// Every field some rule reads (what the decoder need store), or
    /// `None` when a rule may read any field.
    pub fn fields(&self) -> Option<&[FieldId]> {
        self.fields.as_deref()
    }

    /// How many rules the index restricts to candidate events.
    pub fn anchored(&self) -> usize {
        self.index.as_ref().map_or(0, RuleIndex::anchored)
    }

    /// Rule `position`'s anchor, e.g. `process.name in 14 values (ci)`.
    pub fn anchor(&self, position: usize) -> Option<String> {
        self.index
            .as_ref()?
            .anchor(position)
            .map(ToString::to_string)
    }
}

/// One unit of a batch's work: a rule, and for a sequence the partition
/// whose state it runs on (and whether over that partition's events only).
#[derive(Clone, Copy, Debug)]
struct Task {
    position: usize,
    partition: Option<(usize, bool)>,
}

/// Where a pipeline's time went, in nanoseconds summed over batches (and,
/// for the stages that run in partitions, over threads).
#[derive(Debug, Default)]
pub struct Timings {
    /// Rule selection, the index's candidates, the partition split.
    pub select: AtomicU64,
    /// Event rules' predicates.
    pub event_rules: AtomicU64,
    /// Sequence and sample rules: step predicates and matching.
    pub sequences: AtomicU64,
    /// Alert documents: captures and JSON lines.
    pub alerts: AtomicU64,
    /// Per rule: ordering, pipes, deduplication, output.
    pub merge: AtomicU64,
}

impl Timings {
    fn add(counter: &AtomicU64, since: Instant) -> Instant {
        let now = Instant::now();
        counter.fetch_add((now - since).as_nanos() as u64, Ordering::Relaxed);
        now
    }

    /// (stage, nanoseconds) for every stage.
    pub fn snapshot(&self) -> [(&'static str, u64); 5] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("select", get(&self.select)),
            ("event_rules", get(&self.event_rules)),
            ("sequences", get(&self.sequences)),
            ("alerts", get(&self.alerts)),
            ("merge", get(&self.merge)),
        ]
    }
}

/// Alerts raised, and those suppressed as duplicates.
#[derive(Debug, Default)]
pub(crate) struct Emitted {
    pub dedup: Dedup,
    pub alerts: u64,
}

pub struct Pipeline {
    pub(crate) schema: Schema,
    pub(crate) config: PipelineConfig,
    indexing: AtomicBool,
    set: RwLock<Arc<RuleSet>>,
    /// Rules given since the set was last built. Building a set (the index
    /// above all) costs in proportion to all its rules; a caller that adds
    /// rules one at a time then pays for one build, at the first batch.
    pending: Mutex<Option<Vec<Arc<Rule>>>>,
    pub(crate) emitted: Mutex<Emitted>,
    pub timings: Timings,
}

/// The candidates of one filter in one partition: the index's list (already
/// restricted to the partition), the partition's events, or the whole batch.
enum Offer<'a> {
    All,
    Rows(&'a [u32]),
    Indexed(Cow<'a, [u32]>),
}

impl Offer<'_> {
    /// `share`: the batch's split and the partition offered to, or `None`
    /// for the whole batch.
    fn new<'a>(indexed: Option<&'a [u32]>, share: Option<(&'a Partitions, usize)>) -> Offer<'a> {
        match (indexed, share) {
            (Some(list), Some((parts, p))) => Offer::Indexed(Cow::Owned(parts.restrict(list, p))),
            // The whole batch: the index's list as it is.
            (Some(list), None) => Offer::Indexed(Cow::Borrowed(list)),
            (None, Some((parts, p))) => Offer::Rows(&parts.rows[p]),
            (None, None) => Offer::All,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Offer::All => false,
            Offer::Rows(r) => r.is_empty(),
            Offer::Indexed(l) => l.is_empty(),
        }
    }

    fn len(&self, batch: &EventBatch) -> u64 {
        match self {
            Offer::All => batch.len() as u64,
            Offer::Rows(r) => r.len() as u64,
            Offer::Indexed(l) => l.len() as u64,
        }
    }

    fn evaluate(
        &self,
        wasm: &mut WasmRule,
        batch: &EventBatch,
        filter: u32,
    ) -> Result<Vec<u32>, kestrel_wasm::WasmError> {
        match self {
            Offer::All => wasm.evaluate_subset(batch, filter, None, false),
            Offer::Rows(r) => wasm.evaluate_subset(batch, filter, Some(r), false),
            Offer::Indexed(l) => wasm.evaluate_subset(batch, filter, Some(l), true),
        }
    }
}

impl Outcome {
    /// Record that `rule` failed with `error`; `wasm` is its instance when
    /// the failure was its code's (which may have quarantined it).
    fn fail(&mut self, rule: &Rule, error: impl std::fmt::Display, wasm: Option<&WasmRule>) {
        self.error = Some(format!("rule {}: {error}", rule.spec.id));
        self.quarantined |= wasm.is_some_and(|w| w.health().quarantined);
    }

    /// Keep `rule`'s alerts, or record why its code failed to give them.
    fn alerts_or_fail<E: std::fmt::Display>(
        &mut self,
        rule: &Rule,
        result: Result<Vec<Alert>, E>,
        wasm: &WasmRule,
    ) {
        match result {
            Ok(alerts) => self.alerts = alerts,
            Err(e) => self.fail(rule, e, Some(wasm)),
        }
    }

    /// The outcome of a rule's work that began at `started`.
    fn finished(mut self, started: Instant) -> Option<Outcome> {
        self.elapsed_ns = started.elapsed().as_nanos() as u64;
        Some(self)
    }
}

impl Pipeline {
    pub fn new(schema: Schema, config: PipelineConfig) -> Pipeline {
        let config = PipelineConfig {
            partitions: config.partitions.max(1),
            ..config
        };
        let set = Arc::new(RuleSet::new(Vec::new(), &schema, &config, config.indexing));
        let emitted = Emitted {
            dedup: Dedup::new(config.dedup_window_ns),
            alerts: 0,
        };
        let indexing = AtomicBool::new(config.indexing);
        Pipeline {
            schema,
            config,
            indexing,
            set: RwLock::new(set),
            pending: Mutex::new(None),
            emitted: Mutex::new(emitted),
            timings: Timings::default(),
        }
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Alerts emitted, and those suppressed as duplicates.
    pub fn totals(&self) -> (u64, u64) {
        let emitted = lock(&self.emitted);
        (emitted.alerts, emitted.dedup.suppressed)
    }

    /// Replace the rule set (between batches). Rules carried over keep
    /// their state; each gets its instances for every partition first, so
    /// a rule that cannot be instantiated fails here and nothing changes.
    pub fn set_rules(&self, rules: Vec<Arc<Rule>>) -> Result<(), EngineError> {
        for rule in &rules {
            rule.ensure_partitions(self.config.partitions)?;
        }
        *lock(&self.pending) = Some(rules);
        Ok(())
    }

    /// Switch rule indexing (categories and anchors) on or off, between batches.
    pub fn set_indexing(&self, on: bool) -> Result<(), EngineError> {
        let rules = self.rules().rules.clone();
        self.indexing.store(on, Ordering::Relaxed);
        self.set_rules(rules)
    }

    /// The current rule set (built now if rules changed since the last call).
    pub fn rules(&self) -> Arc<RuleSet> {
        let mut pending = lock(&self.pending);
        if let Some(rules) = pending.take() {
            let set = Arc::new(RuleSet::new(
                rules,
                &self.schema,
                &self.config,
                self.indexing.load(Ordering::Relaxed),
            ));
            *self.set.write().unwrap_or_else(|e| e.into_inner()) = set.clone();
            return set;
        }
        drop(pending);
        self.set.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The positions of the sequences not joined on the entity: the work of
    /// [`Scope::CrossEntity`].
    pub fn cross_entity_rules(&self) -> Vec<usize> {
        let set = self.rules();
        (0..set.rules.len())
            .filter(|&p| set.rules[p].is_sequence() && set.home[p].is_some())
            .collect()
    }

    /// The positions of the rules evaluated outside the core that `batch`
    /// must be offered to (by category), and that can still alert.
    pub fn external_rules(&self, batch: &EventBatch) -> Vec<usize> {
        let set = self.rules();
        let selected = set.select(batch);
        selected
            .iter()
            .copied()
            .filter(|&p| set.rules[p].is_external() && set.rules[p].live())
            .collect()
    }

    /// Evaluate one batch: every selected rule in every partition, then the
    /// merged results through pipes and deduplication. `external` carries
    /// the matches of rules evaluated outside the core on this batch.
    pub fn process(
        &self,
        batch: &EventBatch,
        external: Vec<ExternalMatches>,
    ) -> Result<Output, EngineError> {
        self.process_scoped(batch, external, Scope::All)
    }

    /// [`Pipeline::process`], restricted to one [`Scope`]'s work.
    pub fn process_scoped(
        &self,
        batch: &EventBatch,
        external: Vec<ExternalMatches>,
        scope: Scope,
    ) -> Result<Output, EngineError> {
        if let Scope::Partition(p) = scope {
            self.check_partition(p)?;
        }
        let started = Instant::now();
        let set = self.rules();
        let selected = set.select(batch);
        let n = self.config.partitions;
        let lists = set
            .index
            .as_ref()
            .map(|index| threads::within(n, || index.candidates_by_filter_on(batch, n)));
        let split = (n > 1 && scope == Scope::All).then(|| partition_rows(batch, n));
        Timings::add(&self.timings.select, started);
        let mut tasks = self.tasks(&set, &selected, scope);
        if n > 1 {
            // Longest first, so that no thread is left with a long task
            // while the others have finished: a task's cost is taken to be
            // the events offered to its rule.
            let offered = |task: &Task| match lists.as_deref().map(|l| l[task.position].as_deref())
            {
                Some(Some(filters)) => filters.iter().map(Vec::len).sum(),
                _ => batch.len(),
            };
            tasks.sort_by_cached_key(|task| std::cmp::Reverse(offered(task)));
        }
        let next = AtomicUsize::new(0);
        let run = |thread: usize| {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&task) = tasks.get(i) else { break };
                let index = lists.as_deref().and_then(|l| l[task.position].as_deref());
                if let Some(outcome) =
                    self.run_task(&set, task, thread, batch, split.as_ref(), index)
                {
                    out.push((task.position, outcome));
                }
            }
            out
        };
        let outcomes: Vec<Vec<(usize, Outcome)>> = if n == 1 || tasks.len() < 2 {
            vec![run(0)]
        } else {
            threads::each(n, run).map_err(|message| {
                EngineError::Internal(format!("a rule's evaluation panicked: {message}"))
            })?
        };
        let started = Instant::now();
        let mut by_rule: AHashMap<usize, Vec<Outcome>> = AHashMap::new();
        for (position, outcome) in outcomes.into_iter().flatten() {
            by_rule.entry(position).or_default().push(outcome);
        }
        for found in external {
            let Some(rule) = set.rules.get(found.rule) else {
                return Err(EngineError::Internal(format!(
                    "no rule at position {}",
                    found.rule
                )));
            };
            let outcome = self.external_outcome(rule, batch, found)?;
            by_rule.entry(outcome.0).or_default().push(outcome.1);
        }
        let mut out = Output::default();
        for &position in selected.iter() {
            if let Some(outcomes) = by_rule.remove(&position) {
                let rule = &set.rules[position];
                let alerts = finish(rule, outcomes);
                self.emit(rule, alerts, &mut out);
            }
        }
        Timings::add(&self.timings.merge, started);
        Ok(out)
    }

    /// End of input: settle every sequence (trailing missing steps,
    /// buffered events) and release what tail pipes hold.
    pub fn flush(&self) -> Result<Output, EngineError> {
        let set = self.rules();
        let mut out = Output::default();
        for rule in &set.rules {
            let mut alerts = Vec::new();
            if rule.is_sequence() && rule.live() {
                alerts = self.settle(rule, rule.parts(), SequenceMatcher::flush, true);
            }
            alerts.extend(lock(&rule.state).pipes.flush());
            self.emit(rule, alerts, &mut out);
        }
        Ok(out)
    }

    /// Run `step` (flush, advance) on the matchers of `parts`, and put the
    /// matches it completes through the rule's pipes.
    pub(crate) fn settle(
        &self,
        rule: &Rule,
        parts: Vec<Part>,
        mut step: impl FnMut(&mut SequenceMatcher) -> Vec<Match>,
        count: bool,
    ) -> Vec<Alert> {
        let mut outcome = Outcome::default();
        let set = self.rules();
        for part in parts {
            let (Some(predicate), Some(matcher)) = (part.predicate, part.matcher) else {
                continue;
            };
            let matches = step(&mut lock(&matcher));
            if matches.is_empty() {
                continue;
            }
            outcome.matches += matches.len() as u64;
            let mut instance = lock(&predicate);
            let mut wasm = instance.batch();
            match self.sequence_alerts(rule, &set.keys, &mut wasm, matches, None) {
                Ok(found) => outcome.alerts.extend(found),
                Err(e) => outcome.fail(rule, e, Some(&*wasm)),
            }
        }
        if !count && outcome.matches == 0 && outcome.error.is_none() {
            return Vec::new();
        }
        finish(rule, vec![outcome])
    }

    pub(crate) fn emit(&self, rule: &Rule, alerts: Vec<Alert>, out: &mut Output) {
        if alerts.is_empty() {
            return;
        }
        let kept = {
            let mut emitted = lock(&self.emitted);
            let kept = emitted.dedup.admit(alerts);
            emitted.alerts += kept.len() as u64;
            kept
        };
        lock(&rule.state).counters.alerts += kept.len() as u64;
        out.lines.extend(kept.into_iter().map(|alert| alert.line));
    }

    /// The batch's work, in units any thread can take. An event rule is
    /// one unit over the whole batch (rules keep no state, so any thread's
    /// instance will do); a sequence joined on the entity is one unit per
    /// partition, over that partition's events and with its state; any
    /// other sequence is one unit in its home partition.
    fn tasks(&self, set: &RuleSet, selected: &[usize], scope: Scope) -> Vec<Task> {
        let n = self.config.partitions;
        let mut tasks = Vec::with_capacity(selected.len());
        for &position in selected {
            let rule = &set.rules[position];
            if rule.is_external() || !rule.live() {
                continue;
            }
            let event = |partition| Task {
                position,
                partition,
            };
            match (rule.is_sequence(), set.home[position], scope) {
                (false, _, Scope::All | Scope::Partition(_)) => tasks.push(event(None)),
                (true, Some(home), Scope::All | Scope::CrossEntity) => {
                    tasks.push(event(Some((home, false))))
                }
                (true, None, Scope::All) => tasks.extend((0..n).map(|p| event(Some((p, n > 1))))),
                // The whole batch is partition p's.
                (true, None, Scope::Partition(p)) => tasks.push(event(Some((p, false)))),
                _ => {}
            }
        }
        tasks
    }

    fn run_task(
        &self,
        set: &RuleSet,
        task: Task,
        thread: usize,
        batch: &EventBatch,
        split: Option<&Partitions>,
        index: Option<&[Vec<u32>]>,
    ) -> Option<Outcome> {
        let rule = &set.rules[task.position];
        match task.partition {
            None => self.run_event(rule, &set.keys, thread, batch, index),
            Some((p, own_events)) => {
                let share = split.filter(|_| own_events).map(|parts| (parts, p));
                self.run_sequence(rule, &set.keys, &rule.part(p)?, batch, share, index)
            }
        }
    }

    fn run_event(
        &self,
        rule: &Rule,
        keys: &FieldKeys,
        thread: usize,
        batch: &EventBatch,
        index: Option<&[Vec<u32>]>,
    ) -> Option<Outcome> {
        let offer = Offer::new(index.map(|l| l[0].as_slice()), None);
        if offer.is_empty() {
            return None; // nothing in this batch could match
        }
        // Taken only now: it locks the rule's instances.
        let part = rule.part(thread)?;
        let predicate = part.predicate.as_ref()?;
        let started = Instant::now();
        let mut instance = lock(predicate);
        let mut wasm = instance.batch();
        let mut outcome = Outcome {
            offered: offer.len(batch),
            ..Outcome::default()
        };
        let result = offer.evaluate(&mut wasm, batch, 0).and_then(|hits| {
            outcome.matches = hits.len() as u64;
            let evaluated = Timings::add(&self.timings.event_rules, started);
            let alerts = self.event_alerts(rule, keys, &mut wasm, batch, &hits);
            Timings::add(&self.timings.alerts, evaluated);
            alerts
        });
        outcome.alerts_or_fail(rule, result, &wasm);
        outcome.finished(started)
    }

    fn event_alerts(
        &self,
        rule: &Rule,
        keys: &FieldKeys,
        wasm: &mut WasmRule,
        batch: &EventBatch,
        hits: &[u32],
    ) -> Result<Vec<Alert>, kestrel_wasm::WasmError> {
        let mut alerts = Vec::with_capacity(hits.len());
        let mut captures = Vec::new();
        for &ev in hits {
            let fields = wasm.capture(batch, ev)?;
            captures.clear();
            captures_object(keys, batch, ev as usize, &fields, &mut captures);
            alerts.push(self.event_alert(rule, batch, ev as usize, &captures));
        }
        Ok(alerts)
    }

    fn event_alert(&self, rule: &Rule, batch: &EventBatch, ev: usize, captures: &[u8]) -> Alert {
        render(&AlertParts {
            rule_id: &rule.spec.id,
            rule_json: &rule.spec.alert_rule_json,
            kind: "event",
            timestamp: event_time(batch.timestamp(ev)),
            join_keys: None,
            events: &[batch.raw(ev)],
            captures,
            order: event_order(batch, ev, self.config.tiebreaker),
        })
    }

    fn external_outcome(
        &self,
        rule: &Rule,
        batch: &EventBatch,
        found: ExternalMatches,
    ) -> Result<(usize, Outcome), EngineError> {
        if let Some(&(bad, _)) = found
            .hits
            .iter()
            .find(|(ev, _)| *ev as usize >= batch.len())
        {
            return Err(EngineError::Rule {
                rule: rule.spec.id.clone(),
                message: format!("matched event {bad}, outside the batch of {}", batch.len()),
            });
        }
        let alerts = found
            .hits
            .iter()
            .map(|(ev, captures)| self.event_alert(rule, batch, *ev as usize, captures))
            .collect();
        let outcome = Outcome {
            offered: found.offered,
            matches: found.hits.len() as u64,
            elapsed_ns: found.elapsed_ns,
            error: found.error,
            quarantined: found.quarantined,
            alerts,
        };
        Ok((found.rule, outcome))
    }

    fn run_sequence(
        &self,
        rule: &Rule,
        keys: &FieldKeys,
        part: &Part,
        batch: &EventBatch,
        share: Option<(&Partitions, usize)>,
        index: Option<&[Vec<u32>]>,
    ) -> Option<Outcome> {
        let (predicate, matcher) = (part.predicate.as_ref()?, part.matcher.as_ref()?);
        let started = Instant::now();
        let mut instance = lock(predicate);
        let mut wasm = instance.batch();
        let mut matcher = lock(matcher);
        let count = matcher.plan().filters.len();
        let offers: Vec<Offer<'_>> = (0..count)
            .map(|f| Offer::new(index.map(|l| l[f].as_slice()), share))
            .collect();
        let mut outcome = Outcome {
            offered: offers.iter().map(|o| o.len(batch)).sum(),
            ..Outcome::default()
        };
        let result =
            (|| -> Result<Result<Vec<Match>, kestrel_seq::SeqError>, kestrel_wasm::WasmError> {
                let mut lists: Vec<Option<Vec<u32>>> = vec![None; count];
                let passing =
                    |f: usize, wasm: &mut WasmRule| -> Result<Vec<u32>, kestrel_wasm::WasmError> {
                        // A filter without candidates passes nothing: no need to call it.
                        if offers[f].is_empty() {
                            return Ok(Vec::new());
                        }
                        offers[f].evaluate(wasm, batch, f as u32)
                    };
                let starting = matcher.starting_filters();
                for &f in &starting {
                    lists[f] = Some(passing(f, &mut wasm)?);
                }
                // Nothing held and nothing started in this batch: what the other
                // filters pass could not advance or complete any match.
                let skip = matcher.is_idle()
                    && starting
                        .iter()
                        .all(|&f| lists[f].as_ref().is_none_or(Vec::is_empty));
                for (f, list) in lists.iter_mut().enumerate() {
                    if list.is_none() {
                        *list = Some(if skip {
                            Vec::new()
                        } else {
                            passing(f, &mut wasm)?
                        });
                    }
                }
                let slices: Vec<&[u32]> =
                    lists.iter().map(|l| l.as_deref().unwrap_or(&[])).collect();
                Ok(matcher.process(batch, &slices))
            })();
        match result {
            Ok(Ok(matches)) => {
                outcome.matches = matches.len() as u64;
                let matched = Timings::add(&self.timings.sequences, started);
                let alerts = self.sequence_alerts(rule, keys, &mut wasm, matches, Some(batch));
                outcome.alerts_or_fail(rule, alerts, &wasm);
                Timings::add(&self.timings.alerts, matched);
            }
            Ok(Err(e)) => outcome.fail(rule, e, None),
            Err(e) => outcome.fail(rule, e, Some(&*wasm)),
        }
        outcome.finished(started)
    }

    /// Alerts of completed sequences or samples. Evidence from `batch` (the
    /// batch being evaluated, if any) is captured where it lies; evidence
    /// from earlier batches is kept only as original JSON, and its captures
    /// are read from it decoded again, all of this call's as one batch.
    fn sequence_alerts(
        &self,
        rule: &Rule,
        keys: &FieldKeys,
        wasm: &mut WasmRule,
        matches: Vec<Match>,
        batch: Option<&EventBatch>,
    ) -> Result<Vec<Alert>, kestrel_wasm::WasmError> {
        if matches.is_empty() {
            return Ok(Vec::new());
        }
        let mut data = Vec::new();
        for event in matches.iter().flat_map(|m| m.events.iter().flatten()) {
            if let Some(raw) = event
                .raw
                .as_ref()
                .filter(|_| in_batch(batch, event).is_none())
            {
                data.extend_from_slice(raw.bytes());
                data.push(b'\n');
            }
        }
        let evidence = (!data.is_empty()).then(|| {
            let source = SourceInfo {
                name: "<evidence>".into(),
                first_line: 1,
                first_seq: 0,
            };
            // Captures read only fields the module reads: decoding the rest
            // of every evidence event would cost more than the rule did.
            // (No field table: the module may read any field.)
            let read = wasm.field_ids();
            let options = DecodeOptions {
                fields: (!read.is_empty()).then(|| Arc::new(read.iter().copied().collect())),
                ..DecodeOptions::default()
            };
            Decoder::new(self.schema.clone(), options).decode(&data, &source)
        });
        let mut next = 0usize;
        let mut alerts = Vec::with_capacity(matches.len());
        for m in matches {
            let mut captures = vec![b'['];
            // Evidence is spliced in as kept: borrowed, not copied per alert.
            let mut events: Vec<Cow<'_, [u8]>> = Vec::with_capacity(m.events.len());
            for (n, event) in m.events.iter().enumerate() {
                if n > 0 {
                    captures.push(b',');
                }
                match event {
                    None => {
                        events.push(Cow::Borrowed(MISSING));
                        captures.extend_from_slice(b"{}");
                    }
                    Some(e) => match &e.raw {
                        // One of the batch's own events: captured where it lies.
                        Some(raw) if let Some((batch, ev)) = in_batch(batch, e) => {
                            events.push(Cow::Borrowed(raw.bytes()));
                            let fields = wasm.capture(batch, ev as u32)?;
                            captures_object(keys, batch, ev, &fields, &mut captures);
                        }
                        None => {
                            events.push(Cow::Owned(
                                format!("{{\"seq\":{},\"timestamp\":{}}}", e.seq, e.ts)
                                    .into_bytes(),
                            ));
                            captures.extend_from_slice(b"{}");
                        }
                        Some(raw) => {
                            events.push(Cow::Borrowed(raw.bytes()));
                            match evidence.as_ref().filter(|b| next < b.len()) {
                                Some(b) => {
                                    let fields = wasm.capture(b, next as u32)?;
                                    captures_object(keys, b, next, &fields, &mut captures);
                                }
                                None => captures.extend_from_slice(b"{}"),
                            }
                            next += 1;
                        }
                    },
                }
            }
            captures.push(b']');
            let first = m
                .events
                .iter()
                .flatten()
                .map(|e| (e.ts, e.seq))
                .min()
                .unwrap_or((i64::MIN, 0));
            let keys = decode_key(&m.key);
            let event_refs: Vec<&[u8]> = events.iter().map(|e| &**e).collect();
            alerts.push(render(&AlertParts {
                rule_id: &rule.spec.id,
                rule_json: &rule.spec.alert_rule_json,
                kind: rule.spec.kind.name(),
                timestamp: event_time(m.last_ts),
                join_keys: Some(&keys),
                events: &event_refs,
                captures: &captures,
                order: (first.0, 0, first.1),
            }));
        }
        Ok(alerts)
    }
}

/// Where evidence event `event` sits in `batch`, when it is one of that
/// batch's own events: the very bytes the batch holds, not an equal copy.
fn in_batch<'b>(batch: Option<&'b EventBatch>, event: &EvRef) -> Option<(&'b EventBatch, usize)> {
    let (batch, raw) = (batch?, event.raw.as_ref()?);
    let ev = usize::try_from(event.seq.checked_sub(batch.seq(0))?).ok()?;
    (ev < batch.len() && std::ptr::eq(batch.raw(ev), raw.bytes())).then_some((batch, ev))
}

/// A rule's outcomes of one batch (one per partition that ran it), counted,
/// merged in Elasticsearch order and passed through its pipes.
fn finish(rule: &Rule, outcomes: Vec<Outcome>) -> Vec<Alert> {
    let mut alerts = Vec::new();
    let mut state = lock(&rule.state);
    let counters = &mut state.counters;
    counters.batches += 1;
    for outcome in outcomes {
        counters.evaluations += outcome.offered;
        counters.matches += outcome.matches;
        counters.time_ns += outcome.elapsed_ns;
        if let Some(error) = outcome.error {
            counters.errors += 1;
            counters.last_error = Some(error);
            counters.quarantined |= outcome.quarantined;
        }
        alerts.extend(outcome.alerts);
    }
    // Stable: alerts of equal order keep arrival order.
    alerts.sort_by_key(|a| a.order);
    if !state.pipes.is_empty() && !alerts.is_empty() {
        alerts = state.pipes.admit(alerts);
    }
    alerts
}

#[cfg(test)]
mod tests {
    use super::Output;

    #[test]
    fn output_joins_its_alert_lines_with_newlines() {
        let out = Output {
            lines: vec![b"{\"a\":1}".to_vec(), Vec::new(), b"{}".to_vec()],
        };
        assert_eq!(out.alerts(), 3);
        let mut buf = vec![b'x'; out.byte_len()];
        out.write_into(&mut buf);
        assert_eq!(buf, b"{\"a\":1}\n\n{}\n");
        assert_eq!(Output::default().byte_len(), 0);
    }
}
