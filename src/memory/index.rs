//! The in-memory vector index behind the embedded store: exact cosine top-k over one contiguous matrix.

use super::doc::Filter;
use crate::core::category::Category;
use std::collections::HashMap;

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
    data: Vec<f32>,
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

    /// The stored (unit) vector of a row.
    pub fn vector(&self, id: &str) -> Option<&[f32]> {
        let row = *self.slots.get(id)?;
        Some(&self.data[row * self.dim..(row + 1) * self.dim])
    }

    /// The whole matrix, row-major (for benchmarks).
    pub fn matrix(&self) -> &[f32] {
        &self.data
    }

    /// Adds or replaces a row. The caller guarantees `values.len() == dim` and unit length.
    pub fn upsert(&mut self, id: &str, meta: &RowMeta, values: &[f32]) {
        debug_assert_eq!(values.len(), self.dim);
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
                self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(values);
                self.bits[row * w..(row + 1) * w].copy_from_slice(&bits);
                self.service[row] = service;
                self.category[row] = category;
                self.date[row] = meta.date;
            }
            None => {
                self.slots.insert(id.to_string(), self.ids.len());
                self.ids.push(id.to_string());
                self.data.extend_from_slice(values);
                self.bits.extend_from_slice(&bits);
                self.service.push(service);
                self.category.push(category);
                self.date.push(meta.date);
            }
        }
    }

    /// Removes a row if present (the last row moves into its place).
    pub fn remove(&mut self, id: &str) {
        let Some(row) = self.slots.remove(id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if row != last {
            let (head, tail) = self.data.split_at_mut(last * self.dim);
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
        self.data.truncate(last * self.dim);
        self.bits.truncate(last * self.words);
        self.service.pop();
        self.category.pop();
        self.date.pop();
    }

    /// The `k` rows most similar to a unit `query` that pass `filter`, best first, as (id, score).
    /// Scores are exact; from `BINARY_FROM` rows on, the rows scored are the best candidates of
    /// the bit scan, so a true top-k row can be missed (rarely: see `search_binary`).
    pub fn search(&self, query: &[f32], k: usize, filter: &Filter) -> Vec<(&str, f32)> {
        if self.len() >= BINARY_FROM {
            self.search_binary(query, k, filter, candidates(k))
        } else {
            self.search_exact(query, k, filter)
        }
    }

    /// Scans the sign bits for the `pool` passing rows nearest the query's signs by Hamming
    /// distance (a counting sort over distances 0..=dim), then scores those rows exactly.
    /// At 100k random unit vectors this streams 4.8 MB instead of 154 MB of f32.
    pub fn search_binary(
        &self,
        query: &[f32],
        k: usize,
        filter: &Filter,
        pool: usize,
    ) -> Vec<(&str, f32)> {
        let Some(rf) = self.start(query, k, filter) else {
            return Vec::new();
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
        for (row, &d) in dist.iter().enumerate() {
            let d = d as usize;
            if d < cut || (d == cut && room_at_cut > 0) {
                if d == cut {
                    room_at_cut -= 1;
                }
                top.push(
                    dot(query, &self.data[row * self.dim..(row + 1) * self.dim]),
                    row as u32,
                );
            }
        }
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
    pub fn search_exact(&self, query: &[f32], k: usize, filter: &Filter) -> Vec<(&str, f32)> {
        let Some(rf) = self.start(query, k, filter) else {
            return Vec::new();
        };
        let unfiltered = rf.is_all();
        let mut top = TopK::new(k);
        for (row, v) in self.data.chunks_exact(self.dim).enumerate() {
            if !unfiltered && !self.passes(row, &rf) {
                continue;
            }
            top.push(dot(query, v), row as u32);
        }
        top.into_sorted()
            .into_iter()
            .map(|(score, row)| (self.ids[row as usize].as_str(), score))
            .collect()
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

fn category_code(c: Category) -> u8 {
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
            idx.upsert(&format!("d{i}"), &m, &v);
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
            );
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
                        idx.search_binary(q, k, &f, idx.len()),
                        idx.search_exact(q, k, &f)
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
            let exact = idx.search_exact(q, 10, &f);
            let got = idx.search(q, 10, &f);
            // Whatever it returns is scored exactly, best first.
            for (id, score) in &got {
                assert!((dot(q, idx.vector(id).unwrap()) - score).abs() < 1e-6);
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
                let exact = idx.search_exact(q, 10, &f);
                idx.search_binary(q, 10, &f, 10)
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
        idx.upsert("x", &meta("a", Category::Crash, 0), &unit(4, 0));
        let f = Filter {
            service: Some("nope".into()),
            ..Default::default()
        };
        assert!(idx.search(&unit(4, 0), 5, &f).is_empty());
    }

    #[test]
    fn upsert_replaces_and_remove_keeps_rows_consistent() {
        let mut idx = VectorIndex::new(4);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            idx.upsert(id, &meta("s", Category::Crash, 0), &unit(4, i));
        }
        idx.upsert("a", &meta("s", Category::Crash, 0), &unit(4, 3));
        assert_eq!(idx.len(), 3);
        assert_eq!(
            idx.search(&unit(4, 3), 1, &Filter::default())[0],
            ("a", 1.0)
        );
        idx.remove("a");
        assert_eq!(idx.len(), 2);
        assert!(!idx.contains("a"));
        assert_eq!(
            idx.search(&unit(4, 2), 1, &Filter::default())[0],
            ("c", 1.0)
        );
        assert_eq!(
            idx.search(&unit(4, 1), 1, &Filter::default())[0],
            ("b", 1.0)
        );
    }
}
