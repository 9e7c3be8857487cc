//! The demo: a small fleet in which one service freezes, and the service it is made of.

pub mod fleet;
pub mod service;
