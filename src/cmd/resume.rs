//! `akashic resume SERVICE`: let an escalated service be restarted again.

use super::{load_config, out, CmdResult};
use crate::daemon::control::{self, Request};
use std::path::Path;

pub fn run(flag: Option<&Path>, service: &str) -> CmdResult {
    let cfg = load_config(flag)?;
    let req = Request::Resume {
        service: service.to_string(),
    };
    match control::ask(&cfg.daemon.state_dir, &req).map_err(anyhow::Error::from)? {
        Some(v) => {
            out(v.as_str().unwrap_or_default());
            Ok(crate::exit::OK)
        }
        None => {
            eprintln!("error: akashic is not running on {}; an escalated service is watched afresh when akashic starts", cfg.daemon.state_dir.display());
            Ok(crate::exit::FAILURE)
        }
    }
}
