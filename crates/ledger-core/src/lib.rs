//! Append-only, hash-chained, Merkle-proven event log with signed checkpoints.
//!
//! This crate knows nothing of any regulation: it stores opaque, typed records
//! and proves that none of them was changed, removed or reordered.

/// A 32-byte blake3 digest.
pub type Hash = [u8; 32];
