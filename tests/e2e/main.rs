//! End-to-end tests through the public API, as one test binary (one link).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod concurrent;
mod corruption;
mod crash;
mod durability;
mod faults;
mod fixture;
mod full_disk;
mod logs;
mod power_loss;
mod reopen;
mod segments;
mod tamper;
