//! Fields whose mapping type gives comparison its own meaning, as in
//! Elasticsearch: `date` and `date_nanos` compare as instants, `ip` as
//! addresses, `version` by Semantic Versioning precedence.
//!
//! The event store keeps such values as the text the event carried; a
//! comparison reads both sides as the field's type at the field's precision.
//! A side that does not read as the type cannot be compared: the comparison
//! is false, as an erroring comparison is in EQL.

use std::cmp::Ordering;

use kestrel_event::time::{parse_iso8601, TimeUnit};

use crate::cidr::{parse_ip, Ip};
use crate::compare::holds;
use crate::node::Cmp;
use crate::value::Scalar;

/// How a field's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// Ordinary keyword or numeric semantics.
    Plain,
    /// An instant. `nanos` is `date_nanos` precision (otherwise
    /// milliseconds); `epoch` is the unit of bare numbers; `iso` whether
    /// date text is accepted by the field's format.
    Date {
        nanos: bool,
        epoch: Option<TimeUnit>,
        iso: bool,
    },
    Ip,
    Version,
}

impl FieldKind {
    /// The kind a schema type name gives (`timestamp`, `date_nanos`, `ip`,
    /// `version`, optionally followed by `:` and an Elasticsearch date
    /// format such as `strict_date_optional_time||epoch_second`).
    pub fn of_type(ty: &str) -> FieldKind {
        let (name, format) = ty.split_once(':').unwrap_or((ty, ""));
        match name {
            "timestamp" | "date" => date_kind(false, format),
            "date_nanos" => date_kind(true, format),
            "ip" => FieldKind::Ip,
            "version" => FieldKind::Version,
            _ => FieldKind::Plain,
        }
    }

    pub fn is_typed(self) -> bool {
        self != FieldKind::Plain
    }

    /// Compare two non-multi-valued sides; null when either is null.
    pub fn compare(self, cmp: Cmp, left: &Scalar<'_>, right: &Scalar<'_>) -> Option<bool> {
        if left.is_null() || right.is_null() {
            return None;
        }
        let order = match self {
            FieldKind::Plain => return None,
            FieldKind::Date { .. } => self
                .instant(left)
                .zip(self.instant(right))
                .map(|(a, b)| a.cmp(&b)),
            FieldKind::Ip => address(left).zip(address(right)).map(|(a, b)| a.cmp(&b)),
            FieldKind::Version => match (left, right) {
                (Scalar::Str(a), Scalar::Str(b)) => Some(version_order(a, b)),
                _ => None,
            },
        };
        // A side that does not read as the type makes the comparison
        // false, `!=` included (unlike NaN's unordered `!=`).
        Some(order.is_some_and(|o| holds(cmp, Some(o))))
    }

    /// A value of a date kind as epoch nanoseconds at the kind's precision.
    pub fn instant(self, value: &Scalar<'_>) -> Option<i64> {
        let FieldKind::Date { nanos, epoch, iso } = self else {
            return None;
        };
        let unit = epoch.unwrap_or(TimeUnit::Millis);
        let ns = match value {
            Scalar::Int(i) => unit.int_to_nanos(i64::try_from(*i).ok()?)?,
            Scalar::Float(x) => unit.to_nanos(*x)?,
            Scalar::Str(text) => {
                let text = text.trim();
                let numeric = !text.is_empty()
                    && text
                        .bytes()
                        .enumerate()
                        .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-') || b == b'.');
                match (numeric, epoch) {
                    (true, Some(unit)) if text.contains('.') => {
                        unit.to_nanos(text.parse().ok()?)?
                    }
                    (true, Some(unit)) => unit.int_to_nanos(text.parse().ok()?)?,
                    _ if iso => parse_iso8601(text)?,
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(if nanos {
            ns
        } else {
            ns.div_euclid(1_000_000) * 1_000_000
        })
    }
}

/// Elasticsearch's default date format is `strict_date_optional_time||epoch_millis`.
fn date_kind(nanos: bool, format: &str) -> FieldKind {
    if format.trim().is_empty() {
        return FieldKind::Date {
            nanos,
            epoch: Some(TimeUnit::Millis),
            iso: true,
        };
    }
    let (mut epoch, mut iso) = (None, false);
    for part in format.split("||").map(str::trim) {
        match part {
            "epoch_millis" => epoch = epoch.or(Some(TimeUnit::Millis)),
            "epoch_second" => epoch = epoch.or(Some(TimeUnit::Seconds)),
            // The ISO family and custom patterns: the instant parser reads
            // `yyyy-MM-dd`, with an optional `T` or space, time, fraction
            // and offset, which is what those formats produce.
            _ => iso = true,
        }
    }
    FieldKind::Date { nanos, epoch, iso }
}

fn address(value: &Scalar<'_>) -> Option<u128> {
    let Scalar::Str(text) = value else {
        return None;
    };
    address_bits(text)
}

/// An address as one integer: IPv4 as its IPv4-mapped IPv6 form, which is
/// how Elasticsearch stores and orders both families.
pub fn address_bits(text: &str) -> Option<u128> {
    Some(match parse_ip(text.trim())? {
        Ip::V4(a) => 0xffff_0000_0000u128 | u128::from(a),
        Ip::V6(a) => a,
    })
}

/// Semantic Versioning precedence, with Elasticsearch's allowances: any
/// number of numeric parts (`1.2`, `1.2.3.4`), and text that is not a valid
/// version ordered after every valid one, by its bytes. Equal precedence
/// falls back to the text, so only identical texts are equal.
pub fn version_order(a: &str, b: &str) -> Ordering {
    let precedence = match (Version::parse(a), Version::parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    precedence.then_with(|| a.cmp(b))
}

#[derive(Debug, PartialEq, Eq)]
struct Version<'a> {
    main: Vec<&'a str>,
    pre: Option<Vec<&'a str>>,
}

impl<'a> Version<'a> {
    fn parse(text: &'a str) -> Option<Version<'a>> {
        let text = text.split_once('+').map_or(text, |(head, build)| {
            if identifiers(build).is_some() {
                head
            } else {
                "" // an invalid build part makes the whole text invalid
            }
        });
        let (main, pre) = match text.split_once('-') {
            Some((main, pre)) => (main, Some(identifiers(pre)?)),
            None => (text, None),
        };
        let main: Vec<&str> = main.split('.').collect();
        if main
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        Some(Version { main, pre })
    }
}

fn identifiers(text: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = text.split('.').collect();
    let valid =
        |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    parts.iter().all(valid).then_some(parts)
}

/// Decimal digit strings by value, whatever their length.
fn numeric_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let main = self
            .main
            .iter()
            .zip(&other.main)
            .map(|(a, b)| numeric_order(a, b))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| self.main.len().cmp(&other.main.len()));
        main.then_with(|| match (&self.pre, &other.pre) {
            (None, None) => Ordering::Equal,
            // A pre-release comes before its release.
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a
                .iter()
                .zip(b)
                .map(|(x, y)| identifier_order(x, y))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| a.len().cmp(&b.len())),
        })
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Numeric identifiers by value and before alphanumeric ones, which compare by bytes.
fn identifier_order(a: &str, b: &str) -> Ordering {
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    match (digits(a), digits(b)) {
        (true, true) => numeric_order(a, b),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn s(text: &str) -> Scalar<'_> {
        Scalar::Str(Cow::Borrowed(text))
    }

    #[test]
    fn versions_order_by_precedence() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.2",
            "1.2.3.4",
            "1.9.2",
            "1.10.0",
            "2.0.0",
            "1.2.alpha.4",
            "abc",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(version_order(pair[0], pair[1]), Ordering::Less, "{pair:?}");
        }
        assert_eq!(
            version_order("1.0.0+build.1", "1.0.0+build.1"),
            Ordering::Equal
        );
        assert_ne!(version_order("1.0.0+build.1", "1.0.0"), Ordering::Equal);
        assert!(FieldKind::Version
            .compare(Cmp::Gt, &s("1.10.0"), &s("1.9.2"))
            .unwrap());
    }

    #[test]
    fn dates_compare_as_instants_at_their_precision() {
        let date = FieldKind::of_type("timestamp");
        assert!(date
            .compare(
                Cmp::Eq,
                &s("2017-08-30T20:47:32.000Z"),
                &s("2017-08-30T20:47:32Z")
            )
            .unwrap());
        assert!(date
            .compare(
                Cmp::Eq,
                &s("2017-08-30T22:47:32+02:00"),
                &Scalar::Int(1_504_126_052_000)
            )
            .unwrap());
        assert!(date
            .compare(
                Cmp::Eq,
                &s("2017-08-30T20:47:32.0001Z"),
                &s("2017-08-30T20:47:32Z")
            )
            .unwrap());
        let nanos = FieldKind::of_type("date_nanos");
        assert!(nanos
            .compare(
                Cmp::Gt,
                &s("2017-08-30T20:47:32.0001Z"),
                &s("2017-08-30T20:47:32Z")
            )
            .unwrap());
        let seconds = FieldKind::of_type("timestamp:epoch_second");
        assert!(seconds
            .compare(Cmp::Eq, &s("1504126052"), &Scalar::Int(1_504_126_052))
            .unwrap());
        assert!(!seconds
            .compare(
                Cmp::Eq,
                &s("2017-08-30T20:47:32Z"),
                &Scalar::Int(1_504_126_052)
            )
            .unwrap());
        assert!(!date
            .compare(Cmp::Lt, &s("not a date"), &s("2017-08-30T20:47:32Z"))
            .unwrap());
    }

    #[test]
    fn addresses_compare_as_addresses() {
        assert!(FieldKind::Ip
            .compare(Cmp::Eq, &s("::1"), &s("0:0:0:0:0:0:0:1"))
            .unwrap());
        assert!(FieldKind::Ip
            .compare(Cmp::Eq, &s("10.0.0.1"), &s("::ffff:10.0.0.1"))
            .unwrap());
        assert!(FieldKind::Ip
            .compare(Cmp::Lt, &s("9.255.255.255"), &s("10.0.0.0"))
            .unwrap());
        assert!(!FieldKind::Ip
            .compare(Cmp::Ne, &s("bogus"), &s("10.0.0.0"))
            .unwrap());
    }
}
