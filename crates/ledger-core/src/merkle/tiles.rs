//! The read side of C2SP `tlog-tiles` (<https://c2sp.org/tlog-tiles>):
//! resource names, tiles of Merkle hashes read from a [`NodeStore`], and
//! entry bundles.
//!
//! A tile at level `L` and index `N` holds up to 256 consecutive hashes of
//! tree level `8 L`: hash `i` is the MTH of leaves
//! `[(N·256 + i)·256^L, (N·256 + i + 1)·256^L)`, i.e. the perfect node
//! `node(8 L, N·256 + i)` the writer already stores. A full tile has 256
//! hashes (8,192 bytes); a partial one `W < 256` and is named with `.p/W`.
//! Tiles are therefore read, never rebuilt, and a tile of a given width never
//! changes once the tree is large enough to hold it.
//!
//! An entry bundle `tile/entries/N[.p/W]` holds the leaf data of leaves
//! `N·256 .. N·256 + W`, each as `u16be(len) || data`. For a ledger the
//! leaf data is the record's 32-byte chain hash (docs/FORMAT.md §4), so every
//! entry is `0x00 0x20 || chain_hash`.

use super::{read, MerkleError, NodeStore};

/// Tree levels spanned by one tile.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile (and entries in a full bundle).
pub const TILE_WIDTH: u64 = 256;
/// Highest tile level a tree of at most `u64::MAX` leaves can have (its
/// hashes are tree level 56).
pub const MAX_TILE_LEVEL: u8 = 7;

/// What a tile resource holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// `tile/<L>/<N>`: Merkle hashes of tree level `8 L`.
    Hashes {
        /// Tile level `L`.
        level: u8,
    },
    /// `tile/entries/<N>`: leaf data, length-prefixed.
    Entries,
}

/// One tile or entry bundle, as named by a `tlog-tiles` path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Hashes or entries.
    pub kind: TileKind,
    /// Index `N` of the tile within its level.
    pub index: u64,
    /// Number of hashes or entries: 256 for a full tile, `1..=255` for a
    /// partial one.
    pub width: u16,
}

/// Why a path is not a `tlog-tiles` tile or entry bundle name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TilePathError {
    /// The path does not have the shape `tile/<L or entries>/<N>[.p/<W>]`
    /// with canonical numbers.
    #[error("not a tlog-tiles path: {detail}")]
    Malformed {
        /// What is wrong (never echoes the path).
        detail: &'static str,
    },
}

/// Why a tile cannot be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError<E> {
    /// The tile's last hash or entry lies beyond the tree size.
    #[error("tile {tile} is not in the tree of {tree_size} leaves")]
    NotInTree {
        /// The tile's path.
        tile: String,
        /// The tree size it was asked against.
        tree_size: u64,
    },
    /// A leaf's data is longer than the 65,535 bytes an entry bundle can frame.
    #[error("entry {index} has {len} bytes; an entry bundle frames at most 65535")]
    EntryTooLong {
        /// Leaf index.
        index: u64,
        /// Its length.
        len: usize,
    },
    /// Reading a node failed.
    #[error(transparent)]
    Merkle(#[from] MerkleError<E>),
}

fn malformed(detail: &'static str) -> TilePathError {
    TilePathError::Malformed { detail }
}

/// Encodes a tile index as `tlog-tiles` path elements: zero-padded groups of
/// three digits, all but the last prefixed with `x` (`1234067` →
/// `x001/x234/067`, `5` → `005`).
pub fn encode_index(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i < last {
                format!("x{g:03}")
            } else {
                format!("{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A decimal number with no sign and no leading zero (unless it is `0`).
fn canonical_decimal(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

impl Tile {
    /// The tile of `kind` at `index` as a tree of `tree_size` leaves has it:
    /// full if the tree covers all of it, partial with the hashes or entries
    /// that exist, `None` if it would be empty (or the level is above
    /// [`MAX_TILE_LEVEL`]).
    pub fn in_tree(kind: TileKind, index: u64, tree_size: u64) -> Option<Tile> {
        let level = match kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        };
        if level > MAX_TILE_LEVEL {
            return None;
        }
        // Hashes of this tree level that exist at `tree_size`.
        let hashes = tree_size >> (TILE_HEIGHT * u32::from(level));
        let first = index.checked_mul(TILE_WIDTH)?;
        let available = hashes.checked_sub(first)?;
        let width = available.min(TILE_WIDTH);
        (width > 0).then_some(Tile {
            kind,
            index,
            // width <= 256.
            width: width as u16,
        })
    }

    /// Whether the tile is full (256 hashes or entries).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The tile's path relative to the log's prefix, e.g.
    /// `tile/1/x001/x234/067.p/8` or `tile/entries/005`.
    pub fn path(&self) -> String {
        let mut out = match self.kind {
            TileKind::Hashes { level } => format!("tile/{level}/"),
            TileKind::Entries => "tile/entries/".to_string(),
        };
        out.push_str(&encode_index(self.index));
        if !self.is_full() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Parses a path as [`Tile::path`] writes it (relative to the prefix, no
    /// leading slash). Strict: only the canonical spelling is accepted (`L`
    /// in `0..=63` without leading zeros, three-digit groups with `x` on all
    /// but the last and no leading `x000` group, `W` in `1..=255` without
    /// leading zeros).
    pub fn parse(path: &str) -> Result<Tile, TilePathError> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(malformed("does not start with tile/"))?;
        let (kind_text, rest) = rest.split_once('/').ok_or(malformed("no tile index"))?;
        let kind = if kind_text == "entries" {
            TileKind::Entries
        } else {
            let level = canonical_decimal(kind_text)
                .filter(|l| *l <= 63)
                .ok_or(malformed("level is not a decimal in 0..=63"))?;
            // level <= 63.
            TileKind::Hashes { level: level as u8 }
        };
        let (index_text, width) = match rest.split_once(".p/") {
            None => (rest, TILE_WIDTH as u16),
            Some((index_text, width_text)) => {
                let width = canonical_decimal(width_text)
                    .filter(|w| (1..TILE_WIDTH).contains(w))
                    .ok_or(malformed("partial width is not a decimal in 1..=255"))?;
                // width < 256.
                (index_text, width as u16)
            }
        };
        let mut index = 0u64;
        let groups: Vec<&str> = index_text.split('/').collect();
        let last = groups.len() - 1;
        for (i, group) in groups.iter().enumerate() {
            let digits = if i < last {
                group
                    .strip_prefix('x')
                    .ok_or(malformed("an index group before the last lacks its x"))?
            } else {
                group
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed("an index group is not three digits"));
            }
            let value: u64 = digits
                .parse()
                .map_err(|_| malformed("an index group is not three digits"))?;
            index = index
                .checked_mul(1000)
                .and_then(|n| n.checked_add(value))
                .ok_or(malformed("index does not fit in 64 bits"))?;
        }
        let tile = Tile { kind, index, width };
        if encode_index(index) != index_text {
            return Err(malformed("index has a leading zero group"));
        }
        Ok(tile)
    }

    /// Leaf range `[start, end)` this tile's hashes or entries span.
    /// `None` if it does not fit in 64 bits.
    pub fn leaves(&self) -> Option<(u64, u64)> {
        let shift = match self.kind {
            TileKind::Hashes { level } if level <= MAX_TILE_LEVEL => TILE_HEIGHT * u32::from(level),
            TileKind::Hashes { .. } => return None,
            TileKind::Entries => 0,
        };
        let first = self.index.checked_mul(TILE_WIDTH)?;
        let last = first.checked_add(u64::from(self.width))?;
        Some((
            first.checked_mul(1u64 << shift)?,
            last.checked_mul(1u64 << shift)?,
        ))
    }
}

/// Reads the hashes of a Merkle tile from stored perfect nodes: the
/// concatenation of `node(8 L, N·256 + i)` for `i < width`, 32 bytes each.
///
/// Fails with [`TileError::NotInTree`] for an entry bundle, a level above
/// [`MAX_TILE_LEVEL`], or a tile whose last hash is not complete in the tree
/// of `tree_size` leaves; never reads past `tree_size`.
pub fn tile_hashes<S: NodeStore>(
    store: &S,
    tile: &Tile,
    tree_size: u64,
) -> Result<Vec<u8>, TileError<S::Error>> {
    let not_in_tree = || TileError::NotInTree {
        tile: tile.path(),
        tree_size,
    };
    let TileKind::Hashes { level } = tile.kind else {
        return Err(not_in_tree());
    };
    match tile.leaves() {
        Some((_, end)) if tile.width > 0 && u64::from(tile.width) <= TILE_WIDTH => {
            if end > tree_size {
                return Err(not_in_tree());
            }
        }
        _ => return Err(not_in_tree()),
    }
    // level <= 7 was checked by `leaves`, so the tree level is <= 56.
    let tree_level = (TILE_HEIGHT * u32::from(level)) as u8;
    let first = tile.index * TILE_WIDTH;
    let mut out = Vec::with_capacity(usize::from(tile.width) * 32);
    for i in 0..u64::from(tile.width) {
        out.extend_from_slice(&read(store, tree_level, first + i)?);
    }
    Ok(out)
}

/// Frames leaf data as an entry bundle: `u16be(len) || data` for each entry.
///
/// Fails with [`TileError::EntryTooLong`] (naming the entry's position in
/// the iteration, counted from `first_index`) if an entry exceeds 65,535
/// bytes.
pub fn encode_entry_bundle<'a, E>(
    first_index: u64,
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, TileError<E>> {
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong {
            index: first_index.saturating_add(i as u64),
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Splits an entry bundle into its entries; `None` if the framing does not
/// cover the bytes exactly.
pub fn decode_entry_bundle(bundle: &[u8]) -> Option<Vec<&[u8]>> {
    let mut entries = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return None;
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    Some(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Against the text of <https://c2sp.org/tlog-tiles> (C2SP/C2SP
    //! `tlog-tiles.md`): its path example, its tree-of-70,000 example, and
    //! its definition of tile hashes as MTHs of leaf ranges, computed here
    //! with a naive recursion over leaf hashes.
    use super::super::{MemoryTree, TreeHash};
    use super::*;
    use crate::Hash;

    const TREE: TreeHash = TreeHash::Sha256;

    fn naive_mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => TREE.empty_root(),
            1 => leaves[0],
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                TREE.node_hash(&naive_mth(&leaves[..k]), &naive_mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn tile_paths_follow_the_spec() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
        let tile = Tile {
            kind: TileKind::Hashes { level: 0 },
            index: 1_234_067,
            width: 256,
        };
        assert_eq!(tile.path(), "tile/0/x001/x234/067");
        let partial = Tile {
            kind: TileKind::Hashes { level: 1 },
            index: 1_234_067,
            width: 8,
        };
        assert_eq!(partial.path(), "tile/1/x001/x234/067.p/8");
        let bundle = Tile {
            kind: TileKind::Entries,
            index: 5,
            width: 255,
        };
        assert_eq!(bundle.path(), "tile/entries/005.p/255");
        for t in [tile, partial, bundle] {
            assert_eq!(Tile::parse(&t.path()).unwrap(), t);
        }
        assert_eq!(
            Tile::parse("tile/63/x018/x446/x744/x073/x709/x551/615")
                .unwrap()
                .index,
            u64::MAX
        );
        for bad in [
            "",
            "tile/",
            "tile/0",
            "tile/0/",
            "tile/00/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/0/5",
            "tile/0/0005",
            "tile/0/x000/005",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/08",
            "tile/0/000.p/",
            "tile/0/000/",
            "tile/entry/000",
            "tiles/0/000",
            "/tile/0/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/0/0a0",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tiles_of_a_tree_of_70000_match_the_spec_example() {
        let hashes = |level| TileKind::Hashes { level };
        let size = 70_000;
        for n in 0..273 {
            assert!(Tile::in_tree(hashes(0), n, size).unwrap().is_full());
        }
        assert_eq!(Tile::in_tree(hashes(0), 273, size).unwrap().width, 112);
        assert_eq!(Tile::in_tree(hashes(0), 274, size), None);
        assert!(Tile::in_tree(hashes(1), 0, size).unwrap().is_full());
        assert_eq!(Tile::in_tree(hashes(1), 1, size).unwrap().width, 17);
        assert_eq!(Tile::in_tree(hashes(1), 2, size), None);
        assert_eq!(Tile::in_tree(hashes(2), 0, size).unwrap().width, 1);
        assert_eq!(Tile::in_tree(hashes(3), 0, size), None);
        assert_eq!(
            Tile::in_tree(TileKind::Entries, 273, size).unwrap().width,
            112
        );
        // "a tree of size 256 will be represented by a full level 0 tile and
        // a partial level 1 tile of width 1".
        assert!(Tile::in_tree(hashes(0), 0, 256).unwrap().is_full());
        assert_eq!(Tile::in_tree(hashes(1), 0, 256).unwrap().width, 1);
        assert_eq!(Tile::in_tree(hashes(8), 0, u64::MAX), None);
    }

    #[test]
    fn tile_hashes_are_mths_of_their_leaf_ranges() {
        // Enough leaves for two full level-0 tiles, a partial one, and a
        // partial level-1 tile of width 2.
        let size = 2 * 256 + 77u64;
        let leaves: Vec<Hash> = (0..size)
            .map(|i| TREE.leaf_hash(&i.to_be_bytes()))
            .collect();
        let mut tree = MemoryTree::new(TREE);
        tree.extend(leaves.iter().copied());
        let split = |tile: Vec<u8>| -> Vec<Hash> {
            tile.chunks(32).map(|c| c.try_into().unwrap()).collect()
        };
        // Level 0: leaf hashes; the full ones hash to the level-1 tile.
        let mut level1 = Vec::new();
        for n in 0..3u64 {
            let tile = Tile::in_tree(TileKind::Hashes { level: 0 }, n, size).unwrap();
            let got = split(tile_hashes(&tree, &tile, size).unwrap());
            let range = (n * 256) as usize..((n * 256) as usize + usize::from(tile.width));
            assert_eq!(got, leaves[range].to_vec());
            if tile.is_full() {
                level1.push(naive_mth(&got));
            } else {
                assert_eq!(tile.width, 77);
            }
        }
        let tile = Tile::in_tree(TileKind::Hashes { level: 1 }, 0, size).unwrap();
        assert_eq!(tile.width, 2);
        assert_eq!(tile.path(), "tile/1/000.p/2");
        let got = split(tile_hashes(&tree, &tile, size).unwrap());
        assert_eq!(got, level1);
        // Each level-1 hash is the level-8 node over its 256 leaves.
        assert_eq!(got[0], naive_mth(&leaves[..256]));
        assert_eq!(Some(got[1]), tree.node(8, 1).unwrap());
        // A full tile of 8,192 bytes.
        let full = Tile::parse("tile/0/001").unwrap();
        assert_eq!(tile_hashes(&tree, &full, size).unwrap().len(), 8192);
        // Nothing past the tree size, nor a wider partial tile than exists.
        for path in [
            "tile/0/002",
            "tile/0/002.p/78",
            "tile/1/000",
            "tile/0/003.p/1",
            "tile/8/000.p/1",
        ] {
            let tile = Tile::parse(path).unwrap();
            assert!(
                matches!(
                    tile_hashes(&tree, &tile, size),
                    Err(TileError::NotInTree { .. })
                ),
                "{path}"
            );
        }
        // A smaller partial tile is the prefix of the bigger one.
        let small = Tile::parse("tile/0/002.p/5").unwrap();
        assert_eq!(
            split(tile_hashes(&tree, &small, size).unwrap()),
            leaves[512..517].to_vec()
        );
        // An old tree size cannot see newer tiles.
        assert!(tile_hashes(&tree, &full, 511).is_err());
    }

    #[test]
    fn entry_bundles_frame_entries_with_u16_lengths() {
        let entries: Vec<Vec<u8>> = vec![vec![], vec![7], vec![0xab; 300]];
        let bundle = encode_entry_bundle::<()>(0, entries.iter().map(|e| &e[..])).unwrap();
        assert_eq!(&bundle[..5], &[0, 0, 0, 1, 7]);
        assert_eq!(&bundle[5..7], &300u16.to_be_bytes());
        let back = decode_entry_bundle(&bundle).unwrap();
        assert_eq!(back, entries.iter().map(|e| &e[..]).collect::<Vec<_>>());
        assert!(decode_entry_bundle(&bundle[..bundle.len() - 1]).is_none());
        assert!(decode_entry_bundle(&[0]).is_none());
        let long = vec![0u8; 65_536];
        assert!(matches!(
            encode_entry_bundle::<()>(9, [&long[..]]),
            Err(TileError::EntryTooLong {
                index: 9,
                len: 65_536
            })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        /// Any tile that exists at any tree size (up to a bit over two
        /// level-1 tiles) is the run of MTHs the spec defines, and its path
        /// parses back to it.
        #[test]
        fn tiles_prop_match_the_definition(size in 1u64..(2 * 65_536 + 700), pick in 0u64..u64::MAX) {
            let (leaves, tree) = big_tree();
            let level = (pick % 3) as u8;
            let hashes_at_level = size >> (8 * u32::from(level));
            proptest::prop_assume!(hashes_at_level > 0);
            let index = (pick >> 8) % hashes_at_level.div_ceil(256);
            let tile = Tile::in_tree(TileKind::Hashes { level }, index, size).unwrap();
            proptest::prop_assert_eq!(Tile::parse(&tile.path()).unwrap(), tile);
            let got = tile_hashes(tree, &tile, size).unwrap();
            let span = 1u64 << (8 * u32::from(level));
            for (i, hash) in got.chunks(32).enumerate() {
                let start = ((index * 256 + i as u64) * span) as usize;
                let want = naive_mth(&leaves[start..start + span as usize]);
                proptest::prop_assert_eq!(hash, &want[..]);
            }
            // One hash more than exists is refused.
            if !tile.is_full() {
                let wider = Tile { width: tile.width + 1, ..tile };
                proptest::prop_assert!(tile_hashes(tree, &wider, size).is_err());
            }
        }
    }

    fn big_tree() -> &'static (Vec<Hash>, MemoryTree) {
        static TREE_OF: std::sync::OnceLock<(Vec<Hash>, MemoryTree)> = std::sync::OnceLock::new();
        TREE_OF.get_or_init(|| {
            let leaves: Vec<Hash> = (0..2 * 65_536 + 700u64)
                .map(|i| TREE.leaf_hash(&i.to_be_bytes()))
                .collect();
            let mut tree = MemoryTree::new(TREE);
            tree.extend(leaves.iter().copied());
            (leaves, tree)
        })
    }
}
