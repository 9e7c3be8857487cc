//! The one integration test binary: real processes, files and sockets on 127.0.0.1.

mod agent;
