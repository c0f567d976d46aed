//! The binary framing every Kestrel snapshot shares: a four-byte magic, a
//! format version, a little-endian body, and a BLAKE3 digest of everything
//! before it, so a damaged or edited snapshot is refused rather than
//! restored into wrong state.
//!
//! A matcher's snapshot and the engine's (which holds matcher snapshots)
//! differ only in what their bodies say and in how wide their length and
//! count prefixes are, which is fixed per format by [`Lengths`].

/// The trailing digest's length.
pub const DIGEST: usize = 32;

/// How wide a format writes the lengths of byte strings and the counts of items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lengths {
    U32,
    U64,
}

/// Why a snapshot could not be read, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodecError {
    pub offset: usize,
    pub reason: String,
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {})", self.reason, self.offset)
    }
}

/// Builds one snapshot: header first, [`Writer::seal`] last.
pub struct Writer {
    buf: Vec<u8>,
    lengths: Lengths,
}

impl Writer {
    pub fn new(magic: &[u8; 4], version: u8, lengths: Lengths) -> Writer {
        let mut buf = magic.to_vec();
        buf.push(version);
        Writer { buf, lengths }
    }
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Bytes of a length the reader knows, unprefixed.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// A count of items (or bytes), in the format's width.
    pub fn count(&mut self, n: usize) {
        match self.lengths {
            Lengths::U32 => self.u32(n as u32),
            Lengths::U64 => self.u64(n as u64),
        }
    }
    /// A byte string, prefixed with its length.
    pub fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.raw(b);
    }
    /// The finished snapshot: the body and its digest.
    pub fn seal(mut self) -> Vec<u8> {
        let digest = blake3::hash(&self.buf);
        self.buf.extend_from_slice(digest.as_bytes());
        self.buf
    }
}

/// Reads one snapshot's body, after [`Reader::open`] has checked its framing.
pub struct Reader<'a> {
    body: &'a [u8],
    at: usize,
    lengths: Lengths,
}

impl<'a> Reader<'a> {
    /// A reader past the header of a snapshot of `kind` with this magic and
    /// version, once its digest checks out.
    pub fn open(
        data: &'a [u8],
        magic: &[u8; 4],
        version: u8,
        kind: &str,
        lengths: Lengths,
    ) -> Result<Reader<'a>, CodecError> {
        let fail = |offset, reason: String| CodecError { offset, reason };
        if data.get(..4) != Some(&magic[..]) {
            return Err(fail(0, format!("not a Kestrel {kind} snapshot")));
        }
        match data.get(4) {
            None => return Err(fail(4, "truncated".into())),
            Some(&v) if v != version => {
                let reason = format!("snapshot format {v}, this build reads {version}");
                return Err(fail(4, reason));
            }
            Some(_) => {}
        }
        if data.len() < 5 + DIGEST {
            return Err(fail(data.len(), "truncated".into()));
        }
        let (body, digest) = data.split_at(data.len() - DIGEST);
        if blake3::hash(body).as_bytes() != digest {
            let reason = "checksum mismatch: the snapshot is damaged or was edited";
            return Err(fail(body.len(), reason.into()));
        }
        Ok(Reader {
            body,
            at: 5,
            lengths,
        })
    }

    pub fn fail(&self, reason: &str) -> CodecError {
        CodecError {
            offset: self.at,
            reason: reason.to_string(),
        }
    }
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.body.len())
            .ok_or_else(|| self.fail("truncated"))?;
        let out = &self.body[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }
    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_le_bytes)
    }
    pub fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_le_bytes)
    }
    pub fn i64(&mut self) -> Result<i64, CodecError> {
        self.array().map(i64::from_le_bytes)
    }
    /// A count of items of at least `min` bytes each: refused when the rest
    /// of the body cannot hold them, so a damaged count allocates nothing.
    pub fn count(&mut self, min: usize) -> Result<usize, CodecError> {
        let n = match self.lengths {
            Lengths::U32 => self.u32()? as usize,
            Lengths::U64 => {
                usize::try_from(self.u64()?).map_err(|_| self.fail("count out of range"))?
            }
        };
        if n.saturating_mul(min) > self.body.len() - self.at {
            return Err(self.fail("count larger than the data"));
        }
        Ok(n)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.count(1)?;
        self.take(n)
    }
    pub fn text(&mut self) -> Result<String, CodecError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.fail("text is not UTF-8"))
    }
    /// The body must end here.
    pub fn finish(&self) -> Result<(), CodecError> {
        if self.at == self.body.len() {
            Ok(())
        } else {
            Err(self.fail("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 4] = b"TEST";

    fn sample(lengths: Lengths) -> Vec<u8> {
        let mut w = Writer::new(MAGIC, 3, lengths);
        w.u8(7);
        w.u32(70_000);
        w.i64(-5);
        w.bytes(b"key");
        w.count(2);
        w.u64(u64::MAX);
        w.u64(1);
        w.seal()
    }

    #[test]
    fn round_trips_in_both_widths() {
        for lengths in [Lengths::U32, Lengths::U64] {
            let data = sample(lengths);
            let mut r = Reader::open(&data, MAGIC, 3, "test", lengths).unwrap();
            assert_eq!(r.u8().unwrap(), 7);
            assert_eq!(r.u32().unwrap(), 70_000);
            assert_eq!(r.i64().unwrap(), -5);
            assert_eq!(r.text().unwrap(), "key");
            assert_eq!(r.count(8).unwrap(), 2);
            assert_eq!((r.u64().unwrap(), r.u64().unwrap()), (u64::MAX, 1));
            r.finish().unwrap();
        }
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        let data = sample(Lengths::U32);
        let open = |d: &[u8], version| {
            Reader::open(d, MAGIC, version, "test", Lengths::U32)
                .map(|_| ())
                .unwrap_err()
                .reason
        };
        assert_eq!(open(b"garbage", 3), "not a Kestrel test snapshot");
        assert_eq!(open(&data, 4), "snapshot format 3, this build reads 4");
        assert_eq!(open(&data[..6], 3), "truncated");
        let mut edited = data.clone();
        edited[7] ^= 1;
        assert!(open(&edited, 3).starts_with("checksum mismatch"));
    }

    #[test]
    fn a_count_larger_than_the_data_is_refused_before_allocating() {
        let mut w = Writer::new(MAGIC, 1, Lengths::U64);
        w.count(1 << 40);
        let data = w.seal();
        let mut r = Reader::open(&data, MAGIC, 1, "test", Lengths::U64).unwrap();
        assert_eq!(r.count(1).unwrap_err().reason, "count larger than the data");
        let mut r = Reader::open(&data, MAGIC, 1, "test", Lengths::U64).unwrap();
        assert_eq!(r.take(9).unwrap_err().reason, "truncated");
    }
}
