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
    /// The same rows quantized to i8 (a quarter of the bytes to stream), with per-row scale,
    /// quantization error norm and reconstructed norm: enough to bound every approximate score.
    q8: Vec<i8>,
    q8_scale: Vec<f32>,
    q8_err: Vec<f32>,
    q8_norm: Vec<f32>,
}

/// From this many rows on, search streams the i8 copy and re-scores exactly (results identical).
pub const QUANTIZED_FROM: usize = 4096;

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
        let (q, scale, err, norm) = quantize(values);
        match self.slots.get(id) {
            Some(&row) => {
                self.data[row * self.dim..(row + 1) * self.dim].copy_from_slice(values);
                self.q8[row * self.dim..(row + 1) * self.dim].copy_from_slice(&q);
                (self.q8_scale[row], self.q8_err[row], self.q8_norm[row]) = (scale, err, norm);
                self.service[row] = service;
                self.category[row] = category;
                self.date[row] = meta.date;
            }
            None => {
                self.slots.insert(id.to_string(), self.ids.len());
                self.ids.push(id.to_string());
                self.data.extend_from_slice(values);
                self.q8.extend_from_slice(&q);
                self.q8_scale.push(scale);
                self.q8_err.push(err);
                self.q8_norm.push(norm);
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
            let (qhead, qtail) = self.q8.split_at_mut(last * self.dim);
            qhead[row * self.dim..(row + 1) * self.dim].copy_from_slice(&qtail[..self.dim]);
            self.q8_scale.swap(row, last);
            self.q8_err.swap(row, last);
            self.q8_norm.swap(row, last);
            self.ids.swap(row, last);
            self.service.swap(row, last);
            self.category.swap(row, last);
            self.date.swap(row, last);
            self.slots.insert(self.ids[row].clone(), row);
        }
        self.ids.pop();
        self.data.truncate(last * self.dim);
        self.q8.truncate(last * self.dim);
        self.q8_scale.pop();
        self.q8_err.pop();
        self.q8_norm.pop();
        self.service.pop();
        self.category.pop();
        self.date.pop();
    }

    /// The `k` rows most similar to a unit `query` that pass `filter`, best first, as (id, score).
    /// Exact: large indexes take the quantized path, whose bounds guarantee the same result.
    pub fn search(&self, query: &[f32], k: usize, filter: &Filter) -> Vec<(&str, f32)> {
        if self.len() >= QUANTIZED_FROM {
            self.search_quantized(query, k, filter)
        } else {
            self.search_exact(query, k, filter)
        }
    }

    /// Streams the i8 rows for approximate scores with error bounds, then re-scores in f32 only
    /// the rows whose upper bound reaches the k-th best lower bound: no true top-k row is skipped.
    pub fn search_quantized(&self, query: &[f32], k: usize, filter: &Filter) -> Vec<(&str, f32)> {
        let Some(rf) = self.start(query, k, filter) else {
            return Vec::new();
        };
        let unfiltered = rf.is_all();
        let (qq, q_scale, q_err, q_norm) = quantize(query);
        let qq: Vec<i16> = qq.into_iter().map(i16::from).collect();
        let mut lower = TopK::new(k);
        let mut approx: Vec<(f32, f32, u32)> = Vec::with_capacity(self.len());
        for (row, x) in self.q8.chunks_exact(self.dim).enumerate() {
            if !unfiltered && !self.passes(row, &rf) {
                continue;
            }
            let s = q_scale * self.q8_scale[row] * dot_i8(&qq, x) as f32;
            // |q.x - s| <= |qhat|*|r_x| + |r_q|*|xhat| + |r_q|*|r_x|, plus float rounding slack.
            let e = q_norm * self.q8_err[row]
                + q_err * self.q8_norm[row]
                + q_err * self.q8_err[row]
                + 1e-5;
            lower.push(s - e, row as u32);
            approx.push((s, e, row as u32));
        }
        let threshold = if lower.items.len() == k {
            lower.items[k - 1].0
        } else {
            f32::NEG_INFINITY
        };
        let mut top = TopK::new(k);
        for (s, e, row) in approx {
            if s + e >= threshold {
                let r = row as usize;
                top.push(
                    dot(query, &self.data[r * self.dim..(r + 1) * self.dim]),
                    row,
                );
            }
        }
        top.into_sorted()
            .into_iter()
            .map(|(score, row)| (self.ids[row as usize].as_str(), score))
            .collect()
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

/// Symmetric i8 quantization of one vector: (values, scale, |x - scale*q|, |scale*q|).
fn quantize(v: &[f32]) -> (Vec<i8>, f32, f32, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let q: Vec<i8> = v
        .iter()
        .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    let (mut err, mut norm) = (0f32, 0f32);
    for (x, qi) in v.iter().zip(&q) {
        let back = scale * *qi as f32;
        err += (x - back) * (x - back);
        norm += back * back;
    }
    (q, scale, err.sqrt(), norm.sqrt())
}

/// Integer dot product of a widened query and an i8 row, in 16 lanes (pmaddwd-friendly).
#[inline]
fn dot_i8(q: &[i16], x: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let cq = q.chunks_exact(16);
    let cx = x.chunks_exact(16);
    let (rq, rx) = (cq.remainder(), cx.remainder());
    for (a, b) in cq.zip(cx) {
        for i in 0..16 {
            acc[i] += a[i] as i32 * b[i] as i32;
        }
    }
    let mut s: i32 = acc.iter().sum();
    for (a, b) in rq.iter().zip(rx) {
        s += *a as i32 * *b as i32;
    }
    s
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

    #[test]
    fn quantized_search_returns_exactly_the_exact_result() {
        let dim = 100;
        let mut state = 11u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        let mut idx = VectorIndex::new(dim);
        let base: Vec<f32> = (0..dim).map(|_| rnd()).collect();
        for i in 0..3000 {
            // Many near-duplicates of one direction: scores crowd together, the hard case for bounds.
            let mut v: Vec<f32> = base.iter().map(|b| b + 0.05 * rnd()).collect();
            super::super::doc::normalize(&mut v);
            idx.upsert(
                &format!("d{i}"),
                &meta(["a", "b"][i % 2], Category::ALL[i % 3], i as i64),
                &v,
            );
        }
        for trial in 0..20 {
            let mut q: Vec<f32> = base
                .iter()
                .map(|b| b + 0.1 * rnd() * (trial % 3) as f32)
                .collect();
            super::super::doc::normalize(&mut q);
            for f in [
                Filter::default(),
                Filter {
                    service: Some("b".into()),
                    ..Default::default()
                },
            ] {
                for k in [1, 10, 50] {
                    assert_eq!(
                        idx.search_quantized(&q, k, &f),
                        idx.search_exact(&q, k, &f),
                        "trial {trial}, k {k}"
                    );
                }
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
