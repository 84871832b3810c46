// Included by `tests.rs` once per tree hash, inside a module that defines
// `TREE` and `ref_hash` (the hash spelled out with its own crate).

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::merkle::*;

// ---------------------------------------------------------------------------
// Naive reference, straight from RFC 6962 §2.1 / RFC 9162 §2.1 (recursive on
// slices of leaf hashes, no stored nodes, no bit tricks).

fn ref_leaf(record_hash: &Hash) -> Hash {
    ref_hash(&[&[0u8], record_hash])
}

fn ref_node(l: &Hash, r: &Hash) -> Hash {
    ref_hash(&[&[1u8], l, r])
}

/// Largest power of two strictly smaller than n (n >= 2), by counting.
fn ref_split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn ref_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => ref_hash(&[]),
        1 => d[0],
        n => {
            let k = ref_split(n);
            ref_node(&ref_mth(&d[..k]), &ref_mth(&d[k..]))
        }
    }
}

fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() <= 1 {
        return vec![];
    }
    let k = ref_split(d.len());
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![ref_mth(d)] };
    }
    let k = ref_split(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn ref_consistency(m: usize, d: &[Hash]) -> Vec<Hash> {
    if m == 0 || m == d.len() {
        return vec![];
    }
    ref_subproof(m, d, true)
}

/// Shape of an inclusion proof in the RFC recursion: for each level from the
/// root down, whether the leaf is in the right half. Two (index, size) pairs
/// with the same shape give the same root expression in terms of the path.
fn ref_inclusion_shape(m: u64, n: u64) -> Vec<bool> {
    let (mut m, mut n) = (m as usize, n as usize);
    let mut shape = vec![];
    while n > 1 {
        let k = ref_split(n);
        if m < k {
            shape.push(false);
            n = k;
        } else {
            shape.push(true);
            m -= k;
            n -= k;
        }
    }
    shape
}

/// Shape of a consistency proof in the RFC SUBPROOF recursion.
fn ref_consistency_shape(m: u64, n: u64) -> Vec<u8> {
    let (mut m, mut n, mut b) = (m as usize, n as usize, true);
    let mut shape = vec![];
    if m == 0 || m == n {
        return vec![9];
    }
    loop {
        if m == n {
            shape.push(u8::from(b) + 2);
            return shape;
        }
        let k = ref_split(n);
        if m <= k {
            shape.push(0);
            n = k;
        } else {
            shape.push(1);
            m -= k;
            n -= k;
            b = false;
        }
    }
}

/// Chain hash of test leaf `i`: blake3 of `i` as 8 big-endian bytes.
fn record(i: u64) -> Hash {
    *blake3::hash(&i.to_be_bytes()).as_bytes()
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| ref_leaf(&record(i))).collect()
}

fn tree_of(leaves: &[Hash]) -> MemoryTree {
    let mut tree = MemoryTree::new(TREE);
    tree.extend(leaves.iter().copied());
    tree
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[(bit / 8) % 32] ^= 1 << (bit % 8);
    h
}


// ---------------------------------------------------------------------------
// Hashing primitives.

#[test]
fn merkle_primitives_match_rfc_rules() {
    assert_eq!(TREE.empty_root(), ref_hash(&[]));
    let r = record(7);
    assert_eq!(TREE.leaf_hash(&r), ref_leaf(&r));
    let (a, b) = (record(1), record(2));
    assert_eq!(TREE.node_hash(&a, &b), ref_node(&a, &b));
    assert_ne!(TREE.node_hash(&a, &b), TREE.node_hash(&b, &a));
    // Domain separation: a leaf over 32 bytes never equals a node over them.
    assert_ne!(TREE.leaf_hash(&a), ref_hash(&[&[1u8], &a]));
}

// ---------------------------------------------------------------------------
// Exhaustive comparison with the reference on small trees.

const MAX_INCLUSION: u64 = 300;
const MAX_CONSISTENCY: u64 = 130;

#[test]
fn merkle_roots_and_subtrees_match_reference() {
    let d = leaves(MAX_INCLUSION);
    let tree = tree_of(&d);
    assert_eq!(tree.size(), MAX_INCLUSION);
    assert_eq!(TREE.root_at(&tree, 0).unwrap(), TREE.empty_root());
    for n in 1..=MAX_INCLUSION {
        assert_eq!(
            TREE.root_at(&tree, n).unwrap(),
            ref_mth(&d[..n as usize]),
            "n={n}"
        );
    }
    // subtree_hash: defined exactly on the ranges of the RFC recursion.
    for start in 0..70u64 {
        for end in 0..=70u64 {
            let len = end.saturating_sub(start);
            let aligned = len > 0 && (start == 0 || start % len.next_power_of_two() == 0);
            match TREE.subtree_hash(&tree, start, end) {
                Ok(h) => {
                    assert!(aligned, "[{start},{end}) accepted");
                    assert_eq!(h, ref_mth(&d[start as usize..end as usize]));
                }
                Err(MerkleError::UnalignedRange { start: s, end: e }) => {
                    assert!(!aligned, "[{start},{end}) rejected");
                    assert_eq!((s, e), (start, end));
                }
                Err(e) => panic!("unexpected error {e}"),
            }
        }
    }
}

#[test]
fn merkle_inclusion_matches_reference_and_detects_tampering() {
    let d = leaves(MAX_INCLUSION + 1);
    let tree = tree_of(&d);
    let mut relabel_accepted = 0u32;
    for n in 1..=MAX_INCLUSION {
        let root = ref_mth(&d[..n as usize]);
        for i in 0..n {
            let proof = TREE.inclusion_proof(&tree, i, n).unwrap();
            assert_eq!((proof.index, proof.tree_size), (i, n));
            assert_eq!(
                proof.path,
                ref_path(i as usize, &d[..n as usize]),
                "i={i} n={n}"
            );
            let leaf = d[i as usize];
            TREE.verify_inclusion(&leaf, &proof, &root).unwrap();

            // Wrong leaf, wrong root.
            assert!(TREE.verify_inclusion(&flip(&leaf, i as usize), &proof, &root).is_err());
            assert!(matches!(
                TREE.verify_inclusion(&leaf, &proof, &flip(&root, 3)),
                Err(ProofError::RootMismatch { .. })
            ));
            // One flipped bit in each path element.
            for j in 0..proof.path.len() {
                let mut bad = proof.clone();
                bad.path[j] = flip(&bad.path[j], (i as usize * 31 + j * 7) % 256);
                assert!(matches!(
                    TREE.verify_inclusion(&leaf, &bad, &root),
                    Err(ProofError::RootMismatch { .. })
                ));
            }
            // Path too short / too long.
            let mut bad = proof.clone();
            bad.path.push(root);
            assert!(matches!(
                TREE.verify_inclusion(&leaf, &bad, &root),
                Err(ProofError::WrongPathLength { .. })
            ));
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                bad.path.pop();
                assert!(TREE.verify_inclusion(&leaf, &bad, &root).is_err());
            }
            // Relabeled index or size. The RFC hashing does not bind the
            // index or size into the root, so a relabeled proof verifies iff
            // it has exactly the same shape; otherwise it must fail.
            let relabels = [
                (i.wrapping_sub(1), n),
                (i + 1, n),
                (i ^ 1, n),
                (i, n - 1),
                (i, n + 1),
                (i, 2 * n),
            ];
            for (i2, n2) in relabels {
                if (i2, n2) == (i, n) {
                    continue;
                }
                let bad = InclusionProof {
                    index: i2,
                    tree_size: n2,
                    path: proof.path.clone(),
                };
                let same_shape =
                    i2 < n2 && ref_inclusion_shape(i2, n2) == ref_inclusion_shape(i, n);
                let res = TREE.verify_inclusion(&leaf, &bad, &root);
                assert_eq!(res.is_ok(), same_shape, "i={i} n={n} relabeled ({i2},{n2})");
                if same_shape {
                    assert_eq!(i2, i, "a different leaf index can never share a shape");
                }
                relabel_accepted += u32::from(same_shape);
            }
        }
    }
    // Only size relabelings can keep the shape (e.g. index 0 in 6 vs 7 leaves).
    assert!(relabel_accepted > 0);
}

#[test]
fn merkle_consistency_matches_reference_and_detects_tampering() {
    let d = leaves(MAX_CONSISTENCY + 1);
    let tree = tree_of(&d);
    let roots: Vec<Hash> = (0..=MAX_CONSISTENCY + 1)
        .map(|n| ref_mth(&d[..n as usize]))
        .collect();
    for n in 1..=MAX_CONSISTENCY {
        for m in 0..=n {
            let (old_root, new_root) = (roots[m as usize], roots[n as usize]);
            let proof = TREE.consistency_proof(&tree, m, n).unwrap();
            assert_eq!((proof.old_size, proof.new_size), (m, n));
            assert_eq!(
                proof.path,
                ref_consistency(m as usize, &d[..n as usize]),
                "m={m} n={n}"
            );
            TREE.verify_consistency(&old_root, &new_root, &proof).unwrap();

            // Wrong roots.
            assert!(TREE.verify_consistency(&flip(&old_root, 5), &new_root, &proof).is_err());
            if m > 0 {
                assert!(TREE.verify_consistency(&old_root, &flip(&new_root, 9), &proof).is_err());
            }
            // A different old tree of the same size.
            if m > 0 && m < n {
                assert!(TREE.verify_consistency(&roots[m as usize - 1], &new_root, &proof).is_err());
            }
            // One flipped bit in each path element.
            for j in 0..proof.path.len() {
                let mut bad = proof.clone();
                bad.path[j] = flip(&bad.path[j], (m as usize * 13 + j * 5) % 256);
                assert!(
                    TREE.verify_consistency(&old_root, &new_root, &bad).is_err(),
                    "m={m} n={n} j={j}"
                );
            }
            // Path too short / too long.
            let mut bad = proof.clone();
            bad.path.push(new_root);
            assert!(matches!(
                TREE.verify_consistency(&old_root, &new_root, &bad),
                Err(ProofError::WrongPathLength { .. })
            ));
            if !proof.path.is_empty() {
                let mut bad = proof.clone();
                bad.path.remove(0);
                assert!(TREE.verify_consistency(&old_root, &new_root, &bad).is_err());
            }
            // Relabeled sizes verify iff the proof has the same shape
            // (and the empty-tree / equal-size cases keep their own rules).
            for (m2, n2) in [(m.wrapping_sub(1), n), (m + 1, n), (m, n - 1), (m, n + 1)] {
                if (m2, n2) == (m, n) || m2 > n2 || m2 == u64::MAX {
                    continue;
                }
                let bad = ConsistencyProof {
                    old_size: m2,
                    new_size: n2,
                    path: proof.path.clone(),
                };
                let ok = TREE.verify_consistency(&old_root, &new_root, &bad).is_ok();
                let expect_ok = if m == 0 || m == n {
                    // Empty path: only valid for old size 0 with the empty root,
                    // or equal sizes with equal roots.
                    (m2 == 0 && m == 0) || (m2 == n2 && old_root == new_root)
                } else {
                    ref_consistency_shape(m2, n2) == ref_consistency_shape(m, n)
                };
                assert_eq!(ok, expect_ok, "m={m} n={n} relabeled ({m2},{n2})");
            }
        }
    }
    // Invalid sizes.
    let proof = ConsistencyProof {
        old_size: 5,
        new_size: 4,
        path: vec![],
    };
    assert_eq!(
        TREE.verify_consistency(&roots[5], &roots[4], &proof),
        Err(ProofError::InvalidSizes {
            old_size: 5,
            new_size: 4
        })
    );
}

// ---------------------------------------------------------------------------
// Frontier.

#[test]
fn merkle_frontier_matches_reference_and_restore() {
    let d = leaves(MAX_INCLUSION);
    let mut store = MemoryTree::new(TREE);
    let mut frontier = Frontier::new(TREE);
    assert_eq!(frontier.root(), TREE.empty_root());
    assert_eq!(Frontier::restore(TREE, &store, 0).unwrap(), frontier);
    let mut emitted = 0u64;
    for (i, leaf) in d.iter().enumerate() {
        let i = i as u64;
        let nodes = frontier.push(*leaf).unwrap();
        store.push(*leaf);
        assert_eq!(nodes[0], (0, i, *leaf));
        // Leaf first, then increasing levels; each node is a correct perfect
        // subtree hash, and exactly the nodes completed by this leaf.
        assert_eq!(nodes.len() as u32, 1 + i.trailing_ones());
        for (k, &(level, index, hash)) in nodes.iter().enumerate() {
            assert_eq!(usize::from(level), k);
            assert_eq!((index + 1) << level, i + 1);
            let range = (index << level) as usize..((index + 1) << level) as usize;
            assert_eq!(hash, ref_mth(&d[range]));
            assert_eq!(store.node(level, index).unwrap(), Some(hash));
        }
        emitted += nodes.len() as u64;
        let n = i + 1;
        assert_eq!(frontier.size(), n);
        assert_eq!(frontier.root(), ref_mth(&d[..n as usize]), "n={n}");
        assert_eq!(store.root(), frontier.root());
        let restored = Frontier::restore(TREE, &store, n).unwrap();
        assert_eq!(restored, frontier, "restore at {n}");
    }
    // A perfect-subtree node per leaf plus one per interior perfect node.
    assert_eq!(
        emitted,
        2 * MAX_INCLUSION - u64::from(MAX_INCLUSION.count_ones())
    );

    // Restoring at an old size and pushing again yields the same nodes.
    for n in 0..40u64 {
        let mut a = Frontier::restore(TREE, &store, n).unwrap();
        let mut b = Frontier::new(TREE);
        for leaf in &d[..n as usize] {
            b.push(*leaf).unwrap();
        }
        let mut out_a = Vec::new();
        let mut out_b = Vec::new();
        for leaf in &d[n as usize..n as usize + 20] {
            a.push_into(*leaf, &mut out_a).unwrap();
            b.push_into(*leaf, &mut out_b).unwrap();
        }
        assert_eq!(out_a, out_b);
        assert_eq!(a.root(), b.root());
    }
    // Restore beyond what is stored.
    assert!(matches!(
        Frontier::restore(TREE, &store, MAX_INCLUSION + 1),
        Err(MerkleError::MissingNode { level: 0, index }) if index == MAX_INCLUSION
    ));
}

// ---------------------------------------------------------------------------
// Errors from the generators.

/// Store whose reads fail beyond a given leaf count, counting reads.
struct FailingStore<'a> {
    inner: &'a MemoryTree,
    reads: Cell<u64>,
}

impl NodeStore for FailingStore<'_> {
    type Error = String;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, String> {
        self.reads.set(self.reads.get() + 1);
        match self.inner.node(level, index) {
            Ok(Some(h)) => Ok(Some(h)),
            Ok(None) => Err(format!("disk error at ({level}, {index})")),
            Err(e) => match e {},
        }
    }
}

#[test]
fn merkle_generator_errors() {
    let tree = tree_of(&leaves(10));
    assert!(matches!(
        TREE.inclusion_proof(&tree, 10, 10),
        Err(MerkleError::IndexOutOfRange {
            index: 10,
            tree_size: 10
        })
    ));
    assert!(matches!(
        TREE.inclusion_proof(&tree, 0, 0),
        Err(MerkleError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        TREE.inclusion_proof(&tree, 3, 11),
        Err(MerkleError::MissingNode { .. })
    ));
    assert!(matches!(
        TREE.root_at(&tree, 11),
        Err(MerkleError::MissingNode { .. })
    ));
    assert!(matches!(
        TREE.consistency_proof(&tree, 4, 3),
        Err(MerkleError::InvalidSizes {
            old_size: 4,
            new_size: 3
        })
    ));
    for (m, n) in [(0, 11), (11, 11), (5, 11), (10, 11)] {
        assert!(
            matches!(
                TREE.consistency_proof(&tree, m, n),
                Err(MerkleError::MissingNode { .. })
            ),
            "({m},{n})"
        );
    }
    assert!(TREE.consistency_proof(&tree, 0, 0).unwrap().path.is_empty());
    assert!(TREE.consistency_proof(&tree, 0, 10).unwrap().path.is_empty());
    assert!(TREE.consistency_proof(&tree, 10, 10).unwrap().path.is_empty());

    let failing = FailingStore {
        inner: &tree,
        reads: Cell::new(0),
    };
    let err = TREE.inclusion_proof(&failing, 2, 12).unwrap_err();
    assert!(matches!(err, MerkleError::Store(ref s) if s.contains("disk error")));
    assert!(err.to_string().contains("disk error"), "{err}");

    // Messages say what and where.
    let msg = MerkleError::<Infallible>::IndexOutOfRange {
        index: 7,
        tree_size: 3,
    }
    .to_string();
    assert!(msg.contains('7') && msg.contains('3'), "{msg}");
    let msg = ProofError::RootMismatch {
        expected: [0xab; 32],
        computed: [0xcd; 32],
    }
    .to_string();
    assert!(
        msg.contains(&"ab".repeat(32)) && msg.contains(&"cd".repeat(32)),
        "{msg}"
    );
}

#[test]
fn merkle_proofs_serde_round_trip() {
    let tree = tree_of(&leaves(21));
    let incl = TREE.inclusion_proof(&tree, 13, 21).unwrap();
    let cons = TREE.consistency_proof(&tree, 5, 21).unwrap();
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&incl, config).unwrap();
    let (back, _): (InclusionProof, usize) =
        bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, incl);
    let bytes = bincode::serde::encode_to_vec(&cons, config).unwrap();
    let (back, _): (ConsistencyProof, usize) =
        bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!(back, cons);
}

// ---------------------------------------------------------------------------
// Large trees: O(log n) reads and no arithmetic overflow up to u64::MAX.

/// A consistent synthetic tree of `size` identical leaves: node(level, _) is
/// the same for every index, so any size up to u64::MAX can be served.
struct UniformStore {
    size: u64,
    levels: Vec<Hash>,
    reads: Cell<u64>,
}

impl UniformStore {
    fn new(size: u64) -> Self {
        let mut levels = vec![TREE.leaf_hash(&[7; 32])];
        for l in 1..64 {
            let h = levels[l - 1];
            levels.push(ref_node(&h, &h));
        }
        Self {
            size,
            levels,
            reads: Cell::new(0),
        }
    }
}

impl NodeStore for UniformStore {
    type Error = Infallible;

    fn node(&self, level: u8, index: u64) -> Result<Option<Hash>, Infallible> {
        self.reads.set(self.reads.get() + 1);
        let end = (u128::from(index) + 1) << level;
        Ok((end <= u128::from(self.size)).then(|| self.levels[usize::from(level)]))
    }
}

#[test]
fn merkle_large_trees_cost_log_reads() {
    for size in [10_000_000u64, (1 << 40) + 12345, u64::MAX - 1, u64::MAX] {
        let store = UniformStore::new(size);
        let leaf = store.levels[0];
        let root = TREE.root_at(&store, size).unwrap();
        assert!(store.reads.take() <= 64);
        let frontier = Frontier::restore(TREE, &store, size).unwrap();
        assert_eq!(frontier.root(), root);
        store.reads.take();
        for index in [0, 1, size / 3, size / 2, size - 2, size - 1] {
            let proof = TREE.inclusion_proof(&store, index, size).unwrap();
            assert!(store.reads.take() <= 128, "index {index} size {size}");
            TREE.verify_inclusion(&leaf, &proof, &root).unwrap();
        }
        for old in [1, 2, 3, 1 << 20, size / 2 + 1, size - 1, size] {
            let old_root = TREE.root_at(&store, old).unwrap();
            store.reads.take();
            let proof = TREE.consistency_proof(&store, old, size).unwrap();
            assert!(store.reads.take() <= 128, "old {old} size {size}");
            TREE.verify_consistency(&old_root, &root, &proof).unwrap();
        }
    }
    // Frontier at u64::MAX leaves cannot grow.
    let store = UniformStore::new(u64::MAX);
    let mut full = Frontier::restore(TREE, &store, u64::MAX).unwrap();
    let before = full.clone();
    assert_eq!(full.push([0; 32]), Err(TreeFull));
    assert_eq!(full, before);
    let mut almost = Frontier::restore(TREE, &store, u64::MAX - 1).unwrap();
    let nodes = almost.push(store.levels[0]).unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(almost.root(), before.root());
}

#[test]
fn merkle_verifiers_survive_extreme_inputs() {
    let h = [0x5a; 32];
    for tree_size in [0, 1, 2, u64::MAX - 1, u64::MAX] {
        for index in [
            0,
            1,
            tree_size / 2,
            tree_size.wrapping_sub(1),
            tree_size,
            u64::MAX,
        ] {
            for len in [0usize, 1, 2, 63, 64, 65, 200] {
                let proof = InclusionProof {
                    index,
                    tree_size,
                    path: vec![h; len],
                };
                let _ = TREE.verify_inclusion(&h, &proof, &h);
            }
        }
        for old in [
            0,
            1,
            2,
            tree_size / 2,
            tree_size.wrapping_sub(1),
            tree_size,
            u64::MAX,
        ] {
            for len in [0usize, 1, 2, 63, 64, 65, 200] {
                let proof = ConsistencyProof {
                    old_size: old,
                    new_size: tree_size,
                    path: vec![h; len],
                };
                let _ = TREE.verify_consistency(&h, &h, &proof);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Property tests on a 100 000-leaf tree.

const BIG: u64 = 100_000;

fn big() -> &'static (Vec<Hash>, MemoryTree) {
    static BIG_TREE: OnceLock<(Vec<Hash>, MemoryTree)> = OnceLock::new();
    BIG_TREE.get_or_init(|| {
        let d = leaves(BIG);
        let t = tree_of(&d);
        (d, t)
    })
}

fn any_size() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        0u64..300,
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn merkle_prop_big_inclusion_round_trip(n in 1..=BIG, seed in any::<u64>()) {
        let (d, tree) = big();
        let i = seed % n;
        let root = TREE.root_at(tree, n).unwrap();
        prop_assert_eq!(root, ref_mth(&d[..n as usize]));
        let proof = TREE.inclusion_proof(tree, i, n).unwrap();
        prop_assert_eq!(&proof.path, &ref_path(i as usize, &d[..n as usize]));
        prop_assert!(TREE.verify_inclusion(&d[i as usize], &proof, &root).is_ok());
        let other = (i + 1 + seed % (n.max(2) - 1)) % n;
        if other != i {
            prop_assert!(TREE.verify_inclusion(&d[other as usize], &proof, &root).is_err());
        }
    }

    #[test]
    fn merkle_prop_big_consistency_round_trip(n in 1..=BIG, seed in any::<u64>()) {
        let (d, tree) = big();
        let m = seed % (n + 1);
        let (old_root, new_root) = (TREE.root_at(tree, m).unwrap(), TREE.root_at(tree, n).unwrap());
        let proof = TREE.consistency_proof(tree, m, n).unwrap();
        prop_assert_eq!(&proof.path, &ref_consistency(m as usize, &d[..n as usize]));
        prop_assert!(TREE.verify_consistency(&old_root, &new_root, &proof).is_ok());
        if m > 0 && m < n {
            let mut bad = proof.clone();
            let j = (seed as usize) % bad.path.len();
            bad.path[j] = flip(&bad.path[j], seed as usize);
            prop_assert!(TREE.verify_consistency(&old_root, &new_root, &bad).is_err());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn merkle_prop_random_proofs_never_panic(
        index in any_size(),
        size in any_size(),
        path in proptest::collection::vec(any::<[u8; 32]>(), 0..80),
        leaf in any::<[u8; 32]>(),
        root in any::<[u8; 32]>(),
    ) {
        let incl = InclusionProof { index, tree_size: size, path: path.clone() };
        let _ = TREE.verify_inclusion(&leaf, &incl, &root);
        let cons = ConsistencyProof { old_size: index, new_size: size, path };
        let _ = TREE.verify_consistency(&leaf, &root, &cons);
    }
}
