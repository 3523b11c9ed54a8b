//! The driver's SSH backdoor: addresses of every form, the ssh command line for each, and
//! `vmscope proxy` to reach them.

pub mod address;
pub mod proxy;
pub mod ssh;

pub use address::Address;
