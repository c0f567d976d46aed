//! The field registry: dotted paths to stable FieldIds and types.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ahash::{AHashMap, AHashSet};

use crate::types::{FieldId, FieldType, ScalarType};

/// One registered field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    pub id: FieldId,
    pub path: Arc<str>,
    pub ty: FieldType,
    /// Auto-assigned: not declared by the schema, first met in a rule or event.
    pub auto: bool,
    /// A date field's Elasticsearch `format` (`None`: the default,
    /// `strict_date_optional_time||epoch_millis`).
    pub format: Option<Arc<str>>,
    /// Set for an alias or a multi-field: the field whose value this one reads.
    pub source: Option<Source>,
    /// Analysed `text` with no keyword multi-field: Elasticsearch has no
    /// exact value to compare, and EQL refuses such a field.
    pub inexact: bool,
}

/// Where an alias or a multi-field takes its value from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The field read (an alias's `path`, a multi-field's parent).
    pub path: Arc<str>,
    /// Whether values are lower-cased first, as a `lowercase` normalizer
    /// does (Elastic's `.caseless` multi-fields).
    pub lowercase: bool,
}

impl FieldDef {
    /// The type as rules see it: the scalar name, with a date's format
    /// after a colon (`timestamp:epoch_second`).
    pub fn type_name(&self) -> String {
        match &self.format {
            Some(format) => format!("{}:{format}", self.ty.scalar),
            None => self.ty.scalar.to_string(),
        }
    }
}

/// A value whose type disagreed with the field's declared or inferred type.
/// Recorded once per (path, seen type); never fatal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeConflict {
    pub path: Arc<str>,
    pub expected: FieldType,
    pub seen: FieldType,
}

/// Elasticsearch's date format when a mapping gives none.
pub const DEFAULT_DATE_FORMAT: &str = "strict_date_optional_time||epoch_millis";

/// Alias and multi-field chains longer than this are cut (a mapping cannot
/// nest them deeper; the bound only stops a cycle).
const MAX_SOURCE_HOPS: usize = 8;

#[derive(Debug, Default)]
struct Registry {
    name: String,
    version: String,
    fields: Vec<FieldDef>,
    by_path: AHashMap<Arc<str>, FieldId>,
    conflicts: Vec<TypeConflict>,
    /// (field, seen type) of every conflict recorded, so a repeat is found
    /// by hash and not by scanning the list.
    conflict_keys: AHashSet<(FieldId, FieldType)>,
    /// Conflicts seen but not kept, past [`MAX_CONFLICTS`].
    conflicts_dropped: u64,
}

/// Type conflicts kept for reporting; later ones are only counted.
pub const MAX_CONFLICTS: usize = 1024;

/// A shared, growable schema. Clones share one registry, so ids assigned by
/// the compiler are the ids the decoder uses.
#[derive(Clone, Debug)]
pub struct Schema {
    inner: Arc<RwLock<Registry>>,
}

impl Schema {
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        let registry = Registry {
            name: name.into(),
            version: version.into(),
            ..Default::default()
        };
        Schema {
            inner: Arc::new(RwLock::new(registry)),
        }
    }

    // A poisoned lock only means another thread panicked mid-update of plain
    // data; the registry stays usable, so recover instead of propagating.
    fn read(&self) -> RwLockReadGuard<'_, Registry> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Registry> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Equal for clones that share one registry (and so one id space).
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    pub fn name(&self) -> String {
        self.read().name.clone()
    }

    pub fn version(&self) -> String {
        self.read().version.clone()
    }

    pub fn len(&self) -> usize {
        self.read().fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A deep copy that no longer shares ids with `self`.
    pub fn fork(&self) -> Schema {
        let r = self.read();
        let copy = Registry {
            name: r.name.clone(),
            version: r.version.clone(),
            fields: r.fields.clone(),
            by_path: r.by_path.clone(),
            conflicts: r.conflicts.clone(),
            conflict_keys: r.conflict_keys.clone(),
            conflicts_dropped: r.conflicts_dropped,
        };
        Schema {
            inner: Arc::new(RwLock::new(copy)),
        }
    }

    /// Declare a field, or re-declare an existing one with a new type. The id
    /// of an existing path never changes.
    pub fn declare(&self, path: &str, ty: FieldType) -> FieldId {
        let mut r = self.write();
        if let Some(&id) = r.by_path.get(path) {
            let def = &mut r.fields[id as usize];
            def.ty = ty;
            def.auto = false;
            return id;
        }
        r.insert(path, ty, false)
    }

    /// Declare a date field with its Elasticsearch `format`.
    pub fn declare_date(&self, path: &str, ty: FieldType, format: Option<&str>) -> FieldId {
        let id = self.declare(path, ty);
        let format = format
            .map(str::trim)
            .filter(|f| !f.is_empty() && *f != DEFAULT_DATE_FORMAT);
        self.write().fields[id as usize].format = format.map(Arc::from);
        id
    }

    /// Declare `path` as reading another field's value: an alias, or a
    /// multi-field of its parent (lower-cased when `lowercase`).
    pub fn declare_source(
        &self,
        path: &str,
        ty: FieldType,
        source: &str,
        lowercase: bool,
    ) -> FieldId {
        let id = self.declare(path, ty);
        let source = Source {
            path: Arc::from(source),
            lowercase,
        };
        self.write().fields[id as usize].source = Some(source);
        id
    }

    /// Mark a declared field as analysed text without an exact form.
    pub fn set_inexact(&self, path: &str, inexact: bool) {
        let mut r = self.write();
        if let Some(&id) = r.by_path.get(path) {
            r.fields[id as usize].inexact = inexact;
        }
    }

    /// The field whose value `path` reads, following aliases and
    /// multi-fields (a bounded number of hops, so a cycle ends), and whether
    /// any hop lower-cases. `None` when `path` is not declared.
    pub fn reading(&self, path: &str) -> Option<(FieldDef, bool)> {
        let mut def = self.lookup(path)?;
        let mut lowercase = false;
        for _ in 0..MAX_SOURCE_HOPS {
            let Some(source) = def.source.clone() else {
                break;
            };
            lowercase |= source.lowercase;
            def = self.resolve(&source.path);
        }
        Some((def, lowercase))
    }

    pub fn lookup(&self, path: &str) -> Option<FieldDef> {
        let r = self.read();
        r.by_path.get(path).map(|&id| r.fields[id as usize].clone())
    }

    pub fn field(&self, id: FieldId) -> Option<FieldDef> {
        self.read().fields.get(id as usize).cloned()
    }

    /// Look a path up, auto-assigning an id of unknown type when it is new.
    pub fn resolve(&self, path: &str) -> FieldDef {
        if let Some(def) = self.lookup(path) {
            return def;
        }
        let mut r = self.write();
        // Another thread may have assigned it between the two locks.
        let id = match r.by_path.get(path) {
            Some(&id) => id,
            None => {
                let id = r.insert(path, FieldType::UNKNOWN, true);
                // Elasticsearch maps a new string as text with a `.keyword`
                // multi-field, so rules name `x.keyword` for a field the
                // events carry as `x`.
                if let Some(parent) = path.strip_suffix(".keyword").filter(|p| !p.is_empty()) {
                    r.fields[id as usize].source = Some(Source {
                        path: Arc::from(parent),
                        lowercase: false,
                    });
                }
                id
            }
        };
        r.fields[id as usize].clone()
    }

    /// Record what a value seen at ingest says about a field's type. An
    /// unknown type is settled by the first sighting; a later disagreement is
    /// recorded as a conflict and the established type stays.
    pub fn observe(&self, path: &str, seen: FieldType) -> FieldDef {
        let def = self.resolve(path);
        if def.ty == seen {
            return def;
        }
        let mut r = self.write();
        let current = r.fields[def.id as usize].ty;
        if current.scalar == ScalarType::Unknown {
            r.fields[def.id as usize].ty = seen;
        } else if current != seen {
            r.push_conflict(def.id, seen);
        }
        r.fields[def.id as usize].clone()
    }

    /// Record a conflict directly, for values the decoder could not coerce.
    pub fn record_conflict(&self, id: FieldId, seen: FieldType) {
        let mut r = self.write();
        if (id as usize) < r.fields.len() {
            r.push_conflict(id, seen);
        }
    }

    /// Conflicts seen beyond the [`MAX_CONFLICTS`] kept.
    pub fn conflicts_dropped(&self) -> u64 {
        self.read().conflicts_dropped
    }

    pub fn conflicts(&self) -> Vec<TypeConflict> {
        self.read().conflicts.clone()
    }

    pub fn fields(&self) -> Vec<FieldDef> {
        self.read().fields.clone()
    }
}

impl Registry {
    fn push_conflict(&mut self, id: FieldId, seen: FieldType) {
        if self.conflict_keys.contains(&(id, seen)) {
            return;
        }
        if self.conflicts.len() >= MAX_CONFLICTS {
            self.conflicts_dropped += 1;
            return;
        }
        self.conflict_keys.insert((id, seen));
        let def = &self.fields[id as usize];
        let conflict = TypeConflict {
            path: def.path.clone(),
            expected: def.ty,
            seen,
        };
        self.conflicts.push(conflict);
    }

    fn insert(&mut self, path: &str, ty: FieldType, auto: bool) -> FieldId {
        let id = FieldId::try_from(self.fields.len()).expect("more than u32::MAX fields");
        let path: Arc<str> = Arc::from(path);
        self.fields.push(FieldDef {
            id,
            path: path.clone(),
            ty,
            auto,
            format: None,
            source: None,
            inexact: false,
        });
        self.by_path.insert(path, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_shared_between_clones() {
        let s = Schema::new("t", "1");
        let a = s.declare("process.pid", FieldType::scalar(ScalarType::I64));
        let clone = s.clone();
        let b = clone.resolve("process.name").id;
        assert_eq!(s.lookup("process.name").unwrap().id, b);
        assert_ne!(a, b);
        assert_eq!(
            s.declare("process.pid", FieldType::scalar(ScalarType::U64)),
            a
        );
    }

    #[test]
    fn first_sighting_infers_and_later_conflicts_are_recorded() {
        let s = Schema::new("t", "1");
        let f = s.resolve("custom.x");
        assert!(f.auto);
        assert_eq!(f.ty, FieldType::UNKNOWN);
        s.observe("custom.x", FieldType::scalar(ScalarType::I64));
        s.observe("custom.x", FieldType::scalar(ScalarType::String));
        s.observe("custom.x", FieldType::scalar(ScalarType::String));
        assert_eq!(
            s.lookup("custom.x").unwrap().ty,
            FieldType::scalar(ScalarType::I64)
        );
        assert_eq!(s.conflicts().len(), 1);
    }

    #[test]
    fn aliases_and_multi_fields_read_their_source() {
        let s = Schema::new("t", "1");
        s.declare("process.executable", FieldType::scalar(ScalarType::String));
        s.declare_source(
            "process.executable.caseless",
            FieldType::scalar(ScalarType::String),
            "process.executable",
            true,
        );
        s.declare_source(
            "exe",
            FieldType::scalar(ScalarType::String),
            "process.executable.caseless",
            false,
        );
        let (def, lowercase) = s.reading("exe").unwrap();
        assert_eq!(&*def.path, "process.executable");
        assert!(lowercase);
        s.declare_source(
            "loop.a",
            FieldType::scalar(ScalarType::String),
            "loop.b",
            false,
        );
        s.declare_source(
            "loop.b",
            FieldType::scalar(ScalarType::String),
            "loop.a",
            false,
        );
        assert!(s.reading("loop.a").is_some());
        s.resolve("winlog.event_data.TargetUserName.keyword");
        assert_eq!(
            &*s.reading("winlog.event_data.TargetUserName.keyword")
                .unwrap()
                .0
                .path,
            "winlog.event_data.TargetUserName"
        );
        s.declare_date(
            "when",
            FieldType::scalar(ScalarType::Timestamp),
            Some("epoch_second"),
        );
        assert_eq!(
            s.lookup("when").unwrap().type_name(),
            "timestamp:epoch_second"
        );
    }

    #[test]
    fn fork_detaches() {
        let s = Schema::new("t", "1");
        let f = s.fork();
        f.resolve("a.b");
        assert!(s.lookup("a.b").is_none());
    }
}
