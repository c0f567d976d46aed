//! Case folding for case-insensitive matching.
//!
//! Each code point is folded on its own to the first code point of its
//! lowercase mapping. That mirrors how Elasticsearch's case-insensitive term
//! and wildcard queries treat text (Java's per-code-point `toLowerCase`), so
//! `İ` folds to `i` and lengths in code points never change.

use std::cell::RefCell;

#[inline]
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// Fold a whole string.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

pub fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        // SAFETY: lowercasing ASCII bytes keeps them ASCII, hence valid UTF-8.
        unsafe { out.as_bytes_mut().make_ascii_lowercase() };
    } else {
        out.extend(s.chars().map(fold_char));
    }
}

/// Case-insensitive equality of `text` with an already folded `folded`.
#[inline]
pub fn eq_folded(text: &str, folded: &str) -> bool {
    if text.is_ascii() && folded.is_ascii() {
        return text.len() == folded.len()
            && text.as_bytes().eq_ignore_ascii_case(folded.as_bytes());
    }
    let mut a = text.chars().map(fold_char);
    let mut b = folded.chars();
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => continue,
            _ => return false,
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<String> = RefCell::new(String::with_capacity(256));
}

/// Run `f` on the folded form of `s`, reusing a per-thread buffer so the hot
/// path does not allocate.
pub fn with_folded<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            fold_into(s, &mut buf);
            f(&buf)
        }
        // Re-entrant use (a matcher folding inside a matcher): allocate.
        Err(_) => f(&fold(s)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_ascii_and_unicode() {
        assert_eq!(fold("CMD.EXE"), "cmd.exe");
        assert_eq!(fold("ÄÖÜ"), "äöü");
        assert_eq!(fold("İ"), "i");
        assert!(eq_folded("ПРИВЕТ", "привет"));
        assert!(!eq_folded("abc", "abcd"));
        assert!(eq_folded("Straße", "straße"));
    }
}
