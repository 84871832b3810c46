//! Merkle tree of the log: RFC 6962 / RFC 9162 §2.1 over SHA-256 (what
//! C2SP `tlog-checkpoint` and `tlog-tiles` require), with the BLAKE3 tree of
//! older ledgers kept for reading them ([`TreeHash`]).
//!
//! # Hashing rules
//!
//! For a [`TreeHash`] `H` (SHA-256, or BLAKE3 for a legacy ledger):
//!
//! * leaf hash: `H(0x00 || leaf data)` ([`TreeHash::leaf_hash`]); the leaf
//!   data of record `i` is its 32-byte chain hash (docs/FORMAT.md §4);
//! * interior node: `H(0x01 || left || right)` ([`TreeHash::node_hash`]);
//! * the Merkle Tree Hash (MTH) of `n > 1` leaves splits them at `k`, the
//!   largest power of two strictly smaller than `n`:
//!   `MTH(D[0:n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))`;
//! * the MTH of one leaf is its leaf hash; the MTH of the empty tree is
//!   `H("")` ([`TreeHash::empty_root`]).
//!
//! # Persistence model
//!
//! The writer keeps a [`Frontier`] in memory and persists, for every appended
//! leaf, the hashes of the *perfect, aligned* subtrees it completes:
//! `node(level, index)` is the MTH of leaves `[index << level, (index + 1) << level)`
//! (level 0 is the leaf hash). These nodes never change once written.
//!
//! Every range that appears in the RFC recursion of a tree of any size is
//! either such a perfect node (all left halves are) or a "ragged" right part
//! whose start is aligned to the next power of two above its length; a ragged
//! range decomposes into at most 64 perfect nodes following the binary
//! expansion of its length. Hence [`TreeHash::root_at`],
//! [`TreeHash::inclusion_proof`] and [`TreeHash::consistency_proof`] read
//! `O(log n)` nodes from a [`NodeStore`] and never rebuild anything, and they
//! work for *any* tree size up to the number of leaves whose nodes are stored
//! (old roots stay provable forever). The same nodes are the hashes of C2SP
//! tiles ([`tiles`]).
//!
//! # Example
//!
//! ```
//! use ledger_core::merkle::*;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tree_hash = TreeHash::Sha256;
//! let mut tree = MemoryTree::new(tree_hash); // any `NodeStore` works the same way
//! for i in 0u64..10 {
//!     let chain_hash = *blake3::hash(&i.to_be_bytes()).as_bytes();
//!     tree.push(tree_hash.leaf_hash(&chain_hash));
//! }
//! let (old_root, new_root) = (tree_hash.root_at(&tree, 6)?, tree_hash.root_at(&tree, 10)?);
//!
//! let leaf_3 = tree_hash.leaf_hash(blake3::hash(&3u64.to_be_bytes()).as_bytes());
//! let proof = tree_hash.inclusion_proof(&tree, 3, 10)?;
//! tree_hash.verify_inclusion(&leaf_3, &proof, &new_root)?;
//!
//! let proof = tree_hash.consistency_proof(&tree, 6, 10)?;
//! tree_hash.verify_consistency(&old_root, &new_root, &proof)?;
//! # Ok(())
//! # }
//! ```

use std::convert::Infallible;

use sha2::{Digest as _, Sha256};

use crate::Hash;

mod proof;
pub mod tiles;

pub use proof::{ConsistencyProof, InclusionProof, ProofError};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

/// Domain-separation prefix of leaf hashes (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// The hash function of a ledger's Merkle tree, recorded in the ledger's
/// metadata (`tree_hash`, docs/FORMAT.md §2).
///
/// The tree structure is the same for both; only the hash differs. Every
/// function that combines nodes is a method of this type, so a tool that
/// rebuilds a tree under another algorithm (a migration) passes it as a
/// parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TreeHash {
    /// RFC 6962 / RFC 9162 §2.1 with SHA-256, as C2SP `tlog-checkpoint`,
    /// `tlog-tiles` and witnesses require. Every new ledger uses it.
    #[default]
    Sha256,
    /// The same structure with BLAKE3, used by ledgers created before the
    /// tree became SHA-256 (their metadata has no `tree_hash` entry). They
    /// open, verify and grow with it; their checkpoints are not checkable by
    /// C2SP tools.
    LegacyBlake3,
}

impl TreeHash {
    /// The value of the `tree_hash` metadata entry: `rfc6962-sha256` or
    /// `blake3` (the latter is implied when the entry is absent).
    pub const fn name(self) -> &'static str {
        match self {
            TreeHash::Sha256 => "rfc6962-sha256",
            TreeHash::LegacyBlake3 => "blake3",
        }
    }

    /// Parses a [`TreeHash::name`]; `None` for anything else.
    pub fn from_name(name: &[u8]) -> Option<Self> {
        [TreeHash::Sha256, TreeHash::LegacyBlake3]
            .into_iter()
            .find(|t| t.name().as_bytes() == name)
    }

    /// Whether roots of this tree are C2SP `tlog-checkpoint` root hashes.
    pub const fn is_c2sp(self) -> bool {
        matches!(self, TreeHash::Sha256)
    }

    /// Returns the Merkle leaf hash of leaf data: `H(0x00 || data)`.
    ///
    /// For a ledger record the data is its 32-byte chain hash. This is the
    /// value stored at `node(0, index)` and the value passed to
    /// [`TreeHash::verify_inclusion`]; it can never collide with a
    /// [`TreeHash::node_hash`] output of the same tree thanks to the distinct
    /// one-byte prefix.
    pub fn leaf_hash(self, data: &[u8]) -> Hash {
        match self {
            TreeHash::Sha256 => {
                let mut hasher = Sha256::new();
                hasher.update([LEAF_PREFIX]);
                hasher.update(data);
                hasher.finalize().into()
            }
            TreeHash::LegacyBlake3 => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&[LEAF_PREFIX]);
                hasher.update(data);
                *hasher.finalize().as_bytes()
            }
        }
    }

    /// Returns the hash of an interior node: `H(0x01 || left || right)`.
    pub fn node_hash(self, left: &Hash, right: &Hash) -> Hash {
        match self {
            TreeHash::Sha256 => {
                let mut hasher = Sha256::new();
                hasher.update([NODE_PREFIX]);
                hasher.update(left);
                hasher.update(right);
                hasher.finalize().into()
            }
            TreeHash::LegacyBlake3 => {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&[NODE_PREFIX]);
                hasher.update(left);
                hasher.update(right);
                *hasher.finalize().as_bytes()
            }
        }
    }

    /// Returns the root (MTH) of the empty tree: `H("")`.
    pub fn empty_root(self) -> Hash {
        match self {
            TreeHash::Sha256 => Sha256::digest([]).into(),
            TreeHash::LegacyBlake3 => *blake3::hash(&[]).as_bytes(),
        }
    }
}

impl std::fmt::Display for TreeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Read access to stored perfect-subtree hashes.
///
/// `node(level, index)` must return the MTH of leaves
/// `[index << level, (index + 1) << level)` (level 0 = the leaf hash of leaf
/// `index`), `Ok(None)` if that node is not stored (for instance because the
/// subtree is not complete yet), or `Err` if the store itself failed.
/// Levels are always `< 64`. The functions of this module turn `Ok(None)` into
/// [`MerkleError::MissingNode`] and `Err(e)` into [`MerkleError::Store`].
pub trait NodeStore {
    /// Error reported by the underlying storage.
    type Error;

    /// Reads the hash of the perfect subtree `(level, index)`, if stored.
    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error>;
}

impl<S: NodeStore + ?Sized> NodeStore for &S {
    type Error = S::Error;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Self::Error> {
        (**self).node(level, index)
    }
}

/// Errors of the functions that read a [`NodeStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MerkleError<E> {
    /// The requested leaf index is not in the tree.
    #[error("leaf index {index} is out of range for a tree of {tree_size} leaves")]
    IndexOutOfRange {
        /// Requested leaf index.
        index: u64,
        /// Size of the tree the proof was requested for.
        tree_size: u64,
    },
    /// A consistency proof was requested from a larger to a smaller tree.
    #[error("invalid consistency request: old size {old_size} is larger than new size {new_size}")]
    InvalidSizes {
        /// Requested old tree size.
        old_size: u64,
        /// Requested new tree size.
        new_size: u64,
    },
    /// The leaf range `[start, end)` is not a subtree of any RFC 9162 tree
    /// (it is empty, reversed, or `start` is not a multiple of the smallest
    /// power of two `>= end - start`), so its hash is not defined or not
    /// computable from perfect nodes.
    #[error("leaf range [{start}, {end}) is not an aligned Merkle subtree")]
    UnalignedRange {
        /// First leaf of the range.
        start: u64,
        /// One past the last leaf of the range.
        end: u64,
    },
    /// The store has no hash for a node that the request needs (typically the
    /// requested tree size exceeds the number of leaves written).
    #[error("node store has no node at level {level}, index {index}")]
    MissingNode {
        /// Level of the missing node (0 = leaf).
        level: u8,
        /// Index of the missing node within its level.
        index: u64,
    },
    /// The store failed to read a node.
    #[error("node store read failed: {0}")]
    Store(#[source] E),
}

/// Reads one node, turning absence into [`MerkleError::MissingNode`].
fn read<S: NodeStore>(store: &S, level: u8, index: u64) -> Result<Hash, MerkleError<S::Error>> {
    store
        .node(level, index)
        .map_err(MerkleError::Store)?
        .ok_or(MerkleError::MissingNode { level, index })
}

/// Largest power of two strictly smaller than `n`; requires `n >= 2`.
pub(crate) fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Whether `[start, start + len)` (with `len >= 1`) is a range of the RFC
/// recursion: `start` is a multiple of the smallest power of two `>= len`.
fn is_aligned(start: u64, len: u64) -> bool {
    // ceil(log2(len)), in 0..=64.
    let align = 64 - (len - 1).leading_zeros();
    start == 0 || start.trailing_zeros() >= align
}

/// MTH of `[start, start + len)`, `len >= 1`, assuming [`is_aligned`]:
/// one read per set bit of `len`, folded right to left.
pub(crate) fn range_hash<S: NodeStore>(
    tree: TreeHash,
    store: &S,
    start: u64,
    len: u64,
) -> Result<Hash, MerkleError<S::Error>> {
    let mut chunks: Vec<Hash> = Vec::with_capacity(len.count_ones() as usize);
    let mut pos = start;
    for level in (0..64u8).rev() {
        if len & (1u64 << level) != 0 {
            chunks.push(read(store, level, pos >> level)?);
            pos = pos.wrapping_add(1u64 << level);
        }
    }
    Ok(fold_right(tree, &chunks))
}

/// Folds perfect-subtree roots (largest first) into one MTH:
/// `node(c0, node(c1, ... node(c_{k-2}, c_{k-1})))`; empty input gives the
/// empty root.
fn fold_right(tree: TreeHash, chunks: &[Hash]) -> Hash {
    let mut iter = chunks.iter().rev();
    let Some(last) = iter.next() else {
        return tree.empty_root();
    };
    iter.fold(*last, |acc, left| tree.node_hash(left, &acc))
}

impl TreeHash {
    /// Returns the MTH of leaves `[start, end)` using only stored perfect nodes.
    ///
    /// The range must be a subtree of the RFC 9162 structure: `start < end` and
    /// `start` a multiple of the smallest power of two `>= end - start` (every
    /// range that occurs in the recursion of a tree of any size satisfies this).
    /// Otherwise returns [`MerkleError::UnalignedRange`]. Costs one node read per
    /// set bit of `end - start` (at most 64).
    pub fn subtree_hash<S: NodeStore>(
        self,
        store: &S,
        start: u64,
        end: u64,
    ) -> Result<Hash, MerkleError<S::Error>> {
        if start >= end || !is_aligned(start, end - start) {
            return Err(MerkleError::UnalignedRange { start, end });
        }
        range_hash(self, store, start, end - start)
    }

    /// Returns the root (MTH) of the tree made of the first `size` leaves.
    ///
    /// `size == 0` gives [`TreeHash::empty_root`] without reading the store.
    /// Otherwise costs one node read per set bit of `size`; fails with
    /// [`MerkleError::MissingNode`] if fewer than `size` leaves are stored.
    pub fn root_at<S: NodeStore>(
        self,
        store: &S,
        size: u64,
    ) -> Result<Hash, MerkleError<S::Error>> {
        if size == 0 {
            return Ok(self.empty_root());
        }
        range_hash(self, store, 0, size)
    }
}

/// Returned by [`Frontier::push`] when the tree already holds `u64::MAX`
/// leaves and cannot grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Merkle tree is full: it already holds u64::MAX leaves")]
pub struct TreeFull;

/// A newly completed perfect node: `(level, index, hash)`, see [`NodeStore`].
pub type CompletedNode = (u8, u64, Hash);

/// Incremental builder held in memory by the writer: at most 64
/// perfect-subtree roots.
///
/// For a tree of `size` leaves the frontier holds one perfect-subtree root per
/// set bit of `size` (largest first), which is all that is needed to compute
/// the current root and to append. [`Frontier::push`] reports every node it
/// completes so the caller can persist them for a [`NodeStore`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    tree: TreeHash,
    size: u64,
    /// Roots of the perfect subtrees covering `[0, size)`, largest first;
    /// `roots[i]` has the level of the i-th set bit of `size` from the top.
    roots: Vec<Hash>,
}

impl Frontier {
    /// Returns the frontier of the empty tree hashed with `tree`.
    pub fn new(tree: TreeHash) -> Self {
        Self {
            tree,
            size: 0,
            roots: Vec::new(),
        }
    }

    /// The hash function of this tree.
    pub fn tree_hash(&self) -> TreeHash {
        self.tree
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes,
    /// with one read per set bit of `size` (at most 64).
    ///
    /// Fails with [`MerkleError::MissingNode`] if the store holds fewer than
    /// `size` leaves, or [`MerkleError::Store`] if a read fails.
    pub fn restore<S: NodeStore>(
        tree: TreeHash,
        store: &S,
        size: u64,
    ) -> Result<Self, MerkleError<S::Error>> {
        let mut roots = Vec::with_capacity(size.count_ones() as usize);
        let mut pos = 0u64;
        for level in (0..64u8).rev() {
            if size & (1u64 << level) != 0 {
                roots.push(read(store, level, pos >> level)?);
                pos = pos.wrapping_add(1u64 << level);
            }
        }
        Ok(Self { tree, size, roots })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one Merkle leaf hash (see [`TreeHash::leaf_hash`]) and returns every
    /// newly completed perfect node `(level, index, hash)`: the leaf itself
    /// (level 0, index = old size) first, then the nodes it completes in
    /// increasing level. Persisting all of them keeps a [`NodeStore`] complete.
    ///
    /// Fails with [`TreeFull`] (and leaves the frontier unchanged) only if the
    /// tree already holds `u64::MAX` leaves.
    pub fn push(&mut self, leaf: Hash) -> Result<Vec<CompletedNode>, TreeFull> {
        let mut out = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.push_into(leaf, &mut out)?;
        Ok(out)
    }

    /// Like [`Frontier::push`], but appends the completed nodes to `out`
    /// (which is not cleared) so the hot path can reuse one allocation.
    pub fn push_into(&mut self, leaf: Hash, out: &mut Vec<CompletedNode>) -> Result<(), TreeFull> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(TreeFull)?;
        out.push((0, index, leaf));
        let mut hash = leaf;
        // Each trailing one bit of the old size is a perfect subtree of the
        // same level as `hash` sitting just to its left: merge them.
        for level in 1..=index.trailing_ones() {
            // The trailing-ones roots are the last `trailing_ones` entries.
            let Some(left) = self.roots.pop() else {
                // Unreachable: `roots` has one entry per set bit of `size`.
                break;
            };
            hash = self.tree.node_hash(&left, &hash);
            // level <= 63 because `index < u64::MAX` has at most 63 trailing ones.
            out.push((level as u8, index >> level, hash));
        }
        self.roots.push(hash);
        self.size = new_size;
        Ok(())
    }

    /// Returns the root (MTH) of the current tree ([`TreeHash::empty_root`] if empty).
    pub fn root(&self) -> Hash {
        fold_right(self.tree, &self.roots)
    }
}

/// In-memory [`NodeStore`] built from leaves (for tests, tools that verify an
/// exported log, and small trees).
///
/// Stores every completed perfect node, i.e. about `2 n` hashes for `n`
/// leaves. Proofs and roots can be produced for every size `<= size()`.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` = `node(l, i)`.
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// Returns an empty tree hashed with `tree`.
    pub fn new(tree: TreeHash) -> Self {
        Self {
            levels: Vec::new(),
            frontier: Frontier::new(tree),
        }
    }

    /// The hash function of this tree.
    pub fn tree_hash(&self) -> TreeHash {
        self.frontier.tree_hash()
    }

    /// Appends one Merkle leaf hash (see [`TreeHash::leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        let mut completed = Vec::new();
        // A MemoryTree cannot reach u64::MAX leaves (memory would run out long
        // before), so TreeFull cannot happen; ignore it rather than panic.
        if self.frontier.push_into(leaf, &mut completed).is_err() {
            return;
        }
        for (level, _index, hash) in completed {
            let level = usize::from(level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            // Nodes of one level complete in index order, so `index` equals
            // the current length of the level.
            self.levels[level].push(hash);
        }
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Root (MTH) of the whole tree.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl Extend<Hash> for MemoryTree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, leaves: I) {
        for leaf in leaves {
            self.push(leaf);
        }
    }
}

/// Collects leaf hashes into a SHA-256 tree (the default [`TreeHash`]).
impl FromIterator<Hash> for MemoryTree {
    fn from_iter<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Self::default();
        tree.extend(leaves);
        tree
    }
}

impl NodeStore for MemoryTree {
    type Error = Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Infallible> {
        let found = self
            .levels
            .get(usize::from(level))
            .and_then(|nodes| usize::try_from(index).ok().and_then(|i| nodes.get(i)));
        Ok(found.copied())
    }
}
