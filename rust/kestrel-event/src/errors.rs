//! Per-line ingest problems. None of them aborts a batch: each is recorded
//! with its line and counted, and the rest of the input is still decoded.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IngestErrorKind {
    /// The line is not valid JSON. The line is dropped.
    MalformedJson,
    /// Valid JSON, but not an object. The line is dropped.
    NotAnObject,
    /// The line is longer than the configured limit. The line is dropped.
    LineTooLong,
    /// The batch's buffers would exceed their 4 GiB addressing. The line is dropped.
    BatchFull,
    /// A value cannot be stored as its field's declared type. The event is
    /// kept with that field null; the original JSON still holds the value.
    WrongType,
    /// A string is longer than the configured limit. The event is kept with
    /// that field null.
    StringTooLong,
    /// The timestamp field is present but unparseable. The event is kept
    /// without a timestamp.
    BadTimestamp,
    /// Objects and arrays nest deeper than the configured limit. The line
    /// is dropped.
    TooDeep,
    /// The event has more fields than the per-event limit, or the batch
    /// more than its budget of columns. The event is kept; the fields over
    /// the limit are only in its original JSON.
    TooManyFields,
    /// A key appears twice in one object. The event is kept with the last
    /// value, as JSON parsers agree on.
    DuplicateKey,
}

impl IngestErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestErrorKind::MalformedJson => "malformed_json",
            IngestErrorKind::NotAnObject => "not_an_object",
            IngestErrorKind::LineTooLong => "line_too_long",
            IngestErrorKind::BatchFull => "batch_full",
            IngestErrorKind::WrongType => "wrong_type",
            IngestErrorKind::StringTooLong => "string_too_long",
            IngestErrorKind::BadTimestamp => "bad_timestamp",
            IngestErrorKind::TooDeep => "too_deep",
            IngestErrorKind::TooManyFields => "too_many_fields",
            IngestErrorKind::DuplicateKey => "duplicate_key",
        }
    }

    /// Whether the line was dropped rather than kept with a field nulled.
    pub fn drops_event(self) -> bool {
        matches!(
            self,
            IngestErrorKind::MalformedJson
                | IngestErrorKind::NotAnObject
                | IngestErrorKind::LineTooLong
                | IngestErrorKind::BatchFull
                | IngestErrorKind::TooDeep
        )
    }
}

/// One problem on one input line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestErrorRecord {
    pub source: String,
    pub line: u32,
    pub kind: IngestErrorKind,
    /// The field concerned, for field-level problems.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for IngestErrorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.kind.as_str())?;
        if let Some(field) = &self.field {
            write!(f, " in field {field:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}
