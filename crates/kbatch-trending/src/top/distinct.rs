//! `distinct:PATH`'s exact sets, for every cell of a partial in one table.
//!
//! A set per cell of boxed strings cost an allocation per new value and, when a set grew, a
//! pointer chase per value to hash it again; with values that are mostly new (customer ids
//! over a million events) that was a third of `top`'s time per record. Here each (cell, value)
//! is one 32-byte slot of one open-addressing table (linear probing, at most half full): the
//! value's first 16 bytes inline (all of it, for the ids and codes users count), the rest in
//! one shared byte arena, and the hash kept in the slot, so growing never allocates per value
//! nor reads a value again. A short value's insert is deferred by one record: its slot is
//! prefetched when the value arrives and probed when the next one does, so the cache miss of
//! a table larger than the caches overlaps the next record's scan instead of stalling it.
//! Each cell's size is kept as values arrive; ranking reads it, shards and merges walk the
//! values.

use crate::job::{fold, FOLD, SEED};

/// Bytes of a value kept inline.
const HEAD: usize = 16;

/// A slot's `len` when it is empty.
const EMPTY: u32 = u32::MAX;

/// One (cell, value), or an empty slot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The value's first bytes, little-endian, zero past its end.
    head: u128,
    cell: u32,
    /// The value's length; [`EMPTY`] for an empty slot.
    len: u32,
    /// A value of at most [`HEAD`] bytes: its hash (a quick test before the compare); a
    /// longer one: where its bytes past the head start in the arena.
    extra: u64,
}

impl Entry {
    const VACANT: Entry = Entry {
        head: 0,
        cell: 0,
        len: EMPTY,
        extra: 0,
    };
}

/// Exact distinct values per cell (cells are numbered by the caller from 0).
#[derive(Debug, Clone)]
pub(crate) struct DistinctSets {
    /// A power of two in length, at most half full.
    slots: Vec<Entry>,
    filled: usize,
    /// Bytes of long values past their heads.
    arena: Vec<u8>,
    /// Distinct values per cell (the deferred insert not counted).
    sizes: Vec<u64>,
    /// A short value whose insert waits for the next one (its slot prefetched), with its hash.
    deferred: Option<(u64, Entry)>,
}

impl Default for DistinctSets {
    fn default() -> Self {
        DistinctSets {
            slots: vec![Entry::VACANT; 64],
            filled: 0,
            arena: Vec::new(),
            sizes: Vec::new(),
            deferred: None,
        }
    }
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

/// Ask the CPU to bring `slot`'s line into the cache (a hint; nothing is read).
#[inline(always)]
fn prefetch(slot: &Entry) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of every x86-64 CPU, and a prefetch is a hint that reads nothing
        // (the address is a live slot's in any case).
        unsafe { _mm_prefetch::<_MM_HINT_T0>((slot as *const Entry).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slot;
}

impl DistinctSets {
    fn tail<'s>(arena: &'s [u8], e: &Entry) -> &'s [u8] {
        if e.len as usize <= HEAD {
            return &[];
        }
        let at = e.extra as usize;
        &arena[at..at + e.len as usize - HEAD]
    }

    /// The slot holding `e` (hash `h`), or the empty slot where it would go.
    #[inline]
    fn probe(&self, h: u64, e: &Entry, tail: &[u8]) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.len == EMPTY
                || (s.head == e.head
                    && s.cell == e.cell
                    && s.len == e.len
                    && if tail.is_empty() {
                        s.extra == e.extra
                    } else {
                        Self::tail(&self.arena, s) == tail
                    })
            {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Put `e` (hash `h`, bytes past its head `tail`, already in the arena at `e.tail` if
    /// any) in its set; whether it was new.
    #[inline]
    fn place(&mut self, h: u64, e: Entry, tail: &[u8]) -> bool {
        let i = self.probe(h, &e, tail);
        if self.slots[i].len != EMPTY {
            return false;
        }
        self.slots[i] = e;
        self.filled += 1;
        let c = e.cell as usize;
        if self.sizes.len() <= c {
            self.sizes.resize(c + 1, 0);
        }
        self.sizes[c] += 1;
        if self.filled * 2 > self.slots.len() {
            self.grow();
        }
        true
    }

    /// Twice the slots (four times while small), every entry placed again by its kept hash.
    #[cold]
    fn grow(&mut self) {
        let n = self.slots.len() * if self.slots.len() < 1 << 16 { 4 } else { 2 };
        let old = std::mem::replace(&mut self.slots, vec![Entry::VACANT; n]);
        let mask = n - 1;
        for e in old.into_iter().filter(|e| e.len != EMPTY) {
            let h = if e.len as usize <= HEAD {
                e.extra
            } else {
                hash(e.head, e.cell, e.len, Self::tail(&self.arena, &e))
            };
            let mut i = h as usize & mask;
            while self.slots[i].len != EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = e;
        }
    }

    /// Complete the deferred insert, if any.
    #[inline]
    fn settle(&mut self) {
        if let Some((h, e)) = self.deferred.take() {
            self.place(h, e, &[]);
        }
    }

    /// Add `value` to `cell`'s set (a short value's insert completes with the next call, or
    /// with any read).
    #[inline]
    pub(crate) fn insert(&mut self, cell: u32, value: &[u8]) {
        let len = u32::try_from(value.len()).expect("a record value is shorter than 4 GiB");
        let head = head_of(value);
        let rest = value.get(HEAD..).unwrap_or_default();
        let h = hash(head, cell, len, rest);
        let mut e = Entry {
            head,
            cell,
            len,
            extra: h,
        };
        self.settle();
        if rest.is_empty() {
            prefetch(&self.slots[h as usize & (self.slots.len() - 1)]);
            self.deferred = Some((h, e));
            return;
        }
        let i = self.probe(h, &e, rest);
        if self.slots[i].len == EMPTY {
            e.extra = self.arena.len() as u64;
            self.arena.extend_from_slice(rest);
            self.place(h, e, rest);
        }
    }

    /// Whether the deferred value is new: it counts as if inserted.
    fn deferred_new(&self) -> Option<&Entry> {
        let (h, e) = self.deferred.as_ref()?;
        let i = self.probe(*h, e, &[]);
        (self.slots[i].len == EMPTY).then_some(e)
    }

    /// Distinct values of `cell`.
    pub(crate) fn size(&self, cell: u32) -> u64 {
        let waiting = self.deferred_new().is_some_and(|e| e.cell == cell);
        self.sizes.get(cell as usize).copied().unwrap_or(0) + u64::from(waiting)
    }

    /// Every (cell, value), in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, Vec<u8>)> + '_ {
        self.slots
            .iter()
            .filter(|e| e.len != EMPTY)
            .chain(self.deferred_new())
            .map(|e| {
                let mut v = e.head.to_le_bytes()[..(e.len as usize).min(HEAD)].to_vec();
                v.extend_from_slice(Self::tail(&self.arena, e));
                (e.cell, v)
            })
    }

    /// Each cell's values (index: cell), for shards.
    pub(crate) fn by_cell(&self) -> Vec<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for (c, v) in self.iter() {
            if out.len() <= c as usize {
                out.resize(c as usize + 1, Vec::new());
            }
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
            reference.entry(cell).or_default().insert(v.clone());
            sets.insert(cell, &v);
            // Every read sees the deferred insert too.
            let want = reference[&cell].len() as u64;
            assert_eq!(sets.size(cell), want, "cell {cell}, value {v:?}");
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

    /// A table of tens of MiB (grown many times): every value
    /// counted once per cell, however often it comes again.
    #[test]
    fn large_tables_count_each_value_once() {
        let mut sets = DistinctSets::default();
        for round in 0..2 {
            for i in 0..300_000u32 {
                let v = format!("C{:08}", i.wrapping_mul(2_654_435_761) % 100_000_000);
                sets.insert(i % 3, v.as_bytes());
            }
            for cell in 0..3 {
                assert_eq!(sets.size(cell), 100_000, "round {round}, cell {cell}");
            }
        }
        assert!(sets.slots.len() * std::mem::size_of::<Entry>() >= 16 << 20);
    }
}
