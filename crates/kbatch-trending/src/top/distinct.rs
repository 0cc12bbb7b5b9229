//! `distinct:PATH`'s exact sets, for every cell of a partial in one table.
//!
//! A set per cell of boxed strings costs an allocation per new value and, when a set grows, a
//! pointer chase per value to hash it again; with values that are mostly new (customer ids
//! over a million events) that was a third of `top`'s time per record. Here each (cell, value)
//! is one 32-byte entry of one open-addressing table: the value's first 16 bytes inline (all of
//! it, for the ids and codes users count), the rest in one shared byte arena, and the hash made
//! from the entry alone (plus the arena for long values), so growing never allocates per value.
//! Each cell's size is kept as values arrive: ranking reads it, and only shards and merges walk
//! the values.

use hashbrown::HashTable;

use crate::job::{fold, FOLD, SEED};

/// Bytes of a value kept inline.
const HEAD: usize = 16;

/// One (cell, value).
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The value's first bytes, little-endian, zero past its end.
    head: u128,
    cell: u32,
    len: u32,
    /// Where the bytes past the head start in the arena (values longer than [`HEAD`]).
    tail: u64,
}

/// Exact distinct values per cell (cells are numbered by the caller from 0).
#[derive(Debug, Clone, Default)]
pub(crate) struct DistinctSets {
    table: HashTable<Entry>,
    /// Bytes of long values past their heads.
    arena: Vec<u8>,
    /// Distinct values per cell.
    sizes: Vec<u64>,
}

fn head_of(value: &[u8]) -> u128 {
    let mut w = [0u8; HEAD];
    let k = value.len().min(HEAD);
    w[..k].copy_from_slice(&value[..k]);
    u128::from_le_bytes(w)
}

#[inline]
fn hash(head: u128, cell: u32, len: u32, tail: &[u8]) -> u64 {
    let h = fold(
        head as u64 ^ SEED,
        (head >> 64) as u64 ^ FOLD ^ (u64::from(cell) << 32 | u64::from(len)),
    );
    if tail.is_empty() {
        h
    } else {
        // Long values often share their first bytes (URLs): the rest must count too.
        tail.chunks(8).fold(h, |h, c| {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            fold(h ^ u64::from_le_bytes(w), FOLD)
        })
    }
}

impl DistinctSets {
    fn tail<'s>(arena: &'s [u8], e: &Entry) -> &'s [u8] {
        let n = (e.len as usize).saturating_sub(HEAD);
        &arena[e.tail as usize..e.tail as usize + n]
    }

    /// Add `value` to `cell`'s set; whether it was new there.
    #[inline]
    pub(crate) fn insert(&mut self, cell: u32, value: &[u8]) -> bool {
        let len = u32::try_from(value.len()).expect("a record value is shorter than 4 GiB");
        let head = head_of(value);
        let rest = value.get(HEAD..).unwrap_or_default();
        let h = hash(head, cell, len, rest);
        let arena = &self.arena;
        let entry = self.table.entry(
            h,
            |e| {
                e.head == head
                    && e.cell == cell
                    && e.len == len
                    && (rest.is_empty() || Self::tail(arena, e) == rest)
            },
            |e| hash(e.head, e.cell, e.len, Self::tail(arena, e)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(_) => false,
            hashbrown::hash_table::Entry::Vacant(v) => {
                let tail = self.arena.len() as u64;
                v.insert(Entry {
                    head,
                    cell,
                    len,
                    tail,
                });
                self.arena.extend_from_slice(rest);
                let c = cell as usize;
                if self.sizes.len() <= c {
                    self.sizes.resize(c + 1, 0);
                }
                self.sizes[c] += 1;
                true
            }
        }
    }

    /// Distinct values of `cell`.
    pub(crate) fn size(&self, cell: u32) -> u64 {
        self.sizes.get(cell as usize).copied().unwrap_or(0)
    }

    /// Every (cell, value), in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, Vec<u8>)> + '_ {
        self.table.iter().map(|e| {
            let mut v = e.head.to_le_bytes()[..(e.len as usize).min(HEAD)].to_vec();
            v.extend_from_slice(Self::tail(&self.arena, e));
            (e.cell, v)
        })
    }

    /// Each cell's values (index: cell), for shards.
    pub(crate) fn by_cell(&self) -> Vec<Vec<Vec<u8>>> {
        let mut out = vec![Vec::new(); self.sizes.len()];
        for (c, v) in self.iter() {
            out[c as usize].push(v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn sets_equal_a_reference_set_per_cell() {
        // Short, exactly 16, long values sharing prefixes, empty, zero bytes (a value that is
        // a prefix of another with zero bytes after must stay distinct), over a few cells.
        let values: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\0".to_vec(),
            b"\0\0".to_vec(),
            b"a".to_vec(),
            b"C00000001".to_vec(),
            b"0123456789abcdef".to_vec(),
            b"0123456789abcdef0".to_vec(),
            b"0123456789abcdef\0".to_vec(),
            b"https://shop.example/p/1?x=1".to_vec(),
            b"https://shop.example/p/1?x=2".to_vec(),
            b"https://shop.example/p/10?x=1".to_vec(),
            "Électroménager".as_bytes().to_vec(),
        ];
        let mut sets = DistinctSets::default();
        let mut reference: BTreeMap<u32, BTreeSet<Vec<u8>>> = BTreeMap::new();
        let mut x = 7u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let cell = ((x >> 33) % 5) as u32;
            let mut v = values[((x >> 40) as usize) % values.len()].clone();
            if (x >> 20).is_multiple_of(3) {
                // Many values, to make the table grow several times.
                v.extend_from_slice(&((x >> 45) % 3000).to_le_bytes()[..2]);
            }
            let new = reference.entry(cell).or_default().insert(v.clone());
            assert_eq!(sets.insert(cell, &v), new, "cell {cell}, value {v:?}");
        }
        for (cell, set) in &reference {
            assert_eq!(sets.size(*cell), set.len() as u64, "cell {cell}");
        }
        let by_cell = sets.by_cell();
        for (cell, set) in &reference {
            let got: BTreeSet<Vec<u8>> = by_cell[*cell as usize].iter().cloned().collect();
            assert_eq!(got.len(), by_cell[*cell as usize].len(), "no value twice");
            assert_eq!(&got, set, "cell {cell}");
        }
        assert_eq!(sets.size(99), 0);
    }
}
