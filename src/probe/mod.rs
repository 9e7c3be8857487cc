//! Probes: one per check kind.
