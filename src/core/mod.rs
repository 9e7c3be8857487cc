//! The pure decision core: no clocks, files or sockets in here.

pub mod category;
pub mod machine;
pub mod policy;
