//! EQL wildcard patterns: `*` matches any run of characters (including none)
//! and `?` exactly one character, in case-sensitive or case-insensitive mode.
//!
//! Patterns are compiled once when a rule loads. Most real patterns are a
//! literal with stars at the ends (`*\\cmd.exe`, `C:\\Windows\\*`, `*-enc*`),
//! so those shapes get direct prefix/suffix/substring checks and only the
//! rest go through the general matcher.

use memchr::memmem;

use crate::fold::{fold, with_folded};
use crate::teddy::{Search, Teddy};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Lit(String),
    AnyOne,
    AnyRun,
}

#[derive(Clone, Debug)]
enum Shape {
    Exact(String),
    Prefix(String),
    Suffix(String),
    // Boxed: a finder is several times larger than the other shapes.
    Contains(Box<memmem::Finder<'static>>),
    /// `*a*b*…*`: each literal found after the previous one, leftmost
    /// first, which is exact when only stars separate them.
    Pieces(Vec<memmem::Finder<'static>>),
    All,
    General(Vec<Token>),
}

/// A compiled wildcard pattern.
#[derive(Clone, Debug)]
pub struct Glob {
    pattern: String,
    case_insensitive: bool,
    shape: Shape,
}

impl Glob {
    /// Compile `pattern`, where `*` and `?` are always wildcards, as in
    /// Elasticsearch's `:` and `like` (backslashes are ordinary characters:
    /// `"C:\\Windows\\*"` ends in a wildcard).
    pub fn new(pattern: &str, case_insensitive: bool) -> Glob {
        Self::build(pattern, case_insensitive, None)
    }

    /// Compile `pattern`, where `escape` makes the next character literal.
    pub fn with_escape(pattern: &str, case_insensitive: bool, escape: char) -> Glob {
        Self::build(pattern, case_insensitive, Some(escape))
    }

    fn build(pattern: &str, ci: bool, escape: Option<char>) -> Glob {
        let source = if ci {
            fold(pattern)
        } else {
            pattern.to_string()
        };
        let tokens = tokenize(&source, escape);
        Glob {
            pattern: pattern.to_string(),
            case_insensitive: ci,
            shape: classify(tokens),
        }
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    pub fn matches(&self, text: &str) -> bool {
        if self.case_insensitive && !matches!(self.shape, Shape::All) {
            with_folded(text, |t| self.matches_exact_case(t))
        } else {
            self.matches_exact_case(text)
        }
    }

    fn matches_exact_case(&self, text: &str) -> bool {
        match &self.shape {
            Shape::Exact(s) => text == s,
            Shape::Prefix(s) => text.starts_with(s.as_str()),
            Shape::Suffix(s) => text.ends_with(s.as_str()),
            Shape::Contains(f) => f.find(text.as_bytes()).is_some(),
            Shape::Pieces(pieces) => {
                let mut rest = text.as_bytes();
                pieces.iter().all(|f| match f.find(rest) {
                    Some(at) => {
                        rest = &rest[at + f.needle().len()..];
                        true
                    }
                    None => false,
                })
            }
            Shape::All => true,
            Shape::General(tokens) => match_general(tokens, text),
        }
    }
}

fn tokenize(pattern: &str, escape: Option<char>) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut lit = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        let wildcard = match c {
            _ if Some(c) == escape => {
                // A trailing escape stands for itself.
                lit.push(chars.next().unwrap_or(c));
                continue;
            }
            '*' => Token::AnyRun,
            '?' => Token::AnyOne,
            _ => {
                lit.push(c);
                continue;
            }
        };
        if !lit.is_empty() {
            tokens.push(Token::Lit(std::mem::take(&mut lit)));
        }
        // Consecutive stars are one star.
        if !(wildcard == Token::AnyRun && tokens.last() == Some(&Token::AnyRun)) {
            tokens.push(wildcard);
        }
    }
    if !lit.is_empty() {
        tokens.push(Token::Lit(lit));
    }
    tokens
}

fn classify(tokens: Vec<Token>) -> Shape {
    use Token::*;
    match tokens.as_slice() {
        [] => Shape::Exact(String::new()),
        [Lit(s)] => Shape::Exact(s.clone()),
        [AnyRun] => Shape::All,
        [Lit(s), AnyRun] => Shape::Prefix(s.clone()),
        [AnyRun, Lit(s)] => Shape::Suffix(s.clone()),
        [AnyRun, Lit(s), AnyRun] => {
            Shape::Contains(Box::new(memmem::Finder::new(s.as_bytes()).into_owned()))
        }
        [AnyRun, middle @ .., AnyRun]
            if middle
                .iter()
                .enumerate()
                .all(|(i, t)| matches!(t, Lit(_)) == (i % 2 == 0)) =>
        {
            Shape::Pieces(
                middle
                    .iter()
                    .filter_map(|t| match t {
                        Lit(s) => Some(memmem::Finder::new(s.as_bytes()).into_owned()),
                        _ => None,
                    })
                    .collect(),
            )
        }
        _ => Shape::General(tokens),
    }
}

/// One anchored, case-sensitive regex equivalent to any of `globs` (whose
/// tokens are already folded when they are case-insensitive). `None` if the
/// regex would be too large; the caller then matches pattern by pattern.
fn others_regex<'a>(globs: impl Iterator<Item = &'a Glob>) -> Option<regex::Regex> {
    let alternatives: Vec<String> = globs
        .map(|g| {
            let tokens = match &g.shape {
                Shape::General(tokens) => tokens.clone(),
                Shape::Pieces(pieces) => std::iter::once(Token::AnyRun)
                    .chain(pieces.iter().flat_map(|f| {
                        let piece = String::from_utf8_lossy(f.needle()).into_owned();
                        [Token::Lit(piece), Token::AnyRun]
                    }))
                    .collect(),
                _ => tokenize(
                    &if g.case_insensitive {
                        fold(&g.pattern)
                    } else {
                        g.pattern.clone()
                    },
                    None,
                ),
            };
            tokens
                .iter()
                .map(|t| match t {
                    Token::Lit(s) => regex::escape(s),
                    Token::AnyOne => ".".to_string(),
                    Token::AnyRun => ".*".to_string(),
                })
                .collect::<String>()
        })
        .collect();
    regex::RegexBuilder::new(&format!("^(?:{})$", alternatives.join("|")))
        .dot_matches_new_line(true)
        .size_limit(16 << 20)
        .build()
        .ok()
}

/// Greedy matching with single-star backtracking: on a mismatch, the most
/// recent star absorbs one more character. Linear in practice and never
/// exponential, since only the latest star is ever revisited.
fn match_general(tokens: &[Token], text: &str) -> bool {
    let (mut t, mut p) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None; // (token after star, text position)
    loop {
        if p < tokens.len() {
            match &tokens[p] {
                Token::AnyRun => {
                    p += 1;
                    resume = Some((p, t));
                    continue;
                }
                Token::AnyOne if t < text.len() => {
                    t += char_len(text.as_bytes()[t]);
                    p += 1;
                    continue;
                }
                Token::Lit(s) if text[t..].starts_with(s.as_str()) => {
                    t += s.len();
                    p += 1;
                    continue;
                }
                _ => {}
            }
        } else if t == text.len() {
            return true;
        }
        match resume {
            Some((rp, rt)) if rt < text.len() => {
                let nt = rt + char_len(text.as_bytes()[rt]);
                resume = Some((rp, nt));
                p = rp;
                t = nt;
            }
            _ => return false,
        }
    }
}

#[inline]
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Several patterns tested as one: true if any matches.
///
/// A wildcard list in a real rule is mostly `*needle*` patterns (twenty of
/// them in a typical command-line rule), so those are folded into one
/// Aho-Corasick automaton that finds any needle in a single pass; exact
/// patterns go into a hash set, and only the remaining shapes are tried one
/// by one. Case-insensitive text is folded once for the whole list.
#[derive(Clone, Debug, Default)]
pub struct GlobSet {
    globs: Vec<Glob>,
    case_insensitive: bool,
    exact: ahash::AHashSet<String>,
    needles: Option<aho_corasick::AhoCorasick>,
    any: bool,
    /// Indexes into `globs` of the patterns not covered above.
    others: Vec<usize>,
    /// Those patterns as one anchored regex over folded text: several
    /// multi-star patterns (`*regsvr32*/i:*`) then cost one DFA pass
    /// instead of a backtracking match each.
    others_regex: Option<regex::Regex>,
    /// One pass that settles most texts (see [`Screen`]).
    screen: Option<Screen>,
    /// Whether the patterns differ in case mode (then each is tried alone).
    mixed: bool,
}

/// A single search for every `*needle*` needle and, for each remaining
/// pattern, one literal it cannot match without (its "gate"). A needle found
/// is a match. Where a gate is found, only the patterns gated on it are
/// tried, each once per text; real texts rarely hold a gate, so the
/// patterns with several stars are skipped for almost all of them.
#[derive(Clone, Debug)]
struct Screen {
    searcher: Searcher,
    /// The same literals, searched for in a text as it is, without folding
    /// it first: built for case-insensitive patterns where the CPU allows
    /// (see [`Teddy`]).
    unfolded: Option<Teddy>,
    /// Pattern ids below this are needles; the rest are gates.
    needles: usize,
    /// `(gate, index into the set's globs)`, by pattern id past `needles`.
    gates: Vec<(Vec<u8>, usize)>,
    /// Patterns with no literal to gate on: always tried.
    ungated: Vec<usize>,
}

#[derive(Clone, Debug)]
enum Searcher {
    /// SIMD (Teddy), where the CPU and the needles allow it.
    Packed(aho_corasick::packed::Searcher),
    Automaton(aho_corasick::AhoCorasick),
}

impl Searcher {
    /// Where the leftmost needle or gate at or after `at` starts, and which.
    fn find_from(&self, text: &str, at: usize) -> Option<(usize, usize)> {
        let found = match self {
            Searcher::Packed(s) => s.find_in(text, aho_corasick::Span::from(at..text.len())),
            Searcher::Automaton(a) => a.find(aho_corasick::Input::new(text).span(at..text.len())),
        };
        found.map(|m| (m.start(), m.pattern().as_usize()))
    }
}

/// Gates tracked one bit each; a set with more falls back to the full check.
const MAX_GATES: usize = 64;

/// From how many literals a screen searches with Fat Teddy.
const FAT_TEDDY_FROM: usize = 12;

impl Screen {
    fn build(
        needles: Vec<Vec<u8>>,
        gates: Vec<(Vec<u8>, usize)>,
        ungated: Vec<usize>,
        case_insensitive: bool,
    ) -> Option<Screen> {
        let all: Vec<&[u8]> = needles
            .iter()
            .map(Vec::as_slice)
            .chain(gates.iter().map(|(g, _)| g.as_slice()))
            .collect();
        if all.is_empty() || gates.len() > MAX_GATES {
            return None;
        }
        // Leftmost-first: at one position, needles (listed first) win.
        let packed = |fat: Option<bool>| {
            aho_corasick::packed::Config::new()
                .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
                .only_teddy_fat(fat)
                .builder()
                .extend(&all)
                .build()
        };
        // Fat Teddy has twice the buckets at half the stride: with many
        // literals, fewer false candidates to verify outweigh the stride.
        let fat = (all.len() >= FAT_TEDDY_FROM).then(|| packed(Some(true)));
        let searcher = match fat.flatten().or_else(|| packed(None)) {
            Some(packed) => Searcher::Packed(packed),
            None => Searcher::Automaton(
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                    .build(&all)
                    .ok()?,
            ),
        };
        // A literal that is not ASCII is left out of the unfolded search:
        // ASCII text cannot hold it, and for other text that search's
        // "none found" is not taken as an answer.
        let ascii: Vec<(&[u8], usize)> = all
            .iter()
            .enumerate()
            .filter(|(_, literal)| literal.is_ascii())
            .map(|(id, literal)| (*literal, id))
            .collect();
        Some(Screen {
            unfolded: if case_insensitive {
                Teddy::new(&ascii)
            } else {
                None
            },
            searcher,
            needles: needles.len(),
            gates,
            ungated,
        })
    }

    /// Whether any needle or screened pattern of `globs` matches `text`,
    /// which is already in the patterns' case (folded when they are).
    fn matches(&self, globs: &[Glob], text: &str) -> bool {
        if self
            .ungated
            .iter()
            .any(|&i| globs[i].matches_exact_case(text))
        {
            return true;
        }
        let mut tried = 0u64;
        let mut at = 0;
        // Every position holding a needle or a gate is visited in order: the
        // search resumes one byte past the last start it reported.
        while let Some((start, id)) = self.searcher.find_from(text, at) {
            if id < self.needles {
                return true;
            }
            let here = &text.as_bytes()[start..];
            for (g, (gate, glob)) in self.gates.iter().enumerate() {
                if tried >> g & 1 == 0 && here.starts_with(gate) {
                    tried |= 1 << g;
                    if globs[*glob].matches_exact_case(text) {
                        return true;
                    }
                }
            }
            at = start + 1;
            if at > text.len() {
                break;
            }
        }
        false
    }

    /// [`Screen::matches`] for `text` in its own case, when the patterns
    /// are case-insensitive: the text is folded only to confirm a pattern
    /// whose gate was found, or one with no gate. `None` when the answer
    /// needs the whole text folded (it is not ASCII and nothing matched).
    fn matches_unfolded(&self, teddy: &Teddy, globs: &[Glob], text: &str) -> Option<bool> {
        let confirm = |i: usize| with_folded(text, |folded| globs[i].matches_exact_case(folded));
        if self.ungated.iter().any(|&i| confirm(i)) {
            return Some(true);
        }
        let mut tried = 0u64;
        // An occurrence of ASCII bytes is one in the folded text too, so a
        // needle found is a match even in text that is not ASCII.
        let search = teddy.search(text.as_bytes(), &mut |id, _| {
            let Some(g) = id.checked_sub(self.needles) else {
                return true;
            };
            let first = tried >> g & 1 == 0;
            tried |= 1 << g;
            first && confirm(self.gates[g].1)
        });
        match search {
            Search::Accepted => Some(true),
            Search::Declined => Some(false),
            Search::NotAscii => None,
        }
    }
}

/// The longest literal `glob` cannot match without (None: it has none).
fn gate(glob: &Glob) -> Option<Vec<u8>> {
    let literal = match &glob.shape {
        Shape::Exact(s) | Shape::Prefix(s) | Shape::Suffix(s) => s.as_str(),
        Shape::Contains(f) => return Some(f.needle().to_vec()),
        Shape::Pieces(pieces) => {
            return pieces
                .iter()
                .map(|f| f.needle())
                .max_by_key(|n| n.len())
                .map(<[u8]>::to_vec)
        }
        Shape::All => return None,
        Shape::General(tokens) => tokens
            .iter()
            .filter_map(|t| match t {
                Token::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .max_by_key(|s| s.len())
            .unwrap_or(""),
    };
    (!literal.is_empty()).then(|| literal.as_bytes().to_vec())
}

impl GlobSet {
    pub fn new(patterns: &[&str], case_insensitive: bool) -> GlobSet {
        Self::from_globs(
            patterns
                .iter()
                .map(|p| Glob::new(p, case_insensitive))
                .collect(),
        )
    }

    /// Build from compiled globs. Grouping by shape only applies when every
    /// glob has the same case mode; a mixed list is tried pattern by pattern.
    pub fn from_globs(globs: Vec<Glob>) -> GlobSet {
        let ci = globs.first().is_some_and(|g| g.case_insensitive);
        let uniform = globs.iter().all(|g| g.case_insensitive == ci);
        let mut set = GlobSet {
            case_insensitive: ci,
            mixed: !uniform,
            ..Default::default()
        };
        let mut needles = Vec::new();
        for (i, g) in globs.iter().enumerate() {
            match &g.shape {
                Shape::Exact(s) if uniform => {
                    set.exact.insert(s.clone());
                }
                Shape::Contains(f) if uniform => needles.push(f.needle().to_vec()),
                Shape::All if uniform => set.any = true,
                _ => set.others.push(i),
            }
        }
        if uniform {
            let (mut gates, mut ungated) = (Vec::new(), Vec::new());
            for &i in &set.others {
                match gate(&globs[i]) {
                    Some(g) => gates.push((g, i)),
                    None => ungated.push(i),
                }
            }
            set.screen = Screen::build(needles.clone(), gates, ungated, ci);
        }
        if !needles.is_empty() {
            // Needles are already folded; ASCII case-insensitivity in the
            // automaton lets ASCII text skip the folding copy entirely.
            let built = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(ci)
                .build(&needles);
            match built {
                Ok(ac) => set.needles = Some(ac),
                // Too large an automaton: keep matching those patterns singly.
                Err(_) => set.others.extend(
                    globs
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| matches!(g.shape, Shape::Contains(_)))
                        .map(|(i, _)| i),
                ),
            }
        }
        if !uniform {
            set.others = (0..globs.len()).collect();
            set.exact.clear();
            set.needles = None;
            set.any = false;
        } else if set.others.len() > 1 {
            set.others_regex = others_regex(set.others.iter().map(|&i| &globs[i]));
        }
        set.globs = globs;
        set
    }

    pub fn len(&self) -> usize {
        self.globs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    pub fn matches(&self, text: &str) -> bool {
        if self.case_insensitive && !self.mixed {
            if let Some(answer) = self.matches_unfolded(text) {
                return answer;
            }
            with_folded(text, |folded| self.matches_with_folded(text, folded))
        } else {
            self.matches_with_folded(text, text)
        }
    }

    /// Literals, in the set's case (folded when it ignores case), one of
    /// which every text the set matches contains; `None` when some pattern
    /// has none to offer (`*`, `?x`). A caller testing many sets on the same
    /// texts can search for all their literals at once and try only the
    /// sets whose literal it found.
    pub fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        if self.any || self.mixed {
            return None;
        }
        self.globs.iter().map(gate).collect()
    }

    /// The answer for a case-insensitive set without folding `text` first,
    /// where its screen can search the text as it is; `None` otherwise.
    fn matches_unfolded(&self, text: &str) -> Option<bool> {
        let screen = self.screen.as_ref()?;
        let teddy = screen.unfolded.as_ref()?;
        if self.any || (!self.exact.is_empty() && with_folded(text, |f| self.exact.contains(f))) {
            return Some(true);
        }
        screen.matches_unfolded(teddy, &self.globs, text)
    }

    /// [`GlobSet::matches`] for a caller that already holds `text`
    /// case-folded ([`crate::fold::fold`]), as `folded`: one fold then
    /// serves every set tried on the same text.
    pub fn matches_with_folded(&self, text: &str, folded: &str) -> bool {
        if self.any {
            return true;
        }
        if self.mixed {
            return self.others.iter().any(|&i| self.globs[i].matches(text));
        }
        let t = if self.case_insensitive { folded } else { text };
        match &self.screen {
            Some(screen) => {
                (!self.exact.is_empty() && self.exact.contains(t)) || screen.matches(&self.globs, t)
            }
            None => {
                self.exact.contains(t)
                    || self.needles.as_ref().is_some_and(|ac| ac.is_match(t))
                    || match &self.others_regex {
                        Some(re) => re.is_match(t),
                        None => self
                            .others
                            .iter()
                            .any(|&i| self.globs[i].matches_exact_case(t)),
                    }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p, false).matches(t)
    }

    fn mi(p: &str, t: &str) -> bool {
        Glob::new(p, true).matches(t)
    }

    #[test]
    fn shapes() {
        assert!(m("cmd.exe", "cmd.exe"));
        assert!(!m("cmd.exe", "CMD.exe"));
        assert!(m("*\\cmd.exe", "C:\\Windows\\cmd.exe"));
        assert!(m("C:\\*", "C:\\x"));
        assert!(m("*-enc*", "powershell -enc abc"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn question_mark_is_one_character_even_multibyte() {
        assert!(m("?:\\Windows\\*", "C:\\Windows\\x"));
        assert!(!m("?:\\Windows\\*", ":\\Windows\\x"));
        assert!(m("a?c", "aéc"));
        assert!(!m("a?c", "ac"));
        assert!(!m("a?c", "abbc"));
    }

    #[test]
    fn general_backtracking() {
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
        assert!(m("a*b?d", "aXXbcd"));
        assert!(m("*ab", "aab"));
        assert!(m("**x", "x"));
    }

    #[test]
    fn case_insensitive_with_unicode() {
        assert!(mi("*\\CMD.EXE", "c:\\windows\\cmd.exe"));
        assert!(mi("ÄB*", "äbc"));
        assert!(!mi("straße", "STRASSE"));
        assert!(mi("*İ*", "xix"));
    }

    #[test]
    fn sets_group_shapes_and_agree_with_single_globs() {
        let patterns = [
            "*-enc*",
            "*-e *",
            "cmd.exe",
            "*\\rundll32.exe",
            "a?c",
            "*frombase64*",
            "X*",
            "*regsvr32*/i:*",
            "*a.b*c?",
        ];
        for ci in [false, true] {
            let set = GlobSet::new(&patterns, ci);
            for text in [
                "powershell -ENC x",
                "CMD.EXE",
                "cmd.exe",
                "c:\\x\\rundll32.exe",
                "abc",
                "Xylophone",
                "nothing",
                "",
                "REGSVR32 /s /I:http://x",
                "zzA.BzzCx",
                "a.bc",
            ] {
                let single = patterns.iter().any(|p| Glob::new(p, ci).matches(text));
                assert_eq!(set.matches(text), single, "{text:?} ci={ci}");
            }
        }
        assert!(GlobSet::new(&["*"], false).matches("anything"));
        assert!(!GlobSet::new(&[], false).matches("x"));
    }

    /// The general backtracking matcher alone, whatever the pattern's shape.
    fn by_backtracking(pattern: &str, text: &str, ci: bool) -> bool {
        if ci {
            match_general(&tokenize(&fold(pattern), None), &fold(text))
        } else {
            match_general(&tokenize(pattern, None), text)
        }
    }

    /// Texts built from the patterns' own pieces, so that needles, gates and
    /// multi-star patterns overlap, nest and repeat: the screened set must
    /// answer as the patterns one by one do.
    #[test]
    fn screened_sets_agree_with_single_globs_on_generated_texts() {
        let patterns = [
            "*-enc*",
            "*-e *",
            "*regsvr32*/i:*",
            "*rundll32*javascript*",
            "*a*b*a*",
            "*ab?a*",
            "*wmic*process*call*",
            "*process*",
            "x*y",
            "*.hta",
            "cmd*",
        ];
        let pieces = [
            "-e",
            "-enc",
            " ",
            "regsvr32",
            "/i:",
            "rundll32",
            "javascript",
            "a",
            "b",
            "ab",
            "wmic",
            "process",
            "call",
            "x",
            "y",
            ".hta",
            "cmd",
            "REGSVR32",
            "-E",
            "ä",
            "İ",
        ];
        let mut next = crate::picker(0x2545_f491_4f6c_dd1du64);
        for ci in [false, true] {
            for subset in 1..=patterns.len() {
                let chosen = &patterns[..subset];
                let set = GlobSet::new(chosen, ci);
                for _ in 0..400 {
                    let text: String = (0..next(7)).map(|_| pieces[next(pieces.len())]).collect();
                    let general = chosen.iter().any(|p| by_backtracking(p, &text, ci));
                    assert_eq!(set.matches(&text), general, "{text:?} ci={ci} {chosen:?}");
                }
            }
        }
    }

    /// Text that is not ASCII may fold into a match the unfolded search
    /// cannot see (the Kelvin sign folds to `k`); a match made of ASCII
    /// bytes stands either way.
    #[test]
    fn sets_fold_text_that_is_not_ascii() {
        let set = GlobSet::new(&["*-enc*", "*kb*", "*wmic*process*"], true);
        assert!(set.matches("x \u{212A}B y"));
        assert!(set.matches("\u{212A}b"));
        assert!(set.matches("ä -ENC x"));
        assert!(set.matches("WMIC.exe PROCESS ä"));
        assert!(!set.matches("ä -EN C x"));
        let long = format!("{}\u{212A}B", "x".repeat(40));
        assert!(set.matches(&long));
        assert!(!set.matches(&"é".repeat(30)));
    }

    #[test]
    fn star_separated_literals_match_in_order() {
        assert!(m("*a*b*c*", "xaxbxcx"));
        assert!(!m("*a*b*c*", "xcxbxax"));
        assert!(m("*ab*ab*", "abab"));
        assert!(!m("*ab*ab*", "aba"));
        assert!(mi("*REGSVR32*/I:*", "c:\\regsvr32.exe /s /i:x"));
    }

    #[test]
    fn escapes() {
        let g = Glob::with_escape("a\\*b", false, '\\');
        assert!(g.matches("a*b"));
        assert!(!g.matches("axb"));
        let g = Glob::with_escape("a\\?", false, '\\');
        assert!(g.matches("a?"));
        assert!(!g.matches("ab"));
    }
}
