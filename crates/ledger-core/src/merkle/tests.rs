//! Tests of the Merkle module against a naive RFC 6962 §2.1 reference and
//! property tests, run once for each [`TreeHash`]; the legacy BLAKE3 tree
//! also against the known-answer vectors of `docs/tools/merkle_vectors.py`.
//! (The SHA-256 known-answer vectors from another implementation are in
//! `vectors.rs`.) Only the public API is used.
#![allow(clippy::unwrap_used)]

/// The RFC 6962 tree: the reference hashes with the `sha2` crate directly.
mod sha256 {
    use crate::Hash;
    use sha2::Digest as _;

    const TREE: TreeHash = TreeHash::Sha256;

    fn ref_hash(parts: &[&[u8]]) -> Hash {
        let mut h = sha2::Sha256::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }

    include!("tests_body.rs");
}

/// The tree of legacy ledgers: the reference hashes with `blake3` directly.
mod legacy_blake3 {
    use crate::Hash;

    const TREE: TreeHash = TreeHash::LegacyBlake3;

    fn ref_hash(parts: &[&[u8]]) -> Hash {
        let mut h = blake3::Hasher::new();
        for p in parts {
            h.update(p);
        }
        *h.finalize().as_bytes()
    }

    include!("tests_body.rs");

    fn hex32(s: &str) -> Hash {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).unwrap();
        out
    }

    // ---------------------------------------------------------------------------
    // Known-answer vectors, computed by docs/tools/merkle_vectors.py (Python +
    // the `blake3` PyPI package), independently of this crate.

    const KAT_EMPTY: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    const KAT_LEAF_0: &str = "b834e2ae08dfbfbb4cd6da11b95b34fc70dc87207273c0da6899ec8692058c21";
    const KAT_ROOTS: &[(u64, &str)] = &[
        (
            1,
            "b834e2ae08dfbfbb4cd6da11b95b34fc70dc87207273c0da6899ec8692058c21",
        ),
        (
            2,
            "c45bf937261cf78e02b98aabfb98f26c0f3401858c0c77d9864e874e0e251b67",
        ),
        (
            3,
            "be19508696c812def6108c4503574408c59430de97933156559c39f53433042a",
        ),
        (
            4,
            "2bc65c5de45c6b6edd48d741849e3ee1052b685f23e538626da46f656f67d72b",
        ),
        (
            5,
            "2db4f61608b3eb57ca2b7fdacde96503f91188a1fc2f98d22b4473c6f46b80f6",
        ),
        (
            7,
            "5b842134c59965fc29592f22474aa6f63ec16b154167b0b9d6e3a046b1f21f46",
        ),
        (
            8,
            "5f600aa07dc92c7fbbc031c609a4383f1d76bbc381232c53935ed856910ac587",
        ),
        (
            16,
            "8ff1279969db93b7b793d1603e21aa23dc6b3ad6d60eb62db2a65ab4002180a9",
        ),
        (
            100,
            "0a2d89eb5e49ac2924c49b321687d74c5e003ec52d463f7f3eb29531e0b83963",
        ),
    ];
    /// Inclusion proof of leaf 37 in the tree of 100 leaves.
    const KAT_INCLUSION_37_100: &[&str] = &[
        "261b3904ecd62d51abcd677e5ccf846d0346160e2de839825c4c1c22e0882565",
        "6c2d624d6b8186821579ca2fa2b111331a0e41e3d012a5fdfc797300ef1d2567",
        "5df43835e5b29feb90cf435cf235dce07cb9acb2b307dc0c0e5308f27a82665b",
        "2418a0b128b949b5f07649efa026d8db51b41d1473a4977876e0e4038339d288",
        "fba09c90fa615cb7f0c750a595f915eff3624848d999fffbd0b7e897656046ee",
        "2687b8a3f5fc60c54de10f261b7a3e01e1cf29c450c99b99d86b413b00cd5d61",
        "4574b62bc7825f00fcaea84843dd775b5920d90ae3db2783483b6ea398c260eb",
    ];
    /// Consistency proof from 7 to 100 leaves.
    const KAT_CONSISTENCY_7_100: &[&str] = &[
        "4bafac9924c00a2f15458b4e60a5336f716633b2c88f6a0eb904dd3cef26ff98",
        "23db752ef64235279b8efdca2297844ef0a488da6af909149e637dba3e070df0",
        "8b3cd4af3244661a5e07e018518df57df6b20b4b3bc2166bd5cb7b747415db9a",
        "2bc65c5de45c6b6edd48d741849e3ee1052b685f23e538626da46f656f67d72b",
        "3af25418e55ab96269e922dc5fe83f1b11db2e69902a4ab50aa061b5fee3727c",
        "dede58d0d974a4c6c0f8aff3b2655910eceeb1a4afdc50b5c08141d544cc70ef",
        "2886d20efafe298dd53060f12c1877056e4b96f2dea5a4522541e98836cd22ee",
        "4574b62bc7825f00fcaea84843dd775b5920d90ae3db2783483b6ea398c260eb",
    ];

    #[test]
    fn merkle_known_answer_vectors() {
        assert_eq!(TREE.empty_root(), hex32(KAT_EMPTY));
        let mut tree = MemoryTree::new(TREE);
        for i in 0..100 {
            tree.push(TREE.leaf_hash(&record(i)));
        }
        assert_eq!(tree.node(0, 0).unwrap(), Some(hex32(KAT_LEAF_0)));
        assert_eq!(TREE.root_at(&tree, 0).unwrap(), hex32(KAT_EMPTY));
        for &(n, root) in KAT_ROOTS {
            assert_eq!(
                TREE.root_at(&tree, n).unwrap(),
                hex32(root),
                "root of {n} leaves"
            );
        }
        assert_eq!(tree.root(), hex32(KAT_ROOTS[KAT_ROOTS.len() - 1].1));

        let root_100 = hex32(KAT_ROOTS[KAT_ROOTS.len() - 1].1);
        let root_7 = hex32(KAT_ROOTS[5].1);
        let incl = TREE.inclusion_proof(&tree, 37, 100).unwrap();
        let expected: Vec<Hash> = KAT_INCLUSION_37_100.iter().map(|h| hex32(h)).collect();
        assert_eq!(incl.path, expected);
        TREE.verify_inclusion(&TREE.leaf_hash(&record(37)), &incl, &root_100)
            .unwrap();

        let cons = TREE.consistency_proof(&tree, 7, 100).unwrap();
        let expected: Vec<Hash> = KAT_CONSISTENCY_7_100.iter().map(|h| hex32(h)).collect();
        assert_eq!(cons.path, expected);
        TREE.verify_consistency(&root_7, &root_100, &cons).unwrap();
    }
}
