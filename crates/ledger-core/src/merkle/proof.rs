//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): generation
//! from a [`NodeStore`] and stand-alone verification.

use serde::{Deserialize, Serialize};

use super::{range_hash, read, split_point, MerkleError, NodeStore, TreeHash};
use crate::Hash;

/// Proof that a leaf is at `index` in the tree of `tree_size` leaves
/// (RFC 9162 §2.1.3.1 `PATH(index, D[0:tree_size])`).
///
/// `path` lists sibling hashes from the leaf up to the root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// Zero-based index of the leaf.
    pub index: u64,
    /// Number of leaves of the tree whose root the proof leads to.
    pub tree_size: u64,
    /// Sibling hashes, leaf to root.
    pub path: Vec<Hash>,
}

/// Proof that the tree of `old_size` leaves is a prefix of the tree of
/// `new_size` leaves (RFC 9162 §2.1.4.1 `PROOF(old_size, D[0:new_size])`).
///
/// `path` is empty when `old_size == 0` or `old_size == new_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// Subtree hashes, in RFC 9162 order (deepest first).
    pub path: Vec<Hash>,
}

/// Why a proof failed to verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The inclusion proof names a leaf index outside its tree.
    #[error("inclusion proof index {index} is out of range for a tree of {tree_size} leaves")]
    IndexOutOfRange {
        /// Leaf index claimed by the proof.
        index: u64,
        /// Tree size claimed by the proof.
        tree_size: u64,
    },
    /// The consistency proof goes from a larger to a smaller tree.
    #[error("consistency proof old size {old_size} is larger than new size {new_size}")]
    InvalidSizes {
        /// Old size claimed by the proof.
        old_size: u64,
        /// New size claimed by the proof.
        new_size: u64,
    },
    /// The path does not have the length implied by the index and sizes.
    #[error("proof path has {got} hashes, expected {expected} for its index and sizes")]
    WrongPathLength {
        /// Length implied by the index and sizes.
        expected: usize,
        /// Length of the supplied path.
        got: usize,
    },
    /// The inclusion proof leads to a different root.
    #[error(
        "inclusion proof root mismatch: expected {}, computed {}",
        hex::encode(.expected),
        hex::encode(.computed)
    )]
    RootMismatch {
        /// Root supplied by the caller.
        expected: Hash,
        /// Root computed from the leaf and the path.
        computed: Hash,
    },
    /// The consistency proof does not lead to the supplied old root.
    #[error(
        "consistency proof old root mismatch: expected {}, computed {}",
        hex::encode(.expected),
        hex::encode(.computed)
    )]
    OldRootMismatch {
        /// Old root supplied by the caller.
        expected: Hash,
        /// Old root computed from the path.
        computed: Hash,
    },
    /// The consistency proof does not lead to the supplied new root.
    #[error(
        "consistency proof new root mismatch: expected {}, computed {}",
        hex::encode(.expected),
        hex::encode(.computed)
    )]
    NewRootMismatch {
        /// New root supplied by the caller.
        expected: Hash,
        /// New root computed from the path.
        computed: Hash,
    },
}

impl TreeHash {
    /// Builds the inclusion proof of leaf `index` in the tree of `tree_size`
    /// leaves, reading `O(log tree_size)` stored nodes.
    ///
    /// Fails with [`MerkleError::IndexOutOfRange`] unless `index < tree_size`,
    /// and with [`MerkleError::MissingNode`] if fewer than `tree_size` leaves are
    /// stored. The result equals RFC 9162 `PATH(index, D[0:tree_size])`.
    pub fn inclusion_proof<S: NodeStore>(
        self,
        store: &S,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, MerkleError<S::Error>> {
        if index >= tree_size {
            return Err(MerkleError::IndexOutOfRange { index, tree_size });
        }
        // Walk down from the root; [start, start + len) is the current subtree.
        let (mut start, mut len) = (0u64, tree_size);
        let mut path = Vec::with_capacity(64);
        while len > 1 {
            let k = split_point(len);
            if index - start < k {
                // Leaf on the left: sibling is the (possibly ragged) right part.
                path.push(range_hash(self, store, start + k, len - k)?);
                len = k;
            } else {
                // Leaf on the right: sibling is the perfect left part.
                let level = k.trailing_zeros() as u8;
                path.push(read(store, level, start >> level)?);
                start += k;
                len -= k;
            }
        }
        path.reverse();
        Ok(InclusionProof {
            index,
            tree_size,
            path,
        })
    }

    /// Builds the consistency proof from the tree of `old_size` leaves to the
    /// tree of `new_size` leaves, reading `O(log new_size)` stored nodes.
    ///
    /// `old_size == 0` and `old_size == new_size` give an empty path (any tree
    /// extends the empty tree; a tree extends itself). Fails with
    /// [`MerkleError::InvalidSizes`] if `old_size > new_size`, and with
    /// [`MerkleError::MissingNode`] if fewer than `new_size` leaves are stored.
    /// Otherwise the result equals RFC 9162 `PROOF(old_size, D[0:new_size])`.
    pub fn consistency_proof<S: NodeStore>(
        self,
        store: &S,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, MerkleError<S::Error>> {
        if old_size > new_size {
            return Err(MerkleError::InvalidSizes { old_size, new_size });
        }
        let mut path = Vec::with_capacity(64);
        if old_size > 0 && old_size < new_size {
            // Iterative SUBPROOF(m, D[start:start+len], complete).
            let (mut start, mut len, mut m, mut complete) = (0u64, new_size, old_size, true);
            loop {
                if m == len {
                    if !complete {
                        path.push(range_hash(self, store, start, len)?);
                    }
                    break;
                }
                let k = split_point(len);
                if m <= k {
                    path.push(range_hash(self, store, start + k, len - k)?);
                    len = k;
                } else {
                    let level = k.trailing_zeros() as u8;
                    path.push(read(store, level, start >> level)?);
                    start += k;
                    len -= k;
                    m -= k;
                    complete = false;
                }
            }
            path.reverse();
        } else if new_size > 0 {
            // Fail on a store that is too short even though the path is empty,
            // so the caller never gets a proof for a tree that does not exist.
            read(store, 0, new_size - 1)?;
        }
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path,
        })
    }
}

/// RFC 9162 decomposition of an inclusion path for leaf `index` in a tree of
/// `size` leaves (`index < size`): the number of hashes below the point where
/// the path to `index` and the path to the last leaf diverge (`inner`), and
/// the number of left siblings above it (`border`).
fn decompose(index: u64, size: u64) -> (u32, u32) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner, border)
}

impl TreeHash {
    /// Verifies that `leaf` (a Merkle leaf hash, see [`TreeHash::leaf_hash`]) is at
    /// `proof.index` in the tree of `proof.tree_size` leaves whose root is `root`.
    ///
    /// Implements RFC 9162 §2.1.3.2, after checking that the path has exactly the
    /// length implied by the index and size. Needs nothing but its arguments;
    /// never panics, whatever the input.
    pub fn verify_inclusion(
        self,
        leaf: &Hash,
        proof: &InclusionProof,
        root: &Hash,
    ) -> Result<(), ProofError> {
        let (index, tree_size) = (proof.index, proof.tree_size);
        if index >= tree_size {
            return Err(ProofError::IndexOutOfRange { index, tree_size });
        }
        let (inner, border) = decompose(index, tree_size);
        let expected = (inner + border) as usize;
        if proof.path.len() != expected {
            return Err(ProofError::WrongPathLength {
                expected,
                got: proof.path.len(),
            });
        }
        let (mut fnode, mut snode) = (index, tree_size - 1);
        let mut r = *leaf;
        for p in &proof.path {
            if snode == 0 {
                // Unreachable after the length check; kept from the RFC.
                return Err(ProofError::WrongPathLength {
                    expected,
                    got: proof.path.len(),
                });
            }
            if fnode & 1 == 1 || fnode == snode {
                r = self.node_hash(p, &r);
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                r = self.node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        if snode != 0 {
            // Unreachable after the length check; kept from the RFC.
            return Err(ProofError::WrongPathLength {
                expected,
                got: proof.path.len(),
            });
        }
        if r != *root {
            return Err(ProofError::RootMismatch {
                expected: *root,
                computed: r,
            });
        }
        Ok(())
    }

    /// Verifies that the tree of `proof.old_size` leaves with root `old_root` is
    /// a prefix of the tree of `proof.new_size` leaves with root `new_root`.
    ///
    /// * `old_size > new_size`: [`ProofError::InvalidSizes`];
    /// * `old_size == 0`: the path must be empty and `old_root` must be
    ///   [`TreeHash::empty_root`] (`new_root` is unconstrained: every tree extends the empty
    ///   tree);
    /// * `old_size == new_size`: the path must be empty and the roots equal;
    /// * otherwise RFC 9162 §2.1.4.2, after checking that the path has exactly the
    ///   length implied by the sizes.
    ///
    /// Needs nothing but its arguments; never panics, whatever the input.
    pub fn verify_consistency(
        self,
        old_root: &Hash,
        new_root: &Hash,
        proof: &ConsistencyProof,
    ) -> Result<(), ProofError> {
        let (first, second) = (proof.old_size, proof.new_size);
        let path = proof.path.as_slice();
        if first > second {
            return Err(ProofError::InvalidSizes {
                old_size: first,
                new_size: second,
            });
        }
        if first == 0 || first == second {
            if !path.is_empty() {
                return Err(ProofError::WrongPathLength {
                    expected: 0,
                    got: path.len(),
                });
            }
            if first == 0 {
                let empty = self.empty_root();
                if *old_root != empty {
                    return Err(ProofError::OldRootMismatch {
                        expected: *old_root,
                        computed: empty,
                    });
                }
            } else if old_root != new_root {
                return Err(ProofError::NewRootMismatch {
                    expected: *new_root,
                    computed: *old_root,
                });
            }
            return Ok(());
        }

        // 0 < first < second.
        let (inner, border) = decompose(first - 1, second);
        let shift = first.trailing_zeros();
        let first_is_pow2 = first.is_power_of_two();
        // The path omits the old root when the old tree is one perfect subtree.
        let expected =
            (inner.saturating_sub(shift) + border) as usize + usize::from(!first_is_pow2);
        if path.len() != expected {
            return Err(ProofError::WrongPathLength {
                expected,
                got: path.len(),
            });
        }
        let wrong_length = || ProofError::WrongPathLength {
            expected,
            got: path.len(),
        };

        // RFC 9162 §2.1.4.2, step 2: prepend old_root if first is a power of two.
        let (seed, rest) = if first_is_pow2 {
            (*old_root, path)
        } else {
            match path.split_first() {
                Some((seed, rest)) => (*seed, rest),
                None => return Err(wrong_length()),
            }
        };
        let (mut fnode, mut snode) = (first - 1, second - 1);
        while fnode & 1 == 1 {
            fnode >>= 1;
            snode >>= 1;
        }
        let (mut fr, mut sr) = (seed, seed);
        for c in rest {
            if snode == 0 {
                return Err(wrong_length());
            }
            if fnode & 1 == 1 || fnode == snode {
                fr = self.node_hash(c, &fr);
                sr = self.node_hash(c, &sr);
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                sr = self.node_hash(&sr, c);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        if snode != 0 {
            return Err(wrong_length());
        }
        if fr != *old_root {
            return Err(ProofError::OldRootMismatch {
                expected: *old_root,
                computed: fr,
            });
        }
        if sr != *new_root {
            return Err(ProofError::NewRootMismatch {
                expected: *new_root,
                computed: sr,
            });
        }
        Ok(())
    }
}
