//! Field types: the scalar kinds Kestrel stores, and their array forms.

use std::fmt;

/// The stable identifier of a field within one schema.
pub type FieldId = u32;

/// The scalar kinds a column can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarType {
    I64,
    U64,
    F64,
    Bool,
    String,
    Ip,
    Bytes,
    /// A date (millisecond precision). Stored as the text the event
    /// carried; comparisons read it as an instant. The batch's designated
    /// timestamp field is additionally parsed to nanoseconds.
    Timestamp,
    /// A `date_nanos`: a date compared at nanosecond precision.
    DateNanos,
    /// A software version, ordered by Semantic Versioning precedence.
    Version,
    /// Auto-assigned at compile time and not seen in any event yet.
    Unknown,
}

/// A scalar type, possibly normalised to an array as ECS does for some fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldType {
    pub scalar: ScalarType,
    pub array: bool,
}

impl FieldType {
    pub const UNKNOWN: FieldType = FieldType::scalar(ScalarType::Unknown);

    pub const fn scalar(scalar: ScalarType) -> Self {
        FieldType {
            scalar,
            array: false,
        }
    }

    pub const fn array_of(scalar: ScalarType) -> Self {
        FieldType {
            scalar,
            array: true,
        }
    }

    /// Whether values of this type are strings in the event store.
    pub fn is_textual(self) -> bool {
        matches!(
            self.scalar,
            ScalarType::String
                | ScalarType::Ip
                | ScalarType::Bytes
                | ScalarType::Timestamp
                | ScalarType::DateNanos
                | ScalarType::Version
        )
    }

    /// Parse a Kestrel type name (`i64`, `array<string>`) or an Elasticsearch
    /// mapping type (`keyword`, `long`, `date`, ...). Returns `None` for names
    /// that carry no scalar value (object, nested, flattened, geo_point) and
    /// for unknown names; the caller decides which of those is an error.
    pub fn parse(name: &str) -> Option<FieldType> {
        // A date type may carry its format after a colon (`timestamp:epoch_second`).
        let name = name.trim();
        let name = match name.split_once(':') {
            Some((head @ ("timestamp" | "date" | "date_nanos"), _)) => head,
            _ => name,
        };
        if let Some(inner) = name
            .strip_prefix("array<")
            .and_then(|s| s.strip_suffix('>'))
        {
            let inner = FieldType::parse(inner)?;
            return Some(FieldType::array_of(inner.scalar));
        }
        let scalar = match name {
            "i64" | "long" | "integer" | "short" | "byte" => ScalarType::I64,
            "u64" | "unsigned_long" => ScalarType::U64,
            "f64" | "float" | "double" | "half_float" | "scaled_float" => ScalarType::F64,
            "bool" | "boolean" => ScalarType::Bool,
            "string" | "keyword" | "wildcard" | "constant_keyword" | "match_only_text" | "text" => {
                ScalarType::String
            }
            "ip" => ScalarType::Ip,
            "bytes" | "binary" => ScalarType::Bytes,
            "timestamp" | "date" => ScalarType::Timestamp,
            "date_nanos" => ScalarType::DateNanos,
            "version" => ScalarType::Version,
            "unknown" => ScalarType::Unknown,
            _ => return None,
        };
        Some(FieldType::scalar(scalar))
    }

    /// Whether an Elasticsearch mapping type is a container with no scalar
    /// of its own; such entries are skipped when a schema is loaded.
    pub fn is_container_name(name: &str) -> bool {
        matches!(name, "object" | "nested" | "flattened" | "geo_point")
    }
}

impl fmt::Display for ScalarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScalarType::I64 => "i64",
            ScalarType::U64 => "u64",
            ScalarType::F64 => "f64",
            ScalarType::Bool => "bool",
            ScalarType::String => "string",
            ScalarType::Ip => "ip",
            ScalarType::Bytes => "bytes",
            ScalarType::Timestamp => "timestamp",
            ScalarType::DateNanos => "date_nanos",
            ScalarType::Version => "version",
            ScalarType::Unknown => "unknown",
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.array {
            write!(f, "array<{}>", self.scalar)
        } else {
            write!(f, "{}", self.scalar)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_naming_schemes() {
        assert_eq!(
            FieldType::parse("keyword"),
            Some(FieldType::scalar(ScalarType::String))
        );
        assert_eq!(
            FieldType::parse("i64"),
            Some(FieldType::scalar(ScalarType::I64))
        );
        assert_eq!(
            FieldType::parse("array<long>"),
            Some(FieldType::array_of(ScalarType::I64))
        );
        assert_eq!(FieldType::parse("geo_point"), None);
        assert_eq!(
            FieldType::parse("timestamp:epoch_second"),
            Some(FieldType::scalar(ScalarType::Timestamp))
        );
        assert_eq!(
            FieldType::parse("date_nanos").unwrap().to_string(),
            "date_nanos"
        );
        assert_eq!(
            FieldType::parse("array<string>").unwrap().to_string(),
            "array<string>"
        );
    }
}
