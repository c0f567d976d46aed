//! Event timestamps: epoch numbers in a chosen unit, and ISO-8601 text.
//!
//! Everything is normalised to signed nanoseconds since the Unix epoch,
//! which covers the years 1677–2262.

/// How a numeric timestamp is to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
    /// Windows FILETIME: 100 ns ticks since 1601-01-01 (Endgame data uses it).
    FileTime,
}

impl TimeUnit {
    pub fn parse(name: &str) -> Option<TimeUnit> {
        Some(match name {
            "s" | "seconds" | "epoch_second" => TimeUnit::Seconds,
            "ms" | "millis" | "epoch_millis" => TimeUnit::Millis,
            "us" | "micros" => TimeUnit::Micros,
            "ns" | "nanos" => TimeUnit::Nanos,
            "filetime" => TimeUnit::FileTime,
            _ => return None,
        })
    }

    /// Convert a number in this unit to epoch nanoseconds, or `None` when it
    /// does not fit in the representable range.
    pub fn to_nanos(self, value: f64) -> Option<i64> {
        // Seconds between 1601-01-01 and 1970-01-01.
        const FILETIME_EPOCH_OFFSET_S: f64 = 11_644_473_600.0;
        let nanos = match self {
            TimeUnit::Seconds => value * 1e9,
            TimeUnit::Millis => value * 1e6,
            TimeUnit::Micros => value * 1e3,
            TimeUnit::Nanos => value,
            TimeUnit::FileTime => (value - FILETIME_EPOCH_OFFSET_S * 1e7) * 100.0,
        };
        (nanos.is_finite() && nanos.abs() < 9.2e18).then_some(nanos as i64)
    }

    /// Exact integer conversion, used when the value came as an integer so
    /// that nanosecond precision survives (f64 only holds 53 bits).
    pub fn int_to_nanos(self, value: i64) -> Option<i64> {
        const FILETIME_EPOCH_OFFSET_TICKS: i64 = 116_444_736_000_000_000;
        match self {
            TimeUnit::Seconds => value.checked_mul(1_000_000_000),
            TimeUnit::Millis => value.checked_mul(1_000_000),
            TimeUnit::Micros => value.checked_mul(1_000),
            TimeUnit::Nanos => Some(value),
            TimeUnit::FileTime => value
                .checked_sub(FILETIME_EPOCH_OFFSET_TICKS)?
                .checked_mul(100),
        }
    }
}

/// Parse a timestamp given as text: a number in `unit`, or ISO-8601.
pub fn parse_text(text: &str, unit: TimeUnit) -> Option<i64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i64>() {
        return unit.int_to_nanos(n);
    }
    if t.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
    {
        if let Ok(x) = t.parse::<f64>() {
            return unit.to_nanos(x);
        }
    }
    parse_iso8601(t)
}

/// Parse `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][Z|±HH[:]MM]`. A missing
/// offset means UTC, as Elasticsearch assumes for ECS `@timestamp`.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4)? as i64;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0i64);
    if matches!(p.peek(), Some(b'T' | b't' | b' ')) {
        p.i += 1;
        hour = p.digits(2)?;
        p.expect(b':')?;
        minute = p.digits(2)?;
        if p.peek() == Some(b':') {
            p.i += 1;
            second = p.digits(2)?;
            if matches!(p.peek(), Some(b'.' | b',')) {
                p.i += 1;
                nanos = p.fraction_nanos()?;
            }
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
    }
    let offset_s: i64 = match p.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            p.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            p.i += 1;
            let oh = p.digits(2)? as i64;
            if p.peek() == Some(b':') {
                p.i += 1;
            }
            let om = if p.i < b.len() {
                p.digits(2)? as i64
            } else {
                0
            };
            let off = oh * 3600 + om * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        Some(_) => return None,
    };
    if p.i != b.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs =
        days * 86_400 + (hour as i64) * 3600 + (minute as i64) * 60 + second as i64 - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let chunk = self.b.get(self.i..self.i + n)?;
        let mut v = 0u32;
        for &c in chunk {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        self.i += n;
        Some(v)
    }

    /// Up to nine fraction digits count; further digits are read and ignored.
    fn fraction_nanos(&mut self) -> Option<i64> {
        let start = self.i;
        let mut v = 0i64;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            if self.i - start < 9 {
                v = v * 10 + i64::from(c - b'0');
            }
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 {
            return None;
        }
        Some(v * 10i64.pow(9 - n.min(9) as u32))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard
/// Hinnant's well-known civil-date algorithm, re-derived here).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(
            parse_iso8601("2024-02-29T12:00:00.5+01:00"),
            Some(1_709_204_400_500_000_000)
        );
        assert_eq!(
            parse_iso8601("2000-01-01 00:00:00.123456789"),
            Some(946_684_800_123_456_789)
        );
        assert_eq!(parse_iso8601("2023-02-29"), None);
        assert_eq!(parse_iso8601("2023-01-01T00:00:00Zjunk"), None);
        assert_eq!(parse_iso8601("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
    }

    #[test]
    fn epoch_forms() {
        assert_eq!(parse_text("1", TimeUnit::Millis), Some(1_000_000));
        assert_eq!(parse_text("1.5", TimeUnit::Seconds), Some(1_500_000_000));
        assert_eq!(
            TimeUnit::FileTime.int_to_nanos(116_444_736_000_000_000),
            Some(0)
        );
        assert_eq!(parse_text("not a time", TimeUnit::Millis), None);
    }
}
