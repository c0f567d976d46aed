//! A decoder given the fields to store keeps exactly those (and the
//! timestamp, category and entity), whatever surrounds them: skipped
//! objects and arrays are stepped over whole.

use std::sync::Arc;

use kestrel_event::{DecodeOptions, Decoder, SourceInfo, ValueRef};

#[test]
fn stores_the_projected_fields_past_skipped_subtrees() {
    let schema = kestrel_schema::ecs_default();
    let name = schema.resolve("process.name").id;
    let parent = schema.resolve("process.parent.name").id;
    let agent = schema.resolve("agent.version").id;
    let opts = DecodeOptions {
        fields: Some(Arc::new([name, parent].into_iter().collect())),
        ..DecodeOptions::default()
    };
    let input = concat!(
        r#"{"agent":{"version":"9","build":{"a":[1,{"b":[2,3]}]}},"tags":["x",["y"]],"#,
        r#""process":{"hash":{"md5":"m"},"parent":{"pid":1,"name":"p.exe"},"args":["a","b"],"name":"c.exe"},"#,
        r#""host":{"id":"h1"},"event":{"category":["process"]},"@timestamp":"2026-01-05T08:00:00Z"}"#,
        "\n",
    );
    let batch = Decoder::new(schema.clone(), opts).decode(input.as_bytes(), &SourceInfo::default());
    assert_eq!(batch.len(), 1);
    assert!(batch.errors().is_empty(), "{:?}", batch.errors());
    assert!(matches!(batch.value(0, name), ValueRef::Str("c.exe")));
    assert!(matches!(batch.value(0, parent), ValueRef::Str("p.exe")));
    assert!(matches!(batch.value(0, agent), ValueRef::Null));
    assert_eq!(batch.entity_key(0), Some("h1"));
    assert_eq!(batch.categories(0).collect::<Vec<_>>(), ["process"]);
    assert_ne!(batch.timestamp(0), kestrel_event::NO_TIMESTAMP);
    assert_eq!(batch.raw(0), input.trim_end().as_bytes());
}
