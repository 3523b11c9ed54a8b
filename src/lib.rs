//! vmscope: a full-screen terminal debugger for NixOS VM integration tests.
//!
//! `vm` knows what a test run is and nothing of terminals; `vsock` knows the SSH backdoor;
//! `panes` draws; `app` owns the state, the keys and the event loop.

pub mod app;
pub mod cli;
pub mod diagnostics;
pub mod panes;
pub mod plain;
pub mod split;
pub mod vm;
pub mod vsock;
