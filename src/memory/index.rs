//! The in-memory vector index behind the embedded store: exact cosine top-k over one contiguous matrix.

use super::doc::Filter;
use super::flat::{read_f32s_at, Reader, Writer};
use crate::core::category::Category;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, Seek};
use std::sync::Arc;

/// What a row carries besides its vector, for filtering without touching the stored docs.
#[derive(Debug, Clone, PartialEq)]
pub struct RowMeta {
    pub service: String,
    pub category: Category,
    /// Unix seconds.
    pub date: i64,
}

/// Unit vectors of one dimension in one row-major matrix, with their ids and filter fields.
#[derive(Debug, Default)]
pub struct VectorIndex {
    dim: usize,
    ids: Vec<String>,
    slots: HashMap<String, usize>,
    /// The rows, in memory or left in the index file.
    data: Rows,
    service: Vec<u32>,
    services: Vec<String>,
    service_ix: HashMap<String, u32>,
    category: Vec<u8>,
    date: Vec<i64>,
    /// One sign bit per dimension of each row (`words` u64s a row): 1/32 of the f32 bytes, scanned
    /// by Hamming distance to pick the candidates that are then scored exactly.
    bits: Vec<u64>,
    words: usize,
}

/// The f32 rows of an index: in memory, or left in the index file and read row by row as a
/// search scores them. (A memory map would page in 64 KB around every row touched: the
/// 2,000 rows of one ask at 100k touch most of the file.)
#[derive(Debug)]
enum Rows {
    Owned(Vec<f32>),
    File {
        file: Arc<File>,
        at: u64,
        len: usize,
    },
}

impl Default for Rows {
    fn default() -> Self {
        Rows::Owned(Vec::new())
    }
}

impl Rows {
    /// The rows in memory, read out of the file first if they are left there.
    fn to_mut(&mut self) -> std::io::Result<&mut Vec<f32>> {
        if let Rows::File { file, at, len } = self {
            let mut v = vec![0f32; *len];
            read_f32s_at(file, *at, &mut v)?;
            *self = Rows::Owned(v);
        }
        match self {
            Rows::Owned(v) => Ok(v),
            Rows::File { .. } => unreachable!("just read"),
        }
    }

    /// Row `row` of `dim` values: borrowed when in memory, else read into `buf`.
    fn row<'a>(&'a self, row: usize, dim: usize, buf: &'a mut [f32]) -> std::io::Result<&'a [f32]> {
        match self {
            Rows::Owned(v) => Ok(&v[row * dim..(row + 1) * dim]),
            Rows::File { file, at, .. } => {
                read_f32s_at(file, at + (row * dim * 4) as u64, &mut buf[..dim])?;
                Ok(&buf[..dim])
            }
        }
    }
}

/// A search's hits, best first, as (id, score); the error is a failed read of rows left in the
/// index file.
pub type Hits<'a> = std::io::Result<Vec<(&'a str, f32)>>;

/// From this many rows on, search scans the sign bits first and scores only the best candidates.
pub const BINARY_FROM: usize = 4096;

/// How many rows the bit scan keeps for the exact re-score: `CANDIDATES_PER_HIT` per hit asked
/// for, and never fewer than `MIN_CANDIDATES` (1% of 100k rows for a top-10).
pub const CANDIDATES_PER_HIT: usize = 20;
pub const MIN_CANDIDATES: usize = 1000;

/// A filter resolved against one index, so the scan compares integers only.
struct RowFilter {
    service: Option<u32>,
    category: Option<u8>,
    since: i64,
    until: i64,
    /// The filter's hours and weekdays, when it has any.
    clock: Option<Filter>,
}

impl RowFilter {
    /// Every row passes: the scan can skip the per-row test.
    fn is_all(&self) -> bool {
        self.service.is_none()
            && self.category.is_none()
            && self.since == i64::MIN
            && self.until == i64::MAX
            && self.clock.is_none()
    }
}

impl VectorIndex {
    /// An empty index for vectors of `dim` dimensions.
    pub fn new(dim: usize) -> Self {
        VectorIndex {
            dim,
            words: dim.div_ceil(64),
            ..Default::default()
        }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// Adds or replaces a row. The caller guarantees `values.len() == dim` and unit length.
    /// Rows left in the index file are read into memory first (the one error).
    pub fn upsert(&mut self, id: &str, meta: &RowMeta, values: &[f32]) -> std::io::Result<()> {
        debug_assert_eq!(values.len(), self.dim);
        let data = self.data.to_mut()?;
        let service = match self.service_ix.get(&meta.service) {
            Some(&s) => s,
            None => {
                let s = self.services.len() as u32;
                self.services.push(meta.service.clone());
                self.service_ix.insert(meta.service.clone(), s);
                s
            }
        };
        let category = category_code(meta.category);
        let bits = signs(values);
        let w = self.words;
        match self.slots.get(id) {
            Some(&row) => {
                data[row * self.dim..(row + 1) * self.dim].copy_from_slice(values);
                self.bits[row * w..(row + 1) * w].copy_from_slice(&bits);
                self.service[row] = service;
                self.category[row] = category;
                self.date[row] = meta.date;
            }
            None => {
                self.slots.insert(id.to_string(), self.ids.len());
                self.ids.push(id.to_string());
                data.extend_from_slice(values);
                self.bits.extend_from_slice(&bits);
                self.service.push(service);
                self.category.push(category);
                self.date.push(meta.date);
            }
        }
        Ok(())
    }

    /// Removes a row if present (the last row moves into its place). Rows left in the index
    /// file are read into memory first (the one error).
    pub fn remove(&mut self, id: &str) -> std::io::Result<()> {
        if !self.slots.contains_key(id) {
            return Ok(());
        }
        let data = self.data.to_mut()?;
        let row = self.slots.remove(id).expect("present");
        let last = self.ids.len() - 1;
        if row != last {
            let (head, tail) = data.split_at_mut(last * self.dim);
            head[row * self.dim..(row + 1) * self.dim].copy_from_slice(&tail[..self.dim]);
            let w = self.words;
            let (bhead, btail) = self.bits.split_at_mut(last * w);
            bhead[row * w..(row + 1) * w].copy_from_slice(&btail[..w]);
            self.ids.swap(row, last);
            self.service.swap(row, last);
            self.category.swap(row, last);
            self.date.swap(row, last);
            self.slots.insert(self.ids[row].clone(), row);
        }
        self.ids.pop();
        data.truncate(last * self.dim);
        self.bits.truncate(last * self.words);
        self.service.pop();
        self.category.pop();
        self.date.pop();
        Ok(())
    }

    /// Writes the index for the index file, the f32 rows last: a reader leaves them there.
    pub fn encode<W: std::io::Write>(&self, w: &mut Writer<W>) -> std::io::Result<()> {
        w.len(self.dim)?;
        w.len(self.services.len())?;
        for s in &self.services {
            w.str(s)?;
        }
        w.len(self.ids.len())?;
        for (row, id) in self.ids.iter().enumerate() {
            w.str(id)?;
            w.u32(self.service[row])?;
            w.u8(self.category[row])?;
            w.i64(self.date[row])?;
        }
        w.u64s(&self.bits)?;
        match &self.data {
            Rows::Owned(v) => w.f32s(v),
            Rows::File { file, at, len } => {
                w.len(*len)?;
                let mut buf = vec![0f32; 1 << 16];
                let mut done = 0;
                while done < *len {
                    let n = buf.len().min(len - done);
                    read_f32s_at(file, at + done as u64 * 4, &mut buf[..n])?;
                    w.f32_values(&buf[..n])?;
                    done += n;
                }
                Ok(())
            }
        }
    }

    /// Reads an index written by `encode` from `file` (which `r` reads), leaving its f32 rows
    /// in the file. `None` when the file does not hold a whole index there.
    pub fn decode<R: BufRead + Seek>(r: &mut Reader<R>, file: &Arc<File>) -> Option<VectorIndex> {
        let mut ix = VectorIndex::new(r.len()?);
        for s in 0..r.count(8)? {
            let name = r.str()?;
            ix.service_ix.insert(name.clone(), s as u32);
            ix.services.push(name);
        }
        // Each row takes at least 21 bytes: an id's length, a service, a category, a date.
        let rows = r.count(21)?;
        ix.ids.reserve(rows);
        ix.slots.reserve(rows);
        ix.service.reserve(rows);
        ix.category.reserve(rows);
        ix.date.reserve(rows);
        for row in 0..rows {
            let id = r.str()?;
            ix.slots.insert(id.clone(), row);
            ix.ids.push(id);
            let service = r.u32()?;
            ix.service
                .push((service < ix.services.len() as u32).then_some(service)?);
            ix.category.push(r.u8()?);
            ix.date.push(r.i64()?);
        }
        ix.bits = r.u64s()?;
        let len = r.count(4)?;
        ix.data = Rows::File {
            file: file.clone(),
            at: r.offset(),
            len,
        };
        r.skip(len as u64 * 4)?;
        (ix.slots.len() == rows
            && Some(ix.bits.len()) == rows.checked_mul(ix.words)
            && Some(len) == rows.checked_mul(ix.dim))
        .then_some(ix)
    }

    /// The `k` rows most similar to a unit `query` that pass `filter`, best first, as (id, score).
    /// Scores are exact; from `BINARY_FROM` rows on, the rows scored are the best candidates of
    /// the bit scan, so a true top-k row can be missed (rarely: see `search_binary`).
    pub fn search(&self, query: &[f32], k: usize, filter: &Filter) -> Hits<'_> {
        if self.len() >= BINARY_FROM {
            self.search_binary(query, k, filter, candidates(k))
        } else {
            self.search_exact(query, k, filter)
        }
    }

    /// Scans the sign bits for the `pool` passing rows nearest the query's signs by Hamming
    /// distance (a counting sort over distances 0..=dim), then scores those rows exactly.
    /// At 100k random unit vectors this streams 4.8 MB instead of 154 MB of f32.
    pub fn search_binary(&self, query: &[f32], k: usize, filter: &Filter, pool: usize) -> Hits<'_> {
        let Some(rf) = self.start(query, k, filter) else {
            return Ok(Vec::new());
        };
        let unfiltered = rf.is_all();
        let q = signs(query);
        // u16::MAX marks a row the filter leaves out.
        let mut dist = vec![u16::MAX; self.len()];
        let mut counts = vec![0usize; self.dim + 1];
        self.hamming(&q, (!unfiltered).then_some(&rf), &mut dist, &mut counts);
        // The largest distance that still fits in the pool, and how many rows at it may join.
        let (mut cut, mut taken) = (0usize, 0usize);
        while cut <= self.dim && taken + counts[cut] < pool {
            taken += counts[cut];
            cut += 1;
        }
        let mut room_at_cut = pool - taken;
        let mut top = TopK::new(k);
        let mut buf = vec![0f32; self.dim];
        for (row, &d) in dist.iter().enumerate() {
            let d = d as usize;
            if d < cut || (d == cut && room_at_cut > 0) {
                if d == cut {
                    room_at_cut -= 1;
                }
                top.push(
                    dot(query, self.data.row(row, self.dim, &mut buf)?),
                    row as u32,
                );
            }
        }
        Ok(self.named(top))
    }

    fn named(&self, top: TopK) -> Vec<(&str, f32)> {
        top.into_sorted()
            .into_iter()
            .map(|(score, row)| (self.ids[row as usize].as_str(), score))
            .collect()
    }

    /// Each passing row's Hamming distance to `q` and how many rows are at each distance.
    /// On x86_64 it runs with the POPCNT instruction where the CPU has it: the x86-64 baseline
    /// lacks it, and `count_ones` is then a dozen instructions a word.
    fn hamming(&self, q: &[u64], f: Option<&RowFilter>, dist: &mut [u16], counts: &mut [usize]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the CPU has POPCNT, the one feature the function is compiled for.
            unsafe { self.hamming_popcnt(q, f, dist, counts) };
            return;
        }
        self.hamming_rows(q, f, dist, counts);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn hamming_popcnt(
        &self,
        q: &[u64],
        f: Option<&RowFilter>,
        dist: &mut [u16],
        counts: &mut [usize],
    ) {
        self.hamming_rows(q, f, dist, counts);
    }

    #[inline(always)]
    fn hamming_rows(
        &self,
        q: &[u64],
        f: Option<&RowFilter>,
        dist: &mut [u16],
        counts: &mut [usize],
    ) {
        for (row, x) in self.bits.chunks_exact(self.words).enumerate() {
            if f.is_some_and(|f| !self.passes(row, f)) {
                continue;
            }
            let d: u32 = q.iter().zip(x).map(|(a, b)| (a ^ b).count_ones()).sum();
            dist[row] = d as u16;
            counts[d as usize] += 1;
        }
    }

    /// The plain exact scan over the f32 rows.
    pub fn search_exact(&self, query: &[f32], k: usize, filter: &Filter) -> Hits<'_> {
        let Some(rf) = self.start(query, k, filter) else {
            return Ok(Vec::new());
        };
        let unfiltered = rf.is_all();
        let mut top = TopK::new(k);
        let mut score = |first: usize, rows: &[f32]| {
            for (i, v) in rows.chunks_exact(self.dim).enumerate() {
                let row = first + i;
                if unfiltered || self.passes(row, &rf) {
                    top.push(dot(query, v), row as u32);
                }
            }
        };
        match &self.data {
            Rows::Owned(v) => score(0, v),
            Rows::File { file, at, .. } => {
                // In blocks of 64 rows, so the file is streamed and never held whole.
                let mut buf = vec![0f32; 64 * self.dim];
                for first in (0..self.len()).step_by(64) {
                    let n = 64.min(self.len() - first) * self.dim;
                    read_f32s_at(file, at + (first * self.dim * 4) as u64, &mut buf[..n])?;
                    score(first, &buf[..n]);
                }
            }
        }
        Ok(self.named(top))
    }

    /// The resolved filter of a search, or `None` when no row can answer it
    /// (k = 0, a query of another dimension, an empty index, an unknown service).
    fn start(&self, query: &[f32], k: usize, filter: &Filter) -> Option<RowFilter> {
        if k == 0 || query.len() != self.dim || self.dim == 0 {
            return None;
        }
        self.resolve(filter)
    }

    fn resolve(&self, filter: &Filter) -> Option<RowFilter> {
        let service = match &filter.service {
            Some(s) => Some(*self.service_ix.get(s)?),
            None => None,
        };
        Some(RowFilter {
            service,
            category: filter.category.map(category_code),
            since: filter.since.map_or(i64::MIN, |t| t.timestamp()),
            until: filter.until.map_or(i64::MAX, |t| t.timestamp()),
            clock: (filter.hours.is_some() || !filter.weekdays.is_empty()).then(|| filter.clone()),
        })
    }

    fn passes(&self, row: usize, f: &RowFilter) -> bool {
        f.service.is_none_or(|s| self.service[row] == s)
            && f.category.is_none_or(|c| self.category[row] == c)
            && self.date[row] >= f.since
            && self.date[row] <= f.until
            && f.clock
                .as_ref()
                .is_none_or(|c| c.passes_clock(self.date[row]))
    }
}

/// A category as one byte: its place in `Category::ALL`.
pub(super) fn category_code(c: Category) -> u8 {
    Category::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
}

/// How many candidates the bit scan keeps for a top-`k`.
pub fn candidates(k: usize) -> usize {
    (k * CANDIDATES_PER_HIT).max(MIN_CANDIDATES)
}

/// One bit per dimension: set where the value is positive (branch-free, 64 dimensions a word).
fn signs(v: &[f32]) -> Vec<u64> {
    v.chunks(64)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |w, (i, x)| w | (u64::from(*x > 0.0) << i))
        })
        .collect()
}

/// Dot product with 16 independent lanes, so the compiler emits packed SIMD without reassociating.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// The k best (score, row) pairs seen so far, kept sorted best first; cheap when k is small.
struct TopK {
    k: usize,
    items: Vec<(f32, u32)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    #[inline]
    fn push(&mut self, score: f32, row: u32) {
        if self.items.len() == self.k && score <= self.items[self.k - 1].0 {
            return;
        }
        let at = self.items.partition_point(|(s, _)| *s >= score);
        self.items.insert(at, (score, row));
        self.items.truncate(self.k);
    }

    fn into_sorted(self) -> Vec<(f32, u32)> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn vector_of(idx: &VectorIndex, id: &str) -> Vec<f32> {
        let mut buf = vec![0.0; idx.dim];
        idx.data
            .row(idx.slots[id], idx.dim, &mut buf)
            .unwrap()
            .to_vec()
    }

    fn meta(service: &str, category: Category, date: i64) -> RowMeta {
        RowMeta {
            service: service.into(),
            category,
            date,
        }
    }

    fn unit(dim: usize, hot: usize) -> Vec<f32> {
        let mut v = vec![0.0; dim];
        v[hot] = 1.0;
        v
    }

    /// Brute-force reference: every row, naive dot product, full sort.
    fn reference(
        rows: &[(String, RowMeta, Vec<f32>)],
        q: &[f32],
        k: usize,
        f: &Filter,
    ) -> Vec<(String, f32)> {
        let mut all: Vec<(String, f32)> = rows
            .iter()
            .filter(|(_, m, _)| {
                f.service.as_ref().is_none_or(|s| *s == m.service)
                    && f.category.is_none_or(|c| c == m.category)
                    && f.since.is_none_or(|t| m.date >= t.timestamp())
                    && f.until.is_none_or(|t| m.date <= t.timestamp())
            })
            .map(|(id, _, v)| (id.clone(), v.iter().zip(q).map(|(a, b)| a * b).sum()))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.truncate(k);
        all
    }

    #[test]
    fn search_matches_brute_force_with_and_without_filters() {
        let dim = 37; // not a multiple of 16: exercises the remainder loop
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let mut rows = Vec::new();
        let mut idx = VectorIndex::new(dim);
        for i in 0..500 {
            let mut v: Vec<f32> = (0..dim).map(|_| rnd()).collect();
            super::super::doc::normalize(&mut v);
            let m = meta(
                ["a", "b", "c"][i % 3],
                Category::ALL[i % 4],
                1_000 + i as i64,
            );
            idx.upsert(&format!("d{i}"), &m, &v).unwrap();
            rows.push((format!("d{i}"), m, v));
        }
        let mut q: Vec<f32> = (0..dim).map(|_| rnd()).collect();
        super::super::doc::normalize(&mut q);
        let filters = [
            Filter::default(),
            Filter {
                service: Some("b".into()),
                ..Default::default()
            },
            Filter {
                category: Some(Category::ALL[2]),
                since: Some(chrono::Utc.timestamp_opt(1_100, 0).unwrap()),
                until: Some(chrono::Utc.timestamp_opt(1_300, 0).unwrap()),
                ..Default::default()
            },
        ];
        for f in &filters {
            let got: Vec<(String, f32)> = idx
                .search(&q, 10, f)
                .unwrap()
                .into_iter()
                .map(|(i, s)| (i.to_string(), s))
                .collect();
            let want = reference(&rows, &q, 10, f);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0);
                assert!((g.1 - w.1).abs() < 1e-5);
            }
        }
    }

    /// Clustered unit vectors (as embeddings of recurring incidents are) and queries near them.
    fn clustered(dim: usize, rows: usize, clusters: usize) -> (VectorIndex, Vec<Vec<f32>>) {
        let mut state = 11u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let centers: Vec<Vec<f32>> = (0..clusters)
            .map(|_| (0..dim).map(|_| rnd()).collect())
            .collect();
        let mut idx = VectorIndex::new(dim);
        for i in 0..rows {
            let c = &centers[i % clusters];
            let mut v: Vec<f32> = c.iter().map(|x| x + 0.6 * rnd()).collect();
            super::super::doc::normalize(&mut v);
            idx.upsert(
                &format!("d{i}"),
                &meta(["a", "b"][i % 2], Category::ALL[i % 3], i as i64),
                &v,
            )
            .unwrap();
        }
        let queries = (0..40)
            .map(|t| {
                let mut q: Vec<f32> = centers[t % clusters]
                    .iter()
                    .map(|x| x + 0.8 * rnd())
                    .collect();
                super::super::doc::normalize(&mut q);
                q
            })
            .collect();
        (idx, queries)
    }

    #[test]
    fn the_bit_scan_with_every_row_in_its_pool_is_the_exact_search() {
        let (idx, queries) = clustered(100, 600, 6);
        for q in &queries {
            for f in [
                Filter::default(),
                Filter {
                    service: Some("b".into()),
                    ..Default::default()
                },
            ] {
                for k in [1, 10, 50] {
                    assert_eq!(
                        idx.search_binary(q, k, &f, idx.len()).unwrap(),
                        idx.search_exact(q, k, &f).unwrap()
                    );
                }
            }
        }
    }

    #[test]
    fn the_bit_scan_keeps_nearly_all_of_the_exact_top_ten() {
        let (idx, queries) = clustered(128, BINARY_FROM * 2, 40);
        let f = Filter::default();
        let (mut kept, mut total) = (0, 0);
        for q in &queries {
            let exact = idx.search_exact(q, 10, &f).unwrap();
            let got = idx.search(q, 10, &f).unwrap();
            // Whatever it returns is scored exactly, best first.
            for (id, score) in &got {
                assert!((dot(q, &vector_of(&idx, id)) - score).abs() < 1e-6);
            }
            assert!(got.windows(2).all(|w| w[0].1 >= w[1].1));
            kept += got.iter().filter(|g| exact.contains(g)).count();
            total += exact.len();
        }
        let recall = kept as f64 / total as f64;
        assert!(recall >= 0.97, "kept {kept} of {total} exact top-10 rows");
        // With a pool of 10 rows it cannot find the exact top 10: the test can tell.
        let small: usize = queries
            .iter()
            .map(|q| {
                let exact = idx.search_exact(q, 10, &f).unwrap();
                idx.search_binary(q, 10, &f, 10)
                    .unwrap()
                    .iter()
                    .filter(|g| exact.contains(g))
                    .count()
            })
            .sum();
        assert!(
            small < kept,
            "pool of 10 kept {small}, pool of {} kept {kept}",
            candidates(10)
        );
    }

    #[test]
    fn the_popcnt_pass_and_the_portable_pass_agree() {
        let (idx, queries) = clustered(100, 700, 7);
        let f = idx.resolve(&Filter {
            service: Some("a".into()),
            ..Default::default()
        });
        for q in &queries {
            let q = signs(q);
            for f in [None, f.as_ref()] {
                let (mut d1, mut c1) = (vec![u16::MAX; idx.len()], vec![0; 101]);
                let (mut d2, mut c2) = (d1.clone(), c1.clone());
                idx.hamming(&q, f, &mut d1, &mut c1);
                idx.hamming_rows(&q, f, &mut d2, &mut c2);
                assert_eq!((d1, c1), (d2, c2));
            }
        }
    }

    #[test]
    fn unknown_service_matches_nothing() {
        let mut idx = VectorIndex::new(4);
        idx.upsert("x", &meta("a", Category::Crash, 0), &unit(4, 0))
            .unwrap();
        let f = Filter {
            service: Some("nope".into()),
            ..Default::default()
        };
        assert!(idx.search(&unit(4, 0), 5, &f).unwrap().is_empty());
    }

    #[test]
    fn upsert_replaces_and_remove_keeps_rows_consistent() {
        let mut idx = VectorIndex::new(4);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            idx.upsert(id, &meta("s", Category::Crash, 0), &unit(4, i))
                .unwrap();
        }
        idx.upsert("a", &meta("s", Category::Crash, 0), &unit(4, 3))
            .unwrap();
        assert_eq!(idx.len(), 3);
        assert_eq!(
            idx.search(&unit(4, 3), 1, &Filter::default()).unwrap()[0],
            ("a", 1.0)
        );
        idx.remove("a").unwrap();
        assert_eq!(idx.len(), 2);
        assert!(!idx.contains("a"));
        assert_eq!(
            idx.search(&unit(4, 2), 1, &Filter::default()).unwrap()[0],
            ("c", 1.0)
        );
        assert_eq!(
            idx.search(&unit(4, 1), 1, &Filter::default()).unwrap()[0],
            ("b", 1.0)
        );
    }
}
