//! A program's constant tables, compiled once at load: glob sets, anchored
//! regexes, and membership sets.

use ahash::AHashSet;
use kestrel_host::GlobSet;
use regex::Regex;

use crate::compare::number_order;
use crate::node::Const;
use crate::text::{lower, to_text, with_lower};
use crate::value::Scalar;

/// Every table a program's nodes index.
#[derive(Debug, Default)]
pub struct Tables {
    /// `strings`: the literal pool (string literals point into it).
    pub strings: Vec<Box<str>>,
    pub sets: Vec<ConstSet>,
    pub globs: Vec<GlobSet>,
    pub regexes: Vec<RegexAny>,
}

/// The constants of an `in` / `in~`, arranged so that a value is tested the
/// way the interpreter tests it (`compare_scalars("eq", item, member)` for
/// every member) without walking the members for strings:
///
/// - a string equals a member when its text equals the member's text
///   (`"80" in (80)` holds), so every member's text goes in `texts`;
/// - a number or boolean equals a member of its own kind, or a string member
///   spelling its text, so string members' texts also go in `string_texts`.
///
/// Texts are `lower()`ed when the set is case-insensitive.
#[derive(Debug)]
pub struct ConstSet {
    case_insensitive: bool,
    texts: AHashSet<Box<str>>,
    string_texts: AHashSet<Box<str>>,
    numbers: Vec<Scalar<'static>>,
    bools: [bool; 2],
    /// Every member as written, for typed fields (dates, addresses,
    /// versions), whose equality is not textual.
    members: Box<[Scalar<'static>]>,
}

impl ConstSet {
    /// Build from the set's members (null members match nothing).
    pub fn new(members: &[Const], case_insensitive: bool) -> ConstSet {
        let mut set = ConstSet {
            case_insensitive,
            texts: AHashSet::new(),
            string_texts: AHashSet::new(),
            numbers: Vec::new(),
            bools: [false; 2],
            members: members
                .iter()
                .map(|m| const_scalar(m).into_owned())
                .collect(),
        };
        for member in members {
            let scalar = const_scalar(member);
            let Some(text) = to_text(&scalar) else {
                continue;
            };
            let text: Box<str> = set.fold(&text).into();
            match member {
                Const::Str(_) => {
                    set.string_texts.insert(text.clone());
                }
                Const::Int(_) | Const::Float(_) => set.numbers.push(scalar.into_owned()),
                Const::Bool(b) => set.bools[*b as usize] = true,
                Const::Null => {}
            }
            set.texts.insert(text);
        }
        set
    }

    fn fold<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        if self.case_insensitive {
            lower(text)
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }

    /// Whether a non-null `item` equals some member.
    pub fn contains(&self, item: &Scalar<'_>) -> bool {
        match item {
            Scalar::Null => false,
            Scalar::Str(s) if self.case_insensitive => with_lower(s, |t| self.texts.contains(t)),
            Scalar::Str(s) => self.texts.contains(s.as_ref()),
            Scalar::Bool(b) => self.bools[*b as usize] || self.spelled_by_string(item),
            Scalar::Int(_) | Scalar::Float(_) => {
                self.numbers
                    .iter()
                    .any(|m| number_order(item, m).is_some_and(|o| o.is_eq()))
                    || self.spelled_by_string(item)
            }
        }
    }

    /// The members, as scalars.
    pub fn members(&self) -> &[Scalar<'static>] {
        &self.members
    }

    fn spelled_by_string(&self, item: &Scalar<'_>) -> bool {
        !self.string_texts.is_empty()
            && to_text(item).is_some_and(|t| self.string_texts.contains(self.fold(&t).as_ref()))
    }
}

/// A constant as a runtime scalar, borrowing its text.
pub fn const_scalar(value: &Const) -> Scalar<'_> {
    match value {
        Const::Null => Scalar::Null,
        Const::Bool(b) => Scalar::Bool(*b),
        Const::Int(i) => Scalar::Int(*i),
        Const::Float(x) => Scalar::Float(*x),
        Const::Str(s) => Scalar::Str(std::borrow::Cow::Borrowed(s)),
    }
}

/// A `regex` / `regex~` pattern list: true when any pattern matches the
/// whole text. Each pattern is anchored by [`kestrel_host::compile_regex`].
#[derive(Debug)]
pub struct RegexAny {
    regexes: Vec<Regex>,
}

impl RegexAny {
    /// Compile `translated` patterns; the error carries the failing index.
    pub fn new(translated: &[String], case_insensitive: bool) -> Result<RegexAny, (usize, String)> {
        let regexes = translated
            .iter()
            .enumerate()
            .map(|(i, p)| {
                kestrel_host::compile_regex(p, case_insensitive).map_err(|e| (i, e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(RegexAny { regexes })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regexes.iter().any(|r| r.is_match(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::s;

    #[test]
    fn mixed_set_matches_like_compare_scalars() {
        let set = ConstSet::new(
            &[
                Const::Str("CMD.exe".into()),
                Const::Int(80),
                Const::Bool(true),
                Const::Str("443".into()),
            ],
            true,
        );
        assert!(set.contains(&s("cmd.EXE")));
        assert!(set.contains(&s("80")));
        assert!(set.contains(&s("TRUE")));
        assert!(set.contains(&Scalar::Int(80)));
        assert!(set.contains(&Scalar::Float(80.0)));
        assert!(set.contains(&Scalar::Int(443)));
        assert!(set.contains(&Scalar::Bool(true)));
        assert!(!set.contains(&Scalar::Bool(false)));
        assert!(!set.contains(&Scalar::Int(1)));
        let exact = ConstSet::new(&[Const::Str("a".into()), Const::Str("true".into())], false);
        assert!(!exact.contains(&s("A")));
        assert!(exact.contains(&Scalar::Bool(true)));
    }

    #[test]
    fn regexes_are_anchored_any_of() {
        let re = RegexAny::new(&["ab+".into(), "x".into()], false).unwrap();
        assert!(re.is_match("abb"));
        assert!(re.is_match("x"));
        assert!(!re.is_match("zabb"));
        assert_eq!(
            RegexAny::new(&["ok".into(), "(".into()], false)
                .unwrap_err()
                .0,
            1
        );
    }
}
