//! A search for up to [`MAX_LITERALS`] ASCII literals in text in its own
//! case, ignoring ASCII case, without folding the text first. "None found"
//! settles a case-insensitive question only for ASCII text: elsewhere a
//! folded character may be ASCII (the Kelvin sign folds to `k`).
//!
//! It is the Teddy idea (as in Hyperscan and the `aho-corasick` crate's
//! packed searcher), with two changes that matter for wildcard lists run
//! over command lines:
//!
//! - **Case.** Every text byte is OR-ed with 0x20 before it is looked up,
//!   which lowers ASCII capitals in the same vector operation. A few other
//!   bytes collide (`\` with `|`, `@` with `` ` ``); that only adds candidates,
//!   and each candidate is confirmed against the raw text ignoring ASCII
//!   case. A wildcard list matched this way no longer copies and folds every
//!   text before searching it.
//! - **Fingerprints.** Teddy tests three bytes per position and per bucket.
//!   Each literal is fingerprinted by its least common three-byte window
//!   rather than its first three bytes, so that `downloadstring` does not
//!   raise a candidate at every `windows` in a path.
//!
//! Literals go into 16 buckets (the "fat" layout: the two 128-bit lanes of an
//! AVX2 register hold buckets 0-7 and 8-15 over the same 16 text bytes).
//! Without AVX2 the caller keeps its other search.

/// More literals than this share buckets so widely that candidates cost more
/// than the search saves.
pub const MAX_LITERALS: usize = 48;

const BUCKETS: usize = 16;
const WINDOW: usize = 3;

/// A literal as searched: folded to ASCII lowercase, with the offset of the
/// window its fingerprint comes from.
#[derive(Clone, Debug)]
struct Literal {
    bytes: Vec<u8>,
    window: usize,
    id: usize,
}

/// How a [`Teddy::search`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// `found` accepted an occurrence.
    Accepted,
    /// The text is ASCII and `found` accepted none of the occurrences.
    Declined,
    /// `found` accepted none, but the text is not ASCII: where the caller
    /// folds beyond ASCII, a folded text may hold what this one does not.
    NotAscii,
}

#[derive(Clone, Debug)]
pub struct Teddy {
    literals: Vec<Literal>,
    /// Indexes into `literals`, per bucket.
    buckets: [Vec<u16>; BUCKETS],
    /// Per window byte: bucket bits by low nibble, then by high nibble;
    /// bytes 0-15 of each table serve buckets 0-7, bytes 16-31 buckets 8-15.
    low: [[u8; 32]; WINDOW],
    high: [[u8; 32]; WINDOW],
    /// The buckets holding a literal shorter than the window.
    short: u32,
}

impl Teddy {
    /// Build over `(literal, id)` pairs; `None` when the CPU lacks AVX2,
    /// a literal is empty or not ASCII, or there are too many.
    pub fn new(literals: &[(&[u8], usize)]) -> Option<Teddy> {
        if !avx2() || literals.is_empty() || literals.len() > MAX_LITERALS {
            return None;
        }
        if literals
            .iter()
            .any(|(bytes, _)| bytes.is_empty() || !bytes.is_ascii())
        {
            return None;
        }
        let mut literals: Vec<Literal> = literals
            .iter()
            .map(|&(bytes, id)| {
                let bytes = bytes.to_ascii_lowercase();
                Literal {
                    window: rarest_window(&bytes),
                    bytes,
                    id,
                }
            })
            .collect();
        // Neighbours in this order share fingerprint bytes, so a bucket that
        // holds several literals accepts few extra byte combinations.
        literals.sort_by(|a, b| fingerprint(a).cmp(fingerprint(b)));
        let mut teddy = Teddy {
            buckets: Default::default(),
            low: [[0; 32]; WINDOW],
            high: [[0; 32]; WINDOW],
            short: 0,
            literals,
        };
        let count = teddy.literals.len();
        for (i, literal) in teddy.literals.iter().enumerate() {
            let bucket = i * BUCKETS / count;
            teddy.buckets[bucket].push(i as u16);
            if literal.bytes.len() < WINDOW {
                teddy.short |= 1 << bucket;
            }
            let (lane, bit) = (bucket / 8 * 16, 1u8 << (bucket % 8));
            let window = fingerprint(literal);
            for m in 0..WINDOW {
                match window.get(m) {
                    Some(&c) => {
                        let c = c | 0x20;
                        teddy.low[m][lane + usize::from(c & 0xF)] |= bit;
                        teddy.high[m][lane + usize::from(c >> 4)] |= bit;
                    }
                    // A literal shorter than the window accepts any byte
                    // past its end.
                    None => {
                        for n in 0..16 {
                            teddy.low[m][lane + n] |= bit;
                            teddy.high[m][lane + n] |= bit;
                        }
                    }
                }
            }
        }
        Some(teddy)
    }

    /// Calls `found(id, start)` for occurrences of the literals in `text`
    /// (ignoring ASCII case) until it returns true. Every occurrence made of
    /// ASCII bytes is reported, though not in order.
    pub fn search(&self, text: &[u8], found: &mut impl FnMut(usize, usize) -> bool) -> Search {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: `new` returned this searcher only where AVX2 is available.
            unsafe { avx2::scan(self, text, found) }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (text, found);
            unreachable!("built only where AVX2 is available")
        }
    }

    /// Confirm the candidates of one position, `buckets` being its bucket bits.
    #[inline(never)]
    fn confirm(
        &self,
        text: &[u8],
        at: usize,
        mut buckets: u32,
        found: &mut impl FnMut(usize, usize) -> bool,
    ) -> bool {
        while buckets != 0 {
            let bucket = buckets.trailing_zeros() as usize;
            buckets &= buckets - 1;
            for &i in &self.buckets[bucket] {
                let literal = &self.literals[usize::from(i)];
                let Some(start) = at.checked_sub(literal.window) else {
                    continue;
                };
                let hit = text
                    .get(start..start + literal.bytes.len())
                    .is_some_and(|t| t.eq_ignore_ascii_case(&literal.bytes));
                if hit && found(literal.id, start) {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Search, Teddy, WINDOW};
    use std::arch::x86_64::*;

    /// The tables in registers.
    struct Tables {
        low: [__m256i; WINDOW],
        high: [__m256i; WINDOW],
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scan(
        teddy: &Teddy,
        text: &[u8],
        found: &mut impl FnMut(usize, usize) -> bool,
    ) -> Search {
        let load = |t: &[u8; 32]| _mm256_loadu_si256(t.as_ptr().cast());
        let tables = Tables {
            low: [
                load(&teddy.low[0]),
                load(&teddy.low[1]),
                load(&teddy.low[2]),
            ],
            high: [
                load(&teddy.high[0]),
                load(&teddy.high[1]),
                load(&teddy.high[2]),
            ],
        };
        const SPAN: usize = 16 + WINDOW - 1;
        let len = text.len();
        if len < SPAN {
            // One step over a padded copy. The pad byte is not ASCII, so no
            // fingerprint byte matches it.
            let mut padded = [0x80u8; SPAN];
            padded[..len].copy_from_slice(text);
            if settle(teddy, step(&tables, padded.as_ptr()).0, text, 0, 0, found)
                || shorts_from(teddy, text, 16, found)
            {
                return Search::Accepted;
            }
            return if text.is_ascii() {
                Search::Declined
            } else {
                Search::NotAscii
            };
        }
        // Every byte the steps load first, OR-ed: the ASCII check rides on
        // the search's own loads instead of a pass of its own.
        let mut seen = _mm_setzero_si128();
        let mut p = 0;
        while p + SPAN <= len {
            let (bits, bytes) = step(&tables, text.as_ptr().add(p));
            seen = _mm_or_si128(seen, bytes);
            if settle(teddy, bits, text, p, 0, found) {
                return Search::Accepted;
            }
            p += 16;
        }
        // The last step ends at the text's end and overlaps the previous
        // one, whose positions it skips. A copy into a padded buffer instead
        // would be read back before its stores retire, which stalls.
        let last = len - SPAN;
        if p < len - (WINDOW - 1) {
            let (bits, bytes) = step(&tables, text.as_ptr().add(last));
            seen = _mm_or_si128(seen, bytes);
            if settle(teddy, bits, text, last, p - last, found) {
                return Search::Accepted;
            }
        }
        let ascii = _mm_movemask_epi8(seen) == 0 && text[len - (WINDOW - 1)..].is_ascii();
        if shorts_from(teddy, text, len - (WINDOW - 1), found) {
            return Search::Accepted;
        }
        if ascii {
            Search::Declined
        } else {
            Search::NotAscii
        }
    }

    /// Literals shorter than the window, at the positions from `from` that no
    /// step covered: too near the end for a whole window.
    fn shorts_from(
        teddy: &Teddy,
        text: &[u8],
        from: usize,
        found: &mut impl FnMut(usize, usize) -> bool,
    ) -> bool {
        teddy.short != 0 && (from..text.len()).any(|at| teddy.confirm(text, at, teddy.short, found))
    }

    /// The bucket bits of the 16 window starts at `p`, which has
    /// `16 + WINDOW - 1` readable bytes, and those 16 bytes as they are.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn step(tables: &Tables, p: *const u8) -> (__m256i, __m128i) {
        let first = _mm_loadu_si128(p.cast());
        let nibble = _mm256_set1_epi8(0x0F);
        let case = _mm256_set1_epi8(0x20);
        let mut bits = _mm256_set1_epi8(-1);
        for m in 0..WINDOW {
            let v = if m == 0 {
                first
            } else {
                _mm_loadu_si128(p.add(m).cast())
            };
            let v = _mm256_or_si256(_mm256_broadcastsi128_si256(v), case);
            let lo = _mm256_shuffle_epi8(tables.low[m], _mm256_and_si256(v, nibble));
            let hi = _mm256_shuffle_epi8(
                tables.high[m],
                _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble),
            );
            bits = _mm256_and_si256(bits, _mm256_and_si256(lo, hi));
        }
        (bits, first)
    }

    /// Confirm every position of a step from `base`, past its first `skip`,
    /// whose bucket bits are not all zero.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn settle(
        teddy: &Teddy,
        bits: __m256i,
        text: &[u8],
        base: usize,
        skip: usize,
        found: &mut impl FnMut(usize, usize) -> bool,
    ) -> bool {
        let zero = _mm256_movemask_epi8(_mm256_cmpeq_epi8(bits, _mm256_setzero_si256())) as u32;
        if zero == u32::MAX {
            return false;
        }
        let mut lanes = [0u8; 32];
        _mm256_storeu_si256(lanes.as_mut_ptr().cast(), bits);
        let mut positions = (!zero | !zero >> 16) & 0xFFFF & (u32::MAX << skip);
        while positions != 0 {
            let j = positions.trailing_zeros() as usize;
            positions &= positions - 1;
            if base + j >= text.len() {
                break;
            }
            let buckets = u32::from(lanes[j]) | u32::from(lanes[16 + j]) << 8;
            if teddy.confirm(text, base + j, buckets, found) {
                return true;
            }
        }
        false
    }
}

fn fingerprint(literal: &Literal) -> &[u8] {
    let end = (literal.window + WINDOW).min(literal.bytes.len());
    &literal.bytes[literal.window..end]
}

/// The start of the window of `literal` least likely to occur in command
/// lines and paths: first one that no [`COMMON_WORDS`] word holds, then
/// the one whose bytes are least common by [`commonness`].
fn rarest_window(literal: &[u8]) -> usize {
    let width = WINDOW.min(literal.len());
    (0..=literal.len() - width)
        .min_by_key(|&k| {
            let window = &literal[k..k + width];
            let in_words = COMMON_WORDS
                .iter()
                .filter(|word| word.windows(width).any(|w| w == window))
                .count();
            let bytes: u32 = window
                .iter()
                .map(|&c| u32::from(commonness(c)).pow(2))
                .sum();
            (in_words, bytes)
        })
        .unwrap_or(0)
}

/// Words that fill command lines and paths on every system, folded. A
/// fingerprint taken from one of them (`dow` of `downloadstring`, from
/// `windows`) would raise a candidate in nearly every text.
const COMMON_WORDS: &[&[u8]] = &[
    b"c:\\windows\\system32\\",
    b"program files",
    b"programdata",
    b"microsoft",
    b"\\users\\",
    b"\\downloads\\",
    b"appdata\\local",
    b"appdata\\roaming",
    b"\\device\\harddiskvolume",
    b".exe",
    b".dll",
    b"/usr/bin/",
    b"/usr/lib/",
    b"/usr/local/",
    b"/home/",
    b"/tmp/",
    b"/var/",
    b"/etc/",
    b"/opt/",
    b"python",
    b"config",
    b"--",
];

/// A rough rank of how often a folded byte appears in command lines, paths
/// and URLs: lowercase letters in English order of frequency, with the
/// separators that paths and arguments are made of. Squared, so that one
/// very common byte weighs more than two middling ones.
fn commonness(byte: u8) -> u8 {
    const BY_FREQUENCY: &[u8] = b" etaoinsrlc\\/.-hdum:pgfwy_0b1=2vk\"x3";
    BY_FREQUENCY
        .iter()
        .position(|&c| c == byte)
        .map_or(0, |at| (BY_FREQUENCY.len() - at) as u8)
}

fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occurrences(teddy: &Teddy, text: &str) -> Vec<(usize, usize)> {
        let mut seen = Vec::new();
        let end = teddy.search(text.as_bytes(), &mut |id, at| {
            seen.push((id, at));
            false
        });
        let ascii = if text.is_ascii() {
            Search::Declined
        } else {
            Search::NotAscii
        };
        assert_eq!(end, ascii, "{text:?}");
        seen.sort();
        seen
    }

    fn naive(literals: &[&str], text: &str) -> Vec<(usize, usize)> {
        let folded = text.as_bytes().to_ascii_lowercase();
        let mut seen = Vec::new();
        for (id, literal) in literals.iter().enumerate() {
            let literal = literal.as_bytes().to_ascii_lowercase();
            for at in 0..folded.len() {
                if folded[at..].starts_with(&literal) {
                    seen.push((id, at));
                }
            }
        }
        seen.sort();
        seen
    }

    fn build(literals: &[&str]) -> Option<Teddy> {
        let pairs: Vec<(&[u8], usize)> = literals
            .iter()
            .enumerate()
            .map(|(id, l)| (l.as_bytes(), id))
            .collect();
        Teddy::new(&pairs)
    }

    #[test]
    fn finds_every_occurrence_ignoring_case() {
        let literals = [
            "-enc",
            "-e ",
            "frombase64",
            "downloadstring",
            "x",
            "ab",
            "\\\\192.168.",
            "|",
            "@",
            "whoami /all",
        ];
        let Some(teddy) = build(&literals) else {
            return; // no AVX2 here: the caller's other search is used
        };
        let mut next = crate::picker(0x9e37_79b9_7f4a_7c15u64);
        let pieces = [
            "-ENC",
            "-e ",
            "FromBase64",
            "x",
            "A",
            "b",
            "\\\\192.168.",
            "\\",
            "`",
            "|",
            "@",
            "WHOAMI /ALL",
            "windows",
            " ",
            "downloadString",
            "q",
            "é",
            "K",
        ];
        for _ in 0..3000 {
            let text: String = (0..next(40)).map(|_| pieces[next(pieces.len())]).collect();
            assert_eq!(
                occurrences(&teddy, &text),
                naive(&literals, &text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn stops_at_the_first_accepted_occurrence() {
        let teddy = match build(&["abc", "def"]) {
            Some(t) => t,
            None => return,
        };
        let mut calls = 0;
        let end = teddy.search(b"xxdefxxabcxxdef", &mut |id, _| {
            calls += 1;
            id == 0
        });
        assert_eq!(end, Search::Accepted);
        assert!(calls <= 2);
        assert_eq!(
            teddy.search(b"abd de fab", &mut |_, _| true),
            Search::Declined
        );
        // Non-ASCII bytes in a whole step, in the tail, or after a hit.
        let late = format!("{}é", "x".repeat(40));
        assert_eq!(
            teddy.search(late.as_bytes(), &mut |_, _| true),
            Search::NotAscii
        );
        let early = format!("é{}", "x".repeat(40));
        assert_eq!(
            teddy.search(early.as_bytes(), &mut |_, _| true),
            Search::NotAscii
        );
        let hit = format!("abc{}é", "x".repeat(40));
        assert_eq!(
            teddy.search(hit.as_bytes(), &mut |_, _| true),
            Search::Accepted
        );
    }

    #[test]
    fn refuses_what_it_cannot_search() {
        assert!(build(&[""]).is_none());
        assert!(build(&["straße"]).is_none());
        let many: Vec<String> = (0..=MAX_LITERALS).map(|i| format!("lit{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(build(&many).is_none());
    }

    #[test]
    fn fingerprints_avoid_common_windows() {
        assert_eq!(rarest_window(b"eeeqzxeee"), 3);
        assert_eq!(rarest_window(b"-e "), 0);
        assert_eq!(rarest_window(b"ab"), 0);
    }
}
