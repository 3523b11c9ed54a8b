//! The driver's SSH backdoor: addresses of every form and the ssh command lines for them.

pub mod address;

pub use address::Address;
