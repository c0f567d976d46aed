//! A rule's constants: the literals, patterns and sets its predicates refer
//! to by id. Built once when the rule loads, so per-event calls only index.

use ahash::AHashSet;
use regex::Regex;

use crate::fold::{fold, with_folded};
use crate::glob::GlobSet;
use crate::HostError;

/// A string literal with its folded form precomputed.
#[derive(Clone, Debug)]
pub struct Literal {
    pub text: Box<str>,
    pub folded: Box<str>,
    pub ascii: bool,
}

impl Literal {
    pub fn new(text: &str) -> Literal {
        Literal {
            text: text.into(),
            folded: fold(text).into(),
            ascii: text.is_ascii(),
        }
    }
}

/// A hashed set of strings, for `in` / `in~`.
#[derive(Clone, Debug)]
pub struct StrSet {
    members: AHashSet<Box<str>>,
    case_insensitive: bool,
}

impl StrSet {
    pub fn new<'a>(items: impl IntoIterator<Item = &'a str>, case_insensitive: bool) -> StrSet {
        let members = items
            .into_iter()
            .map(|s| {
                if case_insensitive {
                    fold(s).into()
                } else {
                    s.into()
                }
            })
            .collect();
        StrSet {
            members,
            case_insensitive,
        }
    }

    #[inline]
    pub fn contains(&self, text: &str) -> bool {
        if self.case_insensitive {
            with_folded(text, |t| self.members.contains(t))
        } else {
            self.members.contains(text)
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Compile a regex with whole-string anchoring, as EQL's `regex` requires.
/// The pattern is in the `regex` crate's syntax; the compiler translates
/// Lucene regexp syntax into it.
pub fn compile_regex(pattern: &str, case_insensitive: bool) -> Result<Regex, HostError> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .case_insensitive(case_insensitive)
        .dot_matches_new_line(true)
        .size_limit(8 << 20)
        .build()
        .map_err(|e| HostError::BadRegex {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })
}

/// Everything a rule's predicates address by id.
#[derive(Clone, Debug, Default)]
pub struct RuleConstants {
    pub literals: Vec<Literal>,
    pub globs: Vec<GlobSet>,
    pub regexes: Vec<Regex>,
    pub sets: Vec<StrSet>,
}

impl RuleConstants {
    pub fn add_literal(&mut self, text: &str) -> u32 {
        self.literals.push(Literal::new(text));
        (self.literals.len() - 1) as u32
    }

    pub fn add_globs(&mut self, patterns: &[&str], case_insensitive: bool) -> u32 {
        self.globs.push(GlobSet::new(patterns, case_insensitive));
        (self.globs.len() - 1) as u32
    }

    pub fn add_regex(&mut self, pattern: &str, case_insensitive: bool) -> Result<u32, HostError> {
        self.add_regex_any(&[pattern], case_insensitive)
    }

    /// One regex id matching when any of `patterns` matches.
    pub fn add_regex_any(
        &mut self,
        patterns: &[&str],
        case_insensitive: bool,
    ) -> Result<u32, HostError> {
        self.regexes
            .push(compile_regex_any(patterns, case_insensitive)?);
        Ok((self.regexes.len() - 1) as u32)
    }

    pub fn add_set(&mut self, items: &[&str], case_insensitive: bool) -> u32 {
        self.sets
            .push(StrSet::new(items.iter().copied(), case_insensitive));
        (self.sets.len() - 1) as u32
    }
}

/// Compile several patterns into one anchored regex that matches when any
/// of them matches the whole text (a `regex` list in EQL).
pub fn compile_regex_any(patterns: &[&str], case_insensitive: bool) -> Result<Regex, HostError> {
    let joined = patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    compile_regex(&joined, case_insensitive)
}
