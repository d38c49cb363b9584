//! The real binary or server on a loopback socket: start-up, shutdown, connection
//! limits, faults, the dashboard in a browser and the README's walk-through.
//!
//! One test binary with a module per topic, so the linker runs once for all of them.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod browser_kinds;
mod connections;
mod faults;
mod readme;
mod serving;
