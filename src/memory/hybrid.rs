//! Hybrid ranking: the dense (embedding) and lexical (BM25F) rankings fused by reciprocal rank.

use crate::core::category::Category;
use std::collections::HashMap;

/// The rank constant of reciprocal rank fusion (Cormack et al. 2009): a doc at rank `r` of a
/// list adds `1 / (RRF_K + r)`, so a hit high in either list counts, and one high in both most.
pub const RRF_K: f32 = 60.0;

/// How many candidates each ranking hands to the fusion.
pub const POOL: usize = 100;

/// A category whose dense candidates rank once more (a third ranking), and that ranking's weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub category: Category,
    pub weight: f32,
}

/// The weight of a category the question names in plain words: it says what it is about.
pub const NAMED_WEIGHT: f32 = 2.0;

/// The weight of a category most of the question's nearest post-mortems share: a guess.
pub const VOTED_WEIGHT: f32 = 1.0;

/// How many of the best fused candidates the answer groups near-identical hits from.
pub const GROUPED: usize = 30;

/// Fuses rankings (ids best first) with a weight each; returns ids best first with their fused
/// score, ties broken by id for a stable order.
pub fn fuse(rankings: &[(&[String], f32)], k: usize) -> Vec<(String, f32)> {
    let mut score: HashMap<&str, f32> = HashMap::new();
    for (ids, weight) in rankings {
        for (rank, id) in ids.iter().enumerate() {
            *score.entry(id.as_str()).or_default() += weight / (RRF_K + rank as f32 + 1.0);
        }
    }
    let mut out: Vec<(String, f32)> = score
        .into_iter()
        .map(|(id, s)| (id.to_string(), s))
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(k);
    out
}

/// The fused score of a doc first in every ranking: fused scores divided by it lie in (0, 1].
pub fn best_score(rankings: &[(&[String], f32)]) -> f32 {
    rankings
        .iter()
        .filter(|(ids, _)| !ids.is_empty())
        .map(|(_, w)| w / (RRF_K + 1.0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_doc_high_in_both_rankings_wins_and_either_list_alone_counts() {
        let dense = ids(&["a", "b", "c"]);
        let lexical = ids(&["b", "d"]);
        let fused = fuse(&[(&dense, 1.0), (&lexical, 1.0)], 3);
        let order: Vec<&str> = fused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(order, ["b", "a", "d"]);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
    }

    #[test]
    fn weights_tilt_the_fusion() {
        let dense = ids(&["a", "b"]);
        let lexical = ids(&["b", "a"]);
        let fused = fuse(&[(&dense, 2.0), (&lexical, 1.0)], 2);
        assert_eq!(fused[0].0, "a");
    }
}
