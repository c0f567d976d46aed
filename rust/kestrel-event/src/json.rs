//! Stored values back to JSON text, for output that must not round-trip
//! through Python objects (alert captures).

use crate::batch::{EventBatch, ValueRef};

/// Append `value` (read from `batch`) to `out` as JSON. A non-finite float,
/// which JSON cannot spell, is written as null.
pub fn write_value(batch: &EventBatch, value: ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Null => out.extend_from_slice(b"null"),
        ValueRef::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        ValueRef::I64(x) => out.extend_from_slice(x.to_string().as_bytes()),
        ValueRef::U64(x) => out.extend_from_slice(x.to_string().as_bytes()),
        ValueRef::F64(x) if x.is_finite() => {
            // Debug keeps a fraction (`1.0`), so the value reads back as a float.
            out.extend_from_slice(format!("{x:?}").as_bytes())
        }
        ValueRef::F64(_) => out.extend_from_slice(b"null"),
        ValueRef::Str(s) => write_str(s, out),
        ValueRef::List(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write_value(batch, batch.element(item), out);
            }
            out.push(b']');
        }
    }
}

/// Append `text` as a JSON string.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecodeOptions, Decoder, SourceInfo};
    use kestrel_schema::Schema;

    #[test]
    fn values_read_back_as_the_event_wrote_them() {
        let schema = Schema::new("test", "1");
        let line = r#"{"s":"a\"b\u00e9\n","i":-3,"u":18446744073709551615,"f":1.0,"g":2.5e-7,"b":true,"l":["x","y"]}"#;
        let batch = Decoder::new(schema.clone(), DecodeOptions::default())
            .decode(line.as_bytes(), &SourceInfo::default());
        let mut out = Vec::new();
        out.push(b'{');
        for (n, path) in ["s", "i", "u", "f", "g", "b", "l"].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_str(path, &mut out);
            out.push(b':');
            write_value(
                &batch,
                batch.value(0, schema.lookup(path).unwrap().id),
                &mut out,
            );
        }
        out.push(b'}');
        let written: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let original: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(written, original);
    }
}
