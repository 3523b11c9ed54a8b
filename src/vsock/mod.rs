//! The driver's SSH backdoor: addresses of every form, and `vmscope proxy` to reach them.

pub mod address;
pub mod proxy;

pub use address::Address;
