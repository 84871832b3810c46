//! Integration tests of the vault: one binary made of modules.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod crash;
mod errors;
mod lifecycle;
mod metadata;
mod regress;
mod shred;
mod support;
