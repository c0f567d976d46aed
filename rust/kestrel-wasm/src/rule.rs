//! One loaded rule: a module instance with its own store, limits and health.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kestrel_event::EventBatch;
use kestrel_host::{HostContext, NodeEvaluator, RuleConstants};
use kestrel_schema::FieldId;
use wasmtime::{Instance, Memory, Module, Store, StoreLimitsBuilder, Trap, TypedFunc};

use crate::cache::{AotCache, CacheOutcome};
use crate::config::{RuleLimits, EPOCH_TICK_MS};
use crate::engine::runtime;
use crate::error::WasmError;
use crate::host::HostState;
use crate::leaves::{self, LeafTable};

/// What a rule brings: its module and the host-side context it addresses.
pub struct RuleSource<'a> {
    /// A binary module, or WAT text.
    pub module: &'a [u8],
    pub ctx: HostContext,
    /// Local field id → schema FieldId (empty: the module uses schema ids).
    pub field_map: Vec<FieldId>,
    /// The event category each filter requires (`None`: any). Used with
    /// `pred_eval_list`, where the core selects candidates by category.
    pub filter_categories: Vec<Option<String>>,
    /// The package's field paths by local id, for the `field_id` import.
    pub field_paths: Vec<String>,
}

/// Load-time measurements, for cold-start reporting.
#[derive(Clone, Copy, Debug)]
pub struct LoadReport {
    pub compile_ns: u64,
    pub instantiate_ns: u64,
    pub cache: CacheOutcome,
}

/// Health counters of one rule.
#[derive(Clone, Debug, Default)]
pub struct RuleHealth {
    pub batches: u64,
    pub events: u64,
    pub matches: u64,
    pub failures: u32,
    pub last_error: Option<String>,
    pub quarantined: bool,
    pub eval_ns: u64,
    /// Leaves the core evaluated ahead of a list call, summed over batches.
    pub leaves_ahead: u64,
}

/// What every instance of one rule shares: the compiled module and the
/// host-side tables it addresses. Partitions evaluating the same rule in
/// parallel each get an instance (a store of their own) from it; the module
/// is compiled once.
struct Template {
    module: Module,
    constants: RuleConstants,
    evaluator: Option<Arc<dyn NodeEvaluator>>,
    field_map: Vec<FieldId>,
    field_paths: Vec<String>,
    filter_categories: Vec<Option<String>>,
}

/// `(filter, in_ptr, count, out_ptr) -> matched`.
type ListFn = TypedFunc<(i32, i32, i32, i32), i32>;

pub struct WasmRule {
    template: Arc<Template>,
    store: Store<HostState>,
    filters: Vec<TypedFunc<i32, i32>>,
    batch_fn: Option<TypedFunc<(i32, i32, i32), i32>>,
    /// `pred_eval_list(filter, in_ptr, count, out_ptr) -> matched`, with the
    /// module's exported memory: the fastest path (no host call per event
    /// for categories or matches).
    list_fn: Option<(ListFn, Memory)>,
    /// `pred_eval_candidates`, the same for the rule index's candidates
    /// (compiled EQL tests the index's anchors last there). Optional.
    candidates_fn: Option<TypedFunc<(i32, i32, i32, i32), i32>>,
    filter_categories: Vec<Option<String>>,
    capture_fn: Option<TypedFunc<i32, ()>>,
    limits: RuleLimits,
    health: RuleHealth,
    report: LoadReport,
    /// Inside a [`BatchScope`]: when the batch's time budget runs out.
    batch_until: Option<Instant>,
    /// The leaves the module asks the core to evaluate ahead (see `leaves`).
    leaves: LeafTable,
    /// Where in the module's memory the core may write the lists and leaf
    /// results: the exported global `pred_scratch`, else the start.
    scratch: usize,
}

/// A rule instance for the length of one batch: every evaluation and
/// capture within it draws on one time budget, so a module that spends
/// almost its limit per call cannot take the limit times the batch's
/// matches.
pub struct BatchScope<'a>(&'a mut WasmRule);

impl std::ops::Deref for BatchScope<'_> {
    type Target = WasmRule;
    fn deref(&self) -> &WasmRule {
        self.0
    }
}

impl std::ops::DerefMut for BatchScope<'_> {
    fn deref_mut(&mut self) -> &mut WasmRule {
        self.0
    }
}

impl Drop for BatchScope<'_> {
    fn drop(&mut self) {
        self.0.batch_until = None;
    }
}

fn deadline_ticks(limits: &RuleLimits) -> u64 {
    (limits.time_limit_ms / EPOCH_TICK_MS).max(1)
}

impl WasmRule {
    /// Compile (or load from `cache`), instantiate and run `pred_init`.
    pub fn load(
        src: RuleSource<'_>,
        limits: RuleLimits,
        cache: Option<&AotCache>,
    ) -> Result<WasmRule, WasmError> {
        let rt = runtime();
        let started = Instant::now();
        let wasm = wat::parse_bytes(src.module).map_err(|e| WasmError::Compile(e.to_string()))?;
        let (module, outcome) = match cache {
            Some(c) => c
                .load(&rt.engine, &wasm)
                .map_err(|e| WasmError::Compile(format!("{e:#}")))?,
            None => (
                Module::new(&rt.engine, &wasm).map_err(|e| WasmError::Compile(format!("{e:#}")))?,
                CacheOutcome::Compiled,
            ),
        };
        let compile_ns = started.elapsed().as_nanos() as u64;
        let template = Arc::new(Template {
            module,
            constants: src.ctx.constants,
            evaluator: src.ctx.evaluator,
            field_map: src.field_map,
            field_paths: src.field_paths,
            filter_categories: src.filter_categories,
        });
        let mut rule = Self::instantiate(template, limits)?;
        rule.report.compile_ns = compile_ns;
        rule.report.cache = outcome;
        Ok(rule)
    }

    /// Another instance of this rule: the same compiled module and tables,
    /// a fresh store (own memory, `pred_init` run again) and fresh health.
    /// What a partition evaluating the rule in parallel uses.
    pub fn fork(&self) -> Result<WasmRule, WasmError> {
        Self::instantiate(self.template.clone(), self.limits.clone())
    }

    fn instantiate(template: Arc<Template>, limits: RuleLimits) -> Result<WasmRule, WasmError> {
        let rt = runtime();
        let started = Instant::now();
        let store_limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes.min(crate::engine::MAX_MEMORY_BYTES))
            .instances(1)
            .memories(1)
            .tables(4)
            .build();
        let mut ctx = HostContext::new(template.constants.clone());
        ctx.evaluator = template.evaluator.clone();
        let state = HostState::new(
            ctx,
            template.field_map.clone(),
            template.field_paths.clone(),
            store_limits,
        );
        let mut store = Store::new(&rt.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks(&limits));
        let instance = rt
            .linker
            .instantiate(&mut store, &template.module)
            .map_err(|e| WasmError::Instantiate(format!("{e:#}")))?;
        let mut rule = Self::bind(template, store, instance, limits)?;
        rule.filter_categories = rule.template.filter_categories.clone();
        if let Ok(init) = instance.get_typed_func::<(), i32>(&mut rule.store, "pred_init") {
            rule.store.set_epoch_deadline(deadline_ticks(&rule.limits));
            match init.call(&mut rule.store, ()) {
                Ok(0) => {}
                Ok(code) => return Err(WasmError::InitFailed(code)),
                Err(e) => return Err(classify(e, rule.limits.time_limit_ms)),
            }
        }
        rule.read_layout(&instance);
        rule.report.instantiate_ns = started.elapsed().as_nanos() as u64;
        Ok(rule)
    }

    fn bind(
        template: Arc<Template>,
        mut store: Store<HostState>,
        instance: Instance,
        limits: RuleLimits,
    ) -> Result<WasmRule, WasmError> {
        let first = instance
            .get_typed_func::<i32, i32>(&mut store, "pred_eval")
            .map_err(|e| WasmError::Abi(format!("export pred_eval(i32) -> i32: {e:#}")))?;
        let mut filters = vec![first];
        while let Ok(f) =
            instance.get_typed_func::<i32, i32>(&mut store, &format!("pred_eval_{}", filters.len()))
        {
            filters.push(f);
        }
        let batch_fn = instance
            .get_typed_func::<(i32, i32, i32), i32>(&mut store, "pred_eval_batch")
            .ok();
        let list_fn = instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut store, "pred_eval_list")
            .ok()
            .zip(instance.get_memory(&mut store, "memory"));
        let candidates_fn = instance
            .get_typed_func::<(i32, i32, i32, i32), i32>(&mut store, "pred_eval_candidates")
            .ok();
        let capture_fn = instance
            .get_typed_func::<i32, ()>(&mut store, "pred_capture")
            .ok();
        let report = LoadReport {
            compile_ns: 0,
            instantiate_ns: 0,
            cache: CacheOutcome::Compiled,
        };
        Ok(WasmRule {
            template,
            store,
            filters,
            batch_fn,
            list_fn,
            candidates_fn,
            filter_categories: Vec::new(),
            capture_fn,
            limits,
            health: RuleHealth::default(),
            report,
            batch_until: None,
            leaves: LeafTable::default(),
            scratch: 0,
        })
    }

    /// Read the optional `pred_scratch` and `pred_leaves` globals. A value
    /// that makes no sense leaves the module on its host calls.
    fn read_layout(&mut self, instance: &Instance) {
        let global = |store: &mut Store<HostState>, name: &str| {
            let value = instance.get_global(&mut *store, name)?.get(&mut *store);
            usize::try_from(value.i32()?).ok()
        };
        self.scratch = global(&mut self.store, "pred_scratch").unwrap_or(0);
        let (Some(at), Some((_, memory))) = (global(&mut self.store, "pred_leaves"), &self.list_fn)
        else {
            return;
        };
        if let Some(table) = LeafTable::read(memory.data(&self.store), at) {
            self.leaves = table;
        }
    }

    /// The schema fields the module reads through its field table (empty:
    /// the module uses schema ids directly, so it may read any field).
    pub fn field_ids(&self) -> &[FieldId] {
        &self.template.field_map
    }

    /// How many leaves the module's table declares (0: none, or unreadable).
    pub fn declared_leaves(&self) -> usize {
        self.leaves.leaves.len()
    }

    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }

    pub fn health(&self) -> &RuleHealth {
        &self.health
    }

    pub fn load_report(&self) -> LoadReport {
        self.report
    }

    pub fn host_context(&self) -> &HostContext {
        &self.store.data().ctx
    }

    /// Start one batch's time budget, shared by every call until the scope ends.
    pub fn batch(&mut self) -> BatchScope<'_> {
        self.batch_until = Some(Instant::now() + Duration::from_millis(self.limits.time_limit_ms));
        BatchScope(self)
    }

    /// Arm the epoch deadline for the next call into the module: the
    /// batch's remaining time inside a [`BatchScope`], else a full limit.
    fn arm_deadline(&mut self) -> Result<(), WasmError> {
        let ticks = match self.batch_until {
            None => deadline_ticks(&self.limits),
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(self.fail(WasmError::Timeout(self.limits.time_limit_ms)));
                }
                (left.as_millis() as u64).div_ceil(EPOCH_TICK_MS).max(1)
            }
        };
        self.store.set_epoch_deadline(ticks);
        Ok(())
    }

    /// Indices of the events of `batch` that pass filter `filter`.
    pub fn evaluate(&mut self, batch: &EventBatch, filter: u32) -> Result<Vec<u32>, WasmError> {
        self.evaluate_events(batch, filter, None)
    }

    /// Like [`evaluate`](Self::evaluate), restricted to `candidates` (as the
    /// engine's rule index selects them).
    pub fn evaluate_events(
        &mut self,
        batch: &EventBatch,
        filter: u32,
        candidates: Option<&[u32]>,
    ) -> Result<Vec<u32>, WasmError> {
        self.evaluate_subset(batch, filter, candidates, candidates.is_some())
    }

    /// Like [`evaluate_events`](Self::evaluate_events), where `candidates`
    /// may be any subset of the batch (a partition's events): `from_index`
    /// says whether they are the rule index's, whose anchors compiled EQL
    /// then need not test again.
    pub fn evaluate_subset(
        &mut self,
        batch: &EventBatch,
        filter: u32,
        candidates: Option<&[u32]>,
        from_index: bool,
    ) -> Result<Vec<u32>, WasmError> {
        if self.health.quarantined {
            return Err(WasmError::Quarantined {
                failures: self.health.failures,
                last: self.health.last_error.clone().unwrap_or_default(),
            });
        }
        let pred = self
            .filters
            .get(filter as usize)
            .cloned()
            .ok_or(WasmError::NoSuchFilter(filter))?;
        let started = Instant::now();
        // A filter with a declared category only ever sees events of that
        // category, whichever entry point the module offers, and whoever
        // chose the candidates (a sequence's come from all its steps).
        let selected;
        let candidates = match (
            candidates,
            self.filter_categories
                .get(filter as usize)
                .cloned()
                .flatten(),
        ) {
            (given, Some(category)) => {
                selected = events_of_category(batch, Some(&category), given);
                Some(&selected[..])
            }
            (given, None) => given,
        };
        self.store.data_mut().set_batch(Some(batch));
        let state = self.store.data_mut();
        state.matches.clear();
        // Matches can be every event; growing the buffer inside the loop
        // would cost more than the predicates.
        state.matches.reserve(batch.len());
        self.store.data_mut().alerts.clear();
        self.store.data_mut().bad_emit = None;
        if let Err(e) = self.arm_deadline() {
            self.store.data_mut().set_batch(None);
            return Err(e);
        }
        let n = u32::try_from(batch.len()).unwrap_or(u32::MAX);
        let outcome = match (candidates, &self.batch_fn) {
            _ if self.list_fn.is_some() => self.run_list(batch, filter, candidates, from_index),
            (None, Some(batch_fn)) => batch_fn
                .call(&mut self.store, (filter as i32, 0, n as i32))
                .map(|_| self.store.data().matches.clone()),
            (Some(evs), _) => Self::each(&mut self.store, &pred, evs.iter().copied()),
            (None, None) => Self::each(&mut self.store, &pred, 0..n),
        };
        self.store.data_mut().set_batch(None);
        self.health.eval_ns += started.elapsed().as_nanos() as u64;
        self.health.batches += 1;
        self.health.events += candidates.map_or(batch.len(), <[u32]>::len) as u64;
        let refused = self.store.data_mut().bad_emit.take();
        match outcome {
            // Everything a module reports is checked: a bad index is this
            // rule's error, never another rule's lost alerts.
            Ok(_) if refused.is_some() => {
                Err(self.fail(WasmError::BadResult(refused.unwrap_or_default())))
            }
            Ok(matched) if matched.iter().any(|&e| e >= n) => {
                let bad = matched
                    .iter()
                    .find(|&&e| e >= n)
                    .copied()
                    .unwrap_or_default();
                Err(self.fail(WasmError::BadResult(format!(
                    "matched event {bad}, outside the batch of {n}"
                ))))
            }
            Ok(mut matched) => {
                // `alert_emit` asks for an alert even where pred_eval said no.
                let alerts = std::mem::take(&mut self.store.data_mut().alerts);
                if !alerts.is_empty() {
                    matched.extend(alerts.into_iter().filter(|&e| e < n));
                    matched.sort_unstable();
                    matched.dedup();
                }
                self.health.matches += matched.len() as u64;
                Ok(matched)
            }
            Err(e) => Err(self.fail(classify(e, self.limits.time_limit_ms))),
        }
    }

    /// Candidates in, matches out, through linear memory: one host→Wasm
    /// call per batch and no host call per event beyond the predicate's own.
    /// `from_index`: the events are the rule index's candidates.
    fn run_list(
        &mut self,
        batch: &EventBatch,
        filter: u32,
        candidates: Option<&[u32]>,
        from_index: bool,
    ) -> wasmtime::Result<Vec<u32>> {
        let (list_fn, memory) = self.list_fn.clone().expect("checked by the caller");
        let list_fn = match &self.candidates_fn {
            Some(f) if from_index => f.clone(),
            _ => list_fn,
        };
        let all;
        let events: &[u32] = match candidates {
            Some(c) => c,
            None => {
                all = (0..batch.len() as u32).collect::<Vec<_>>();
                &all
            }
        };
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let bytes = events.len() * 4;
        let (in_ptr, out_ptr) = (self.scratch, self.scratch + bytes);
        // Leaf results go after the lists, one byte per event of the batch.
        let results_at = (out_ptr + bytes).next_multiple_of(8);
        let ahead = self.leaves_worth_evaluating(filter);
        let needed = results_at + ahead.len() * batch.len();
        let grown = self.ensure_memory(&memory, needed).is_ok();
        let ahead = if grown { ahead } else { Vec::new() };
        if !grown {
            // Over the memory limit with leaf results: run on host calls.
            self.ensure_memory(&memory, out_ptr + bytes)?;
        }
        for (slot, ev) in memory.data_mut(&mut self.store)[in_ptr..in_ptr + bytes]
            .chunks_exact_mut(4)
            .zip(events)
        {
            slot.copy_from_slice(&ev.to_le_bytes());
        }
        let n = self
            .evaluate_leaves(&memory, batch, events, &ahead, results_at)
            .and_then(|()| {
                list_fn.call(
                    &mut self.store,
                    (
                        filter as i32,
                        in_ptr as i32,
                        events.len() as i32,
                        out_ptr as i32,
                    ),
                )
            });
        // Whether the call ran or the leaves ran out of time, no slot may
        // point at this batch's bytes afterwards.
        self.clear_leaf_slots(&memory);
        let n = usize::try_from(n?).unwrap_or(0).min(events.len());
        // The module may have shrunk nothing, but it wrote the output: read
        // it within the memory as it is now, and keep only offered events.
        let data = memory.data(&self.store);
        let Some(out) = data.get(out_ptr..out_ptr + n * 4) else {
            self.store.data_mut().bad_emit.get_or_insert_with(|| {
                "pred_eval_list reported more matches than fit in its memory".into()
            });
            return Ok(Vec::new());
        };
        let matched: Vec<u32> = out
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(bad) = first_not_offered(&matched, events) {
            let message = format!("pred_eval_list matched event {bad}, which it was not offered");
            self.store.data_mut().bad_emit.get_or_insert(message);
        }
        Ok(matched)
    }

    fn ensure_memory(&mut self, memory: &Memory, needed: usize) -> wasmtime::Result<()> {
        let have = memory.data_size(&self.store);
        if have < needed {
            memory.grow(&mut self.store, ((needed - have) as u64).div_ceil(65536))?;
        }
        Ok(())
    }

    /// `(slot, schema field, leaf)` of the declared leaves worth evaluating
    /// ahead on this batch.
    fn leaves_worth_evaluating(&self, filter: u32) -> Vec<(usize, FieldId, leaves::Leaf)> {
        let state = self.store.data();
        self.leaves
            .leaves
            .iter()
            .enumerate()
            .filter(|(_, declared)| declared.filter == filter)
            .filter_map(|(slot, declared)| {
                let field = state.field(declared.field)?;
                leaves::worth_evaluating(declared).then_some((slot, field, declared.leaf))
            })
            .collect()
    }

    /// Evaluate `ahead` over `events`, leaf k's bytes at `results_at + k·len`,
    /// and point the module's slots at them. Draws on the call's time budget.
    fn evaluate_leaves(
        &mut self,
        memory: &Memory,
        batch: &EventBatch,
        events: &[u32],
        ahead: &[(usize, FieldId, leaves::Leaf)],
        results_at: usize,
    ) -> wasmtime::Result<()> {
        const CHUNK: usize = 8192;
        let deadline = self
            .batch_until
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(self.limits.time_limit_ms));
        let slots = self.leaves.slots;
        let (data, state) = memory.data_and_store_mut(&mut self.store);
        for (k, &(slot, field, leaf)) in ahead.iter().enumerate() {
            let start = results_at + k * batch.len();
            let out = &mut data[start..start + batch.len()];
            for chunk in events.chunks(CHUNK) {
                leaves::fill(state, batch, field, &leaf, chunk, out);
                if Instant::now() > deadline {
                    return Err(Trap::Interrupt.into());
                }
            }
            let at = slots + slot * 4;
            data[at..at + 4].copy_from_slice(&(start as u32).to_le_bytes());
        }
        self.health.leaves_ahead += ahead.len() as u64;
        Ok(())
    }

    /// Leaf results belong to one list call: a later call finds no slot set.
    fn clear_leaf_slots(&mut self, memory: &Memory) {
        let (slots, count) = (self.leaves.slots, self.leaves.leaves.len());
        if let Some(area) = memory
            .data_mut(&mut self.store)
            .get_mut(slots..slots + count * 4)
        {
            area.fill(0);
        }
    }

    fn each(
        store: &mut Store<HostState>,
        pred: &TypedFunc<i32, i32>,
        evs: impl Iterator<Item = u32>,
    ) -> wasmtime::Result<Vec<u32>> {
        let mut out = Vec::new();
        for ev in evs {
            if pred.call(&mut *store, ev as i32)? == 1 {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// The schema fields to report with an alert on event `ev`: what
    /// `pred_capture` names, or by default every field of the package.
    pub fn capture(&mut self, batch: &EventBatch, ev: u32) -> Result<Vec<FieldId>, WasmError> {
        let Some(capture) = self.capture_fn.clone() else {
            let mut all = self.store.data().field_map.clone();
            all.sort_unstable();
            all.dedup();
            return Ok(all);
        };
        self.arm_deadline()?;
        self.store.data_mut().set_batch(Some(batch));
        self.store.data_mut().captured.clear();
        let result = capture.call(&mut self.store, ev as i32);
        self.store.data_mut().set_batch(None);
        match result {
            Ok(()) => {
                let mut fields = std::mem::take(&mut self.store.data_mut().captured);
                fields.dedup();
                Ok(fields)
            }
            Err(e) => Err(self.fail(classify(e, self.limits.time_limit_ms))),
        }
    }

    fn fail(&mut self, err: WasmError) -> WasmError {
        self.health.failures += 1;
        self.health.last_error = Some(err.to_string());
        if self.health.failures >= self.limits.quarantine_after {
            self.health.quarantined = true;
        }
        err
    }

    /// Lift a quarantine (after the operator fixed the cause).
    pub fn release(&mut self) {
        self.health.quarantined = false;
        self.health.failures = 0;
    }
}

/// The first of `matched` that is not among `offered` (ascending). Generated
/// loops report matches in the order offered, which one merge pass checks;
/// any other order falls back to a search per match.
fn first_not_offered(matched: &[u32], offered: &[u32]) -> Option<u32> {
    let mut at = 0;
    for &ev in matched {
        while at < offered.len() && offered[at] != ev {
            at += 1;
        }
        if at == offered.len() {
            return matched
                .iter()
                .find(|ev| offered.binary_search(ev).is_err() && !offered.contains(ev))
                .copied();
        }
        at += 1;
    }
    None
}

fn classify(err: wasmtime::Error, time_limit_ms: u64) -> WasmError {
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => WasmError::Timeout(time_limit_ms),
        Some(trap) => WasmError::Trap(trap.to_string()),
        None => WasmError::Trap(format!("{err:#}")),
    }
}

/// The events whose categories include `category` (all events for `None`),
/// among `among` when given (ascending indices) or else the whole batch.
pub fn events_of_category(
    batch: &EventBatch,
    category: Option<&str>,
    among: Option<&[u32]>,
) -> Vec<u32> {
    let Some(category) = category else {
        return among.map_or_else(|| (0..batch.len() as u32).collect(), <[u32]>::to_vec);
    };
    match batch.category_names().iter().position(|n| n == category) {
        Some(id) => batch.events_in_category(id as u16, among),
        None => Vec::new(),
    }
}
