//! NDJSON from any reader, in chunks of whole lines, through one buffer.
//!
//! Memory stays at about one chunk (plus one read block) whatever the input
//! size, and no line is copied on its way to the decoder: the chunk is a
//! slice of the buffer. Lines are counted with `memchr`, once each.
//!
//! A line longer than the line limit is not held whole: once the bytes
//! buffered for it pass the limit, what follows is read and dropped up to
//! its newline. What is kept (the limit plus at most a read block) still
//! reaches the decoder, which reports the line as too long at its number.

use std::io::{self, ErrorKind, Read};

/// How much is read from the input at a time.
const READ_BLOCK: usize = 1 << 20;

/// One chunk: whole lines (the last one may lack its newline at the end of
/// the input), where they start, and how far into the input they end.
pub struct Chunk<'a> {
    pub data: &'a [u8],
    /// The input line number (1-based) of the chunk's first line.
    pub first_line: u64,
    /// How many lines the chunk holds, a last one without its newline included.
    pub lines: u64,
    /// Bytes of input consumed up to the end of this chunk.
    pub offset: u64,
}

pub struct LineChunks<R> {
    reader: R,
    lines: usize,
    /// Read bytes are `buf[..filled]`; the rest is room for the next read,
    /// zeroed once when the buffer grew rather than before every read.
    buf: Vec<u8>,
    filled: usize,
    /// Bytes at the front of `buf` handed out in the last chunk.
    handed_out: usize,
    /// `buf[..scanned]` holds `newlines` newlines (none of them the cut yet).
    scanned: usize,
    newlines: usize,
    eof: bool,
    next_line: u64,
    consumed: u64,
    /// Where the line being scanned starts in `buf`.
    line_start: usize,
    max_line: usize,
    /// Dropping the rest of an over-long line until its newline.
    skipping: bool,
    /// Bytes dropped since the last chunk, for the offsets.
    dropped: u64,
}

impl<R: Read> LineChunks<R> {
    /// Chunks of at most `lines` lines (at least one).
    pub fn new(reader: R, lines: usize) -> LineChunks<R> {
        LineChunks {
            reader,
            lines: lines.max(1),
            buf: Vec::new(),
            filled: 0,
            handed_out: 0,
            scanned: 0,
            newlines: 0,
            eof: false,
            next_line: 1,
            consumed: 0,
            line_start: 0,
            max_line: usize::MAX,
            skipping: false,
            dropped: 0,
        }
    }

    /// Room for about `bytes` of lines from the start. The buffer grows to
    /// a chunk's size anyway; a caller who can tell it (from the file's
    /// size) spares the copies of growing it a read block at a time.
    pub fn with_capacity(mut self, bytes: usize) -> LineChunks<R> {
        self.buf.reserve(bytes.saturating_add(READ_BLOCK));
        self
    }

    /// Hold at most `bytes` (plus one) of any line; see the module docs.
    pub fn with_max_line(mut self, bytes: usize) -> LineChunks<R> {
        self.max_line = bytes.max(1);
        self
    }

    /// The next chunk, or None at the end of the input.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk<'_>>> {
        if self.handed_out > 0 {
            // Keep the unread tail (under a read block) at the front.
            self.buf.copy_within(self.handed_out..self.filled, 0);
            self.filled -= self.handed_out;
            self.handed_out = 0;
            self.scanned = 0;
            self.newlines = 0;
            self.line_start = 0;
        }
        loop {
            for at in memchr::memchr_iter(b'\n', &self.buf[self.scanned..self.filled]) {
                self.newlines += 1;
                self.line_start = self.scanned + at + 1;
                if self.newlines == self.lines {
                    let cut = self.scanned + at + 1;
                    return Ok(Some(self.take(cut, self.lines)));
                }
            }
            if !self.skipping && self.filled - self.line_start > self.max_line {
                let keep = self.line_start + self.max_line + 1;
                self.dropped += (self.filled - keep) as u64;
                self.filled = keep;
                self.skipping = true;
            }
            self.scanned = self.filled;
            if self.eof {
                if self.filled == 0 {
                    return Ok(None);
                }
                let (cut, lines) = (self.filled, self.newlines);
                return Ok(Some(self.take(cut, lines)));
            }
            self.fill()?;
        }
    }

    fn take(&mut self, cut: usize, lines: usize) -> Chunk<'_> {
        let first_line = self.next_line;
        // A last line without its newline still counts as a line.
        let partial = usize::from(cut > 0 && self.buf[cut - 1] != b'\n');
        let lines = (lines + partial) as u64;
        self.next_line += lines;
        self.consumed += cut as u64 + std::mem::take(&mut self.dropped);
        self.handed_out = cut;
        Chunk {
            data: &self.buf[..cut],
            first_line,
            lines,
            offset: self.consumed,
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        let len = self.filled;
        if self.buf.len() < len + READ_BLOCK {
            self.buf.resize(len + READ_BLOCK, 0);
        }
        let read = loop {
            match self.reader.read(&mut self.buf[len..len + READ_BLOCK]) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.filled = len + read;
        self.eof = read == 0;
        if self.skipping {
            // Drop the over-long line's bytes up to (not including) its newline.
            let read_end = self.filled;
            let end = memchr::memchr(b'\n', &self.buf[len..read_end]).map_or(read_end, |i| len + i);
            self.dropped += (end - len) as u64;
            self.buf.copy_within(end..read_end, len);
            self.filled -= end - len;
            self.skipping = end == read_end && !self.eof;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn chunks(data: &[u8], lines: usize, step: usize) -> Vec<(Vec<u8>, u64, u64)> {
        let mut reader = LineChunks::new(Trickle { data, step }, lines);
        let mut out = Vec::new();
        while let Some(c) = reader.next_chunk().unwrap() {
            let newlines = c.data.iter().filter(|&&b| b == b'\n').count();
            let partial = usize::from(!c.data.ends_with(b"\n"));
            assert_eq!(c.lines, (newlines + partial) as u64);
            out.push((c.data.to_vec(), c.first_line, c.offset));
        }
        out
    }

    #[test]
    fn chunks_hold_whole_lines_numbered_from_one() {
        let data = b"a\nbb\n\nccc\nd";
        for step in [1, 2, 3, 100] {
            let got = chunks(data, 2, step);
            let expected: Vec<(Vec<u8>, u64, u64)> = vec![
                (b"a\nbb\n".to_vec(), 1, 5),
                (b"\nccc\n".to_vec(), 3, 10),
                (b"d".to_vec(), 5, 11),
            ];
            assert_eq!(got, expected, "reads of {step} bytes");
        }
        assert!(chunks(b"", 3, 4).is_empty());
        assert_eq!(chunks(b"x\ny\n", 5, 1), vec![(b"x\ny\n".to_vec(), 1, 4)]);
    }

    #[test]
    fn an_over_long_line_is_cut_while_reading() {
        let mut data = b"ok\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5 << 20));
        data.extend_from_slice(b"\nlast\n");
        for step in [65536, 1 << 20] {
            let mut reader = LineChunks::new(Trickle { data: &data, step }, 10).with_max_line(64);
            let chunk = reader.next_chunk().unwrap().unwrap();
            let lines: Vec<&[u8]> = chunk.data.split(|&b| b == b'\n').collect();
            assert_eq!(lines[0], b"ok");
            // At most one read block past the limit is ever held.
            assert!(
                lines[1].len() > 64 && lines[1].len() <= 65 + READ_BLOCK,
                "reads of {step} bytes"
            );
            assert_eq!(lines[2], b"last");
            assert_eq!((chunk.first_line, chunk.offset), (1, data.len() as u64));
            assert!(reader.buf.capacity() < 4 << 20);
        }
        assert_eq!(chunks(b"x\ny\n", 5, 1), vec![(b"x\ny\n".to_vec(), 1, 4)]);
    }
}
