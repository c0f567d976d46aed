//! Lookup keys. The index may only over-approximate equality, so keys are
//! built such that any two strings an evaluator calls equal share a key.
//!
//! Case-sensitive: the text itself. Case-insensitive: both the host's
//! per-code-point fold (what Wasm rules and globs compare with) and the IR's
//! `str::to_lowercase` (what the IR interpreter compares with), because they
//! differ on a few non-ASCII letters (`İ`). On ASCII, nearly every value,
//! they agree, so that is one key and no allocation.

use kestrel_host::fold::fold;

/// The keys a rule's value is indexed under.
pub fn value_keys(value: &str, case_insensitive: bool) -> Vec<String> {
    if !case_insensitive {
        return vec![value.to_string()];
    }
    let mut keys = vec![fold(value)];
    let lower = value.to_lowercase();
    if lower != keys[0] {
        keys.push(lower);
    }
    keys
}

/// An event text's case-insensitive key besides its fold (`folded`): the
/// IR's lowercase, when it differs (only ever for non-ASCII text).
pub fn lowered_key(text: &str, folded: &str) -> Option<String> {
    if text.is_ascii() {
        return None;
    }
    let lower = text.to_lowercase();
    (lower != folded).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_keys(text: &str, ci: bool) -> Vec<String> {
        if !ci {
            return vec![text.to_string()];
        }
        let folded = fold(text);
        let lowered = lowered_key(text, &folded);
        std::iter::once(folded).chain(lowered).collect()
    }

    #[test]
    fn keys_meet_whenever_either_folding_calls_texts_equal() {
        assert_eq!(value_keys("CMD.exe", true), ["cmd.exe"]);
        assert_eq!(value_keys("CMD.exe", false), ["CMD.exe"]);
        assert_eq!(event_keys("Cmd.EXE", true), ["cmd.exe"]);
        // The host folds İ to i, the IR lowercases it to i + combining dot.
        assert_eq!(value_keys("İ", true), ["i", "i\u{307}"]);
        assert!(event_keys("I", true)
            .iter()
            .any(|k| value_keys("İ", true).contains(k)));
        // The Kelvin sign folds to an ASCII k both ways.
        assert!(event_keys("\u{212A}", true).contains(&"k".to_string()));
    }
}
