//! What a test run is, with no terminal code: the line parser for every driver generation
//! and wrapping, the `TestRun` model, the bounded line store, and the byte sources.

pub mod classify;
pub mod config;
pub mod diff;
pub mod event;
pub mod export;
pub mod html;
pub mod journal;
pub mod junit;
pub mod model;
pub mod parser;
pub mod recording;
pub mod sanitize;
pub mod shots;
pub mod source;
pub mod spans;
pub mod splitter;
pub mod store;
pub mod triage;
pub mod window;

pub use model::{Outcome, TestRun};
pub use parser::{ParseOptions, Parser};
pub use store::Caps;
