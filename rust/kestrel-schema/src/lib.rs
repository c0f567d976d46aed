//! Kestrel's schema: a registry of typed fields with stable [`FieldId`]s.
//!
//! Rules and events address fields by id, never by path, on the hot path.
//! The default schema is ECS 9.5.0; users extend it or load their own.

mod loader;
mod registry;
mod types;

pub use loader::{ecs_default, extend_from_mapping, extend_from_value, from_json, from_yaml};
pub use registry::{FieldDef, Schema, Source, TypeConflict, DEFAULT_DATE_FORMAT};
pub use types::{FieldId, FieldType, ScalarType};

/// Errors raised while building or loading a schema.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("schema parse error: {0}")]
    Parse(String),
    #[error("field {path:?}: unknown type {name:?}")]
    UnknownType { path: String, name: String },
}
