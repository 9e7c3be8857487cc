//! Flat little-endian encoding for the index file: a writer that counts its offset, and a
//! bounds-checked reader, over bytes in memory or streamed from a file.

use std::io::{self, BufRead, Seek, Write};

/// Writes the encoding to any sink, keeping count of the offset.
pub struct Writer<W: Write> {
    out: W,
    at: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Writer { out, at: 0 }
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.at += b.len() as u64;
        Ok(())
    }

    pub fn u8(&mut self, v: u8) -> io::Result<()> {
        self.bytes(&[v])
    }

    pub fn u16(&mut self, v: u16) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u32(&mut self, v: u32) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn u64(&mut self, v: u64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn i64(&mut self, v: i64) -> io::Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub fn len(&mut self, n: usize) -> io::Result<()> {
        self.u64(n as u64)
    }

    pub fn str(&mut self, s: &str) -> io::Result<()> {
        self.len(s.len())?;
        self.bytes(s.as_bytes())
    }

    /// An array of f32: its length, then the values.
    pub fn f32s(&mut self, v: &[f32]) -> io::Result<()> {
        self.len(v.len())?;
        self.f32_values(v)
    }

    /// Values of an array of f32 whose length was written before them.
    pub fn f32_values(&mut self, v: &[f32]) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        for chunk in v.chunks(buf.len() / 4) {
            for (b, x) in buf.chunks_exact_mut(4).zip(chunk) {
                b.copy_from_slice(&x.to_le_bytes());
            }
            self.bytes(&buf[..chunk.len() * 4])?;
        }
        Ok(())
    }

    /// An array of u64: its length, then the values.
    pub fn u64s(&mut self, v: &[u64]) -> io::Result<()> {
        self.len(v.len())?;
        v.iter().try_for_each(|x| self.u64(*x))
    }
}

/// Reads the encoding back from a buffered source of known length. Every read is checked: a
/// short or damaged source gives `None`, and a length larger than what is left is refused
/// before anything is allocated for it.
pub struct Reader<R: BufRead + Seek> {
    r: R,
    at: u64,
    end: u64,
}

impl<R: BufRead + Seek> Reader<R> {
    /// Reads `r`, which holds `end` bytes.
    pub fn new(r: R, end: u64) -> Self {
        Reader { r, at: 0, end }
    }

    /// The offset of the next read.
    pub fn offset(&self) -> u64 {
        self.at
    }

    pub fn at_end(&self) -> bool {
        self.at == self.end
    }

    fn left(&self) -> u64 {
        self.end - self.at
    }

    pub fn fill(&mut self, buf: &mut [u8]) -> Option<()> {
        if buf.len() as u64 > self.left() {
            return None;
        }
        self.r.read_exact(buf).ok()?;
        self.at += buf.len() as u64;
        Some(())
    }

    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Some(b)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: u64) -> Option<()> {
        if n > self.left() {
            return None;
        }
        self.r.seek_relative(i64::try_from(n).ok()?).ok()?;
        self.at += n;
        Some(())
    }

    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|b| b[0])
    }

    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_le_bytes)
    }

    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    pub fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }

    /// A length of items of at least `min_size` bytes each, refused when they could not fit in
    /// what is left.
    pub fn count(&mut self, min_size: u64) -> Option<usize> {
        let n = self.u64()?;
        (n.checked_mul(min_size.max(1))? <= self.left()).then_some(usize::try_from(n).ok()?)
    }

    pub fn len(&mut self) -> Option<usize> {
        self.count(1)
    }

    /// `n` bytes, refused (before allocating) when fewer are left.
    pub fn bytes(&mut self, n: usize) -> Option<Vec<u8>> {
        if n as u64 > self.left() {
            return None;
        }
        let mut b = vec![0u8; n];
        self.fill(&mut b)?;
        Some(b)
    }

    pub fn str(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.bytes(n)?).ok()
    }

    /// An array written by `Writer::u64s`.
    pub fn u64s(&mut self) -> Option<Vec<u64>> {
        let n = self.count(8)?;
        let mut b = vec![0u8; n * 8];
        self.fill(&mut b)?;
        Some(
            b.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        )
    }
}

/// Reads `out.len()` f32s written by `Writer::f32s` starting at byte `at` of `file`.
pub fn read_f32s_at(file: &std::fs::File, at: u64, out: &mut [f32]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 4096];
    let mut at = at;
    for chunk in out.chunks_mut(buf.len() / 4) {
        let bytes = &mut buf[..chunk.len() * 4];
        file.read_exact_at(bytes, at)?;
        for (x, b) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
            *x = f32::from_le_bytes(b.try_into().expect("4 bytes"));
        }
        at += bytes.len() as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn what_is_written_reads_back_and_f32_rows_read_in_place() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        let mut w = Writer::new(Vec::new());
        w.str("abc").unwrap();
        w.u64s(&[7, u64::MAX]).unwrap();
        w.f32s(&[1.5, -2.0, 3.25]).unwrap();
        w.i64(-5).unwrap();
        let bytes = w.into_inner();
        std::fs::write(&path, &bytes).unwrap();
        let mut r = Reader::new(Cursor::new(&bytes), bytes.len() as u64);
        assert_eq!(r.str().as_deref(), Some("abc"));
        assert_eq!(r.u64s(), Some(vec![7, u64::MAX]));
        assert_eq!(r.len(), Some(3));
        let at = r.offset();
        r.skip(12).unwrap();
        assert_eq!(r.i64(), Some(-5));
        assert!(r.at_end());
        let file = std::fs::File::open(&path).unwrap();
        let mut row = [0f32; 2];
        read_f32s_at(&file, at + 4, &mut row).unwrap();
        assert_eq!(row, [-2.0, 3.25]);
        assert!(read_f32s_at(&file, at + 8, &mut [0f32; 4]).is_err());
    }

    #[test]
    fn reads_past_the_end_or_huge_lengths_are_refused() {
        let mut w = Writer::new(Vec::new());
        w.u64(u64::MAX).unwrap();
        w.u64(3).unwrap();
        let b = w.into_inner();
        let n = b.len() as u64;
        assert_eq!(Reader::new(Cursor::new(&b), n).len(), None);
        assert_eq!(Reader::new(Cursor::new(&b), n).str(), None);
        assert_eq!(Reader::new(Cursor::new(&b), 4).u64(), None);
        let mut r = Reader::new(Cursor::new(&b), n);
        r.u64().unwrap();
        assert_eq!(
            r.count(8),
            None,
            "3 items of 8 bytes do not fit in the 0 left"
        );
        assert_eq!(Reader::new(Cursor::new(&b), n).skip(n + 1), None);
    }
}
