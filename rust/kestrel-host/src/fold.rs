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
    // One pass over the text, which is usually read from memory for the
    // first time here: copy it with ASCII capitals lowered, and note whether
    // any byte was not ASCII (then fold it again, per code point). Fixed
    // 16-byte blocks so the compiler keeps it in vector registers.
    const BLOCK: usize = 16;
    let lower = |c: u8| c | (u8::from(c.wrapping_sub(b'A') < 26) << 5);
    let bytes = s.as_bytes();
    let mut seen = [0u8; BLOCK];
    // SAFETY: only ASCII capitals change, each to another ASCII byte, so
    // the bytes stay the valid UTF-8 they were.
    let buf = unsafe { out.as_mut_vec() };
    buf.reserve(bytes.len());
    let mut blocks = bytes.chunks_exact(BLOCK);
    for block in &mut blocks {
        let mut folded = [0u8; BLOCK];
        for ((to, any), &c) in folded.iter_mut().zip(seen.iter_mut()).zip(block) {
            *any |= c;
            *to = lower(c);
        }
        buf.extend_from_slice(&folded);
    }
    for &c in blocks.remainder() {
        seen[0] |= c;
        buf.push(lower(c));
    }
    if seen.iter().any(|&c| c >= 0x80) {
        out.clear();
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

    #[test]
    fn folds_whole_blocks_and_their_remainder() {
        let ascii = "C:\\Windows\\System32\\WindowsPowerShell -NoP -W Hidden -Enc ZQBjAGgAbwA=";
        assert_eq!(fold(ascii), ascii.to_ascii_lowercase());
        // A non-ASCII code point in a later block, or in the remainder,
        // still folds the whole text per code point.
        let late = format!("{}ÄBC", "X".repeat(40));
        assert_eq!(fold(&late), format!("{}äbc", "x".repeat(40)));
        let tail = format!("{}Ö", "Y".repeat(16));
        assert_eq!(fold(&tail), format!("{}ö", "y".repeat(16)));
        assert_eq!(fold(""), "");
        assert_eq!(fold("@[`{"), "@[`{");
    }
}
