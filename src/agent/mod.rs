//! The post-mortem agent: gather evidence, draft, ground, remember.

pub mod model;
