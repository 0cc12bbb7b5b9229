//! `distinct:PATH`'s exact sets, for every cell of a partial together.
//!
//! Values counted distinct are mostly new (customer ids over a million events): a table
//! holding them all is larger than the caches, and probing it costs a cache and TLB miss per
//! new value even when prefetched (the one open-addressing table this replaces spent 265 ns
//! per new id alone, ~160 ns per event inside the job). So no structure larger than the
//! cache is probed per value:
//!
//! - each (cell, value) goes into a *front* table of at most 2^[`FRONT_BITS`] slots (128 KiB,
//!   kept in L2 while records stream past), which drops repeats among recent values;
//! - when the front is half full it is drained into one of 2^[`PART_BITS`] *parts* by the top
//!   bits of the hash: appends only, no probe;
//! - a part whose length has doubled since its repeats were last removed has them removed
//!   with an index table the size of the part (within the cache), so the parts hold at most
//!   about twice the distinct values whatever the number of records.
//!
//! The front is an *ordered* linear-probing table (Amble and Knuth): a slot's home is the top
//! bits of the hash and each cluster is kept sorted, so a drain reads the slots in hash order
//! and writes each part in one stretch, and growing the front is one pass. An entry is 32
//! bytes: a value of at most 16 bytes inline, a longer one in a shared arena (compacted when
//! repeats have left most of it dead), with the hash kept so nothing hashes a value twice.
//! [`DistinctSets::seal`] drains the front, removes the remaining repeats and counts each
//! cell; sizes and values are read only after it.

use std::cmp::Ordering;

use crate::job::{fold, FOLD, SEED};

/// Bytes of a value kept inline.
const HEAD: usize = 16;

/// A front slot's `len` when it is empty.
const EMPTY: u32 = u32::MAX;

/// The front's largest size: 2^12 slots of 32 bytes (larger fronts measured slower: 1 MiB
/// was evicted by the records streaming through the job).
const FRONT_BITS: u32 = 12;

/// The front's smallest size (most partials count few values).
const FRONT_MIN_BITS: u32 = 8;

/// Slots past the last home, so clusters never wrap; the last one stays empty.
const OVERFLOW: usize = 64;

/// One (cell, value) with its hash, or an empty front slot.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// A value of at most [`HEAD`] bytes: its bytes, little-endian, zero past its end; a longer
    /// one: where its bytes start in the arena.
    head: u128,
    hash: u64,
    cell: u32,
    /// The value's length; [`EMPTY`] for an empty front slot.
    len: u32,
}

impl Entry {
    const VACANT: Entry = Entry {
        head: 0,
        hash: 0,
        cell: 0,
        len: EMPTY,
    };

    fn bytes<'a>(&self, arena: &'a [u8]) -> &'a [u8] {
        let at = self.head as usize;
        &arena[at..at + self.len as usize]
    }

    /// The order of the front's clusters (and of a drain): by hash, then cell, length and bytes
    /// (equal only for the same value of the same cell).
    #[inline]
    fn cmp_in(&self, other: &Entry, arena: &[u8]) -> Ordering {
        self.hash
            .cmp(&other.hash)
            .then(self.cell.cmp(&other.cell))
            .then(self.len.cmp(&other.len))
            .then_with(|| {
                if self.len as usize <= HEAD {
                    self.head.cmp(&other.head)
                } else {
                    self.bytes(arena).cmp(other.bytes(arena))
                }
            })
    }
}

fn head_of(value: &[u8]) -> u128 {
    let mut w = [0u8; HEAD];
    w[..value.len()].copy_from_slice(value);
    u128::from_le_bytes(w)
}

/// A value's hash in its cell; the top bits place it in the front, so they must depend on
/// every byte (the fold's high half does).
#[inline]
fn hash(cell: u32, value: &[u8]) -> u64 {
    let len = value.len() as u64;
    let key = u64::from(cell) << 32 | len;
    if value.len() <= HEAD {
        let head = head_of(value);
        return fold(head as u64 ^ SEED, (head >> 64) as u64 ^ FOLD ^ key);
    }
    value.chunks(8).fold(key ^ SEED, |h, c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        fold(h ^ u64::from_le_bytes(w), FOLD)
    })
}

/// The ordered linear-probing table in front of the parts.
#[derive(Debug, Clone)]
struct Front {
    /// 2^bits homes and [`OVERFLOW`] more; every cluster sorted by [`Entry::cmp_in`].
    slots: Vec<Entry>,
    bits: u32,
    filled: usize,
}

impl Front {
    fn new(bits: u32) -> Front {
        Front {
            slots: vec![Entry::VACANT; (1 << bits) + OVERFLOW],
            bits,
            filled: 0,
        }
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    /// Put `e` in order; `Some(true)` if it was new, `Some(false)` if there already, `None`
    /// when its cluster would reach the last slot (drain, then insert again).
    #[inline]
    fn insert(&mut self, e: Entry, arena: &[u8]) -> Option<bool> {
        let mut i = self.home(e.hash);
        loop {
            let s = &self.slots[i];
            if s.len == EMPTY {
                break;
            }
            match s.cmp_in(&e, arena) {
                Ordering::Less => i += 1,
                Ordering::Equal => return Some(false),
                Ordering::Greater => break,
            }
        }
        let mut j = i;
        while self.slots[j].len != EMPTY {
            j += 1;
        }
        if j + 1 == self.slots.len() {
            return None;
        }
        self.slots.copy_within(i..j, i + 1);
        self.slots[i] = e;
        self.filled += 1;
        Some(true)
    }

    /// Whether inserting should first drain or grow.
    #[inline]
    fn is_half_full(&self) -> bool {
        self.filled * 2 >= 1 << self.bits
    }

    /// Its entries in order, the table left empty.
    fn drain_into(&mut self, out: &mut Vec<Entry>) {
        out.reserve(self.filled);
        for s in &mut self.slots {
            if s.len != EMPTY {
                out.push(*s);
                *s = Entry::VACANT;
            }
        }
        self.filled = 0;
    }

    /// A front of `bits` holding `entries` (sorted), placed in one pass; `None` if they
    /// would reach its last slot (hashes crowded at its end).
    fn holding(bits: u32, entries: &[Entry]) -> Option<Front> {
        let mut front = Front::new(bits);
        let mut next = 0;
        for e in entries {
            let i = front.home(e.hash).max(next);
            if i + 1 >= front.slots.len() {
                return None;
            }
            front.slots[i] = *e;
            next = i + 1;
        }
        front.filled = entries.len();
        Some(front)
    }
}

/// Exact distinct values per cell (cells are numbered by the caller from 0).
#[derive(Debug, Clone)]
pub(crate) struct DistinctSets {
    front: Front,
    /// Drained entries by the top [`PART_BITS`] bits of their hash (none until the first
    /// drain).
    parts: Vec<Part>,
    /// The index table of [`Part::dedupe`], kept between calls.
    scratch: Vec<u32>,
    /// The bytes of values longer than [`HEAD`].
    arena: Vec<u8>,
    /// The arena's length after its last compaction.
    arena_live: usize,
    /// Values per cell, when sealed (the front empty, every part without repeats).
    sizes: Option<Vec<u64>>,
}

/// Parts of the drained entries: 256, so that at 10⁷ distinct values a part's repeats are
/// still found with an index table within L2.
const PART_BITS: u32 = 8;

/// A part's repeats are removed when it has grown to twice its last count and this much more.
const PART_SLACK: usize = 256;

/// Entries drained from the front whose hashes share their top bits.
#[derive(Debug, Clone, Default)]
struct Part {
    entries: Vec<Entry>,
    /// Entries (all distinct) after the last [`Part::dedupe`].
    unique: usize,
}

impl Part {
    /// Remove repeats, keeping first occurrences in order, with an index table in `scratch`.
    fn dedupe(&mut self, arena: &[u8], scratch: &mut Vec<u32>) {
        const FREE: u32 = u32::MAX;
        let n = self.entries.len();
        let size = (2 * n).next_power_of_two();
        scratch.clear();
        scratch.resize(size, FREE);
        let mask = size - 1;
        let mut kept = 0;
        for r in 0..n {
            let e = self.entries[r];
            // The low bits: the top ones are the same for the whole part.
            let mut i = e.hash as usize & mask;
            loop {
                let s = scratch[i];
                if s == FREE {
                    scratch[i] = kept as u32;
                    self.entries[kept] = e;
                    kept += 1;
                    break;
                }
                if self.entries[s as usize].cmp_in(&e, arena) == Ordering::Equal {
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        self.entries.truncate(kept);
        self.unique = kept;
    }
}

impl Default for DistinctSets {
    fn default() -> Self {
        DistinctSets {
            front: Front::new(FRONT_MIN_BITS),
            parts: Vec::new(),
            scratch: Vec::new(),
            arena: Vec::new(),
            arena_live: 0,
            sizes: Some(Vec::new()),
        }
    }
}

impl DistinctSets {
    /// Add `value` to `cell`'s set.
    #[inline]
    pub(crate) fn insert(&mut self, cell: u32, value: &[u8]) {
        self.insert_hashed(cell, value, hash(cell, value));
    }

    #[inline]
    fn insert_hashed(&mut self, cell: u32, value: &[u8], hash: u64) {
        let len = u32::try_from(value.len()).expect("a record value is shorter than 4 GiB");
        self.sizes = None;
        loop {
            if self.front.is_half_full() {
                self.make_room();
            }
            // Appended only now: making room may compact the arena.
            let mark = self.arena.len();
            let head = if value.len() > HEAD {
                self.arena.extend_from_slice(value);
                mark as u128
            } else {
                head_of(value)
            };
            let e = Entry {
                head,
                hash,
                cell,
                len,
            };
            match self.front.insert(e, &self.arena) {
                Some(true) => return,
                Some(false) => {
                    self.arena.truncate(mark);
                    return;
                }
                None => {
                    self.arena.truncate(mark);
                    self.spill();
                }
            }
        }
    }

    /// A larger front while it is small, else the front drained into the parts.
    #[cold]
    fn make_room(&mut self) {
        if self.front.bits < FRONT_BITS {
            let mut entries = Vec::with_capacity(self.front.filled);
            self.front.drain_into(&mut entries);
            let bits = (self.front.bits + 2).min(FRONT_BITS);
            match Front::holding(bits, &entries) {
                Some(front) => self.front = front,
                None => {
                    self.front = Front::new(bits);
                    self.scatter(entries);
                }
            }
            return;
        }
        self.spill();
    }

    /// The front drained into the parts (in hash order, so each part is written in one
    /// stretch); then the repeats of parts that have doubled removed, and the arena compacted
    /// if repeats have left most of it dead.
    #[cold]
    fn spill(&mut self) {
        self.parts_mut();
        let parts = &mut self.parts;
        for s in &mut self.front.slots {
            if s.len != EMPTY {
                parts[(s.hash >> (64 - PART_BITS)) as usize]
                    .entries
                    .push(*s);
                *s = Entry::VACANT;
            }
        }
        self.front.filled = 0;
        self.tidy();
    }

    fn parts_mut(&mut self) -> &mut [Part] {
        if self.parts.is_empty() {
            self.parts = vec![Part::default(); 1 << PART_BITS];
        }
        &mut self.parts
    }

    /// `entries` into their parts, then [`Self::tidy`].
    fn scatter(&mut self, entries: Vec<Entry>) {
        let parts = self.parts_mut();
        for e in entries {
            parts[(e.hash >> (64 - PART_BITS)) as usize].entries.push(e);
        }
        self.tidy();
    }

    /// The repeats of parts that have doubled removed, and the arena compacted if repeats
    /// have left most of it dead.
    fn tidy(&mut self) {
        for part in &mut self.parts {
            if part.entries.len() >= 2 * part.unique + PART_SLACK {
                part.dedupe(&self.arena, &mut self.scratch);
            }
        }
        if self.arena.len() > 2 * self.arena_live + (1 << 20) {
            self.compact();
        }
    }

    /// Every part without repeats, and the arena holding only their values (the front must
    /// be empty).
    fn compact(&mut self) {
        debug_assert_eq!(self.front.filled, 0);
        let mut arena = Vec::new();
        for part in &mut self.parts {
            if part.entries.len() > part.unique {
                part.dedupe(&self.arena, &mut self.scratch);
            }
            for e in part.entries.iter_mut().filter(|e| e.len as usize > HEAD) {
                let at = arena.len();
                arena.extend_from_slice(e.bytes(&self.arena));
                e.head = at as u128;
            }
        }
        self.arena = arena;
        self.arena_live = self.arena.len();
    }

    /// The front drained, repeats removed and each cell counted: before [`Self::size`] and
    /// [`Self::iter`].
    pub(crate) fn seal(&mut self) {
        if self.sizes.is_some() {
            return;
        }
        self.spill();
        let mut sizes = Vec::new();
        for part in &mut self.parts {
            if part.entries.len() > part.unique {
                part.dedupe(&self.arena, &mut self.scratch);
            }
            for e in &part.entries {
                let c = e.cell as usize;
                if sizes.len() <= c {
                    sizes.resize(c + 1, 0);
                }
                sizes[c] += 1;
            }
        }
        self.scratch = Vec::new();
        self.sizes = Some(sizes);
    }

    fn sealed(&self) -> &[u64] {
        self.sizes
            .as_deref()
            .expect("distinct sets are sealed before they are read")
    }

    /// Distinct values of `cell` (sealed).
    pub(crate) fn size(&self, cell: u32) -> u64 {
        self.sealed().get(cell as usize).copied().unwrap_or(0)
    }

    /// Every (cell, value), in no particular order (sealed).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, Vec<u8>)> + '_ {
        self.sealed();
        self.parts.iter().flat_map(|p| &p.entries).map(|e| {
            let v = if e.len as usize > HEAD {
                e.bytes(&self.arena).to_vec()
            } else {
                e.head.to_le_bytes()[..e.len as usize].to_vec()
            };
            (e.cell, v)
        })
    }

    /// Each cell's values (index: cell), for shards (sealed).
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
            if x.is_multiple_of(1000) {
                // Sealing in the middle loses nothing and inserts go on after it.
                sets.seal();
                let want = reference[&cell].len() as u64;
                assert_eq!(sets.size(cell), want, "cell {cell}, value {v:?}");
            }
        }
        sets.seal();
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
            sets.seal();
            for cell in 0..3 {
                assert_eq!(sets.size(cell), 100_000, "round {round}, cell {cell}");
            }
        }
        assert_eq!(sets.iter().count(), 300_000);
    }
    fn reference_check(sets: &mut DistinctSets, reference: &BTreeMap<u32, BTreeSet<Vec<u8>>>) {
        sets.seal();
        let by_cell = sets.by_cell();
        for (cell, set) in reference {
            assert_eq!(sets.size(*cell), set.len() as u64, "cell {cell}");
            let got: BTreeSet<Vec<u8>> = by_cell[*cell as usize].iter().cloned().collect();
            assert_eq!(got.len(), by_cell[*cell as usize].len(), "no value twice");
            assert_eq!(&got, set, "cell {cell}");
        }
    }

    /// Values whose hashes are all equal (or crowd the front's last homes) are told apart by
    /// their bytes: clusters reach the front's end and spill early, parts hold equal hashes.
    #[test]
    fn equal_hashes_are_told_apart_by_the_values() {
        for fixed in [0u64, u64::MAX, 0x8000_0000_0000_0000] {
            let mut sets = DistinctSets::default();
            let mut reference: BTreeMap<u32, BTreeSet<Vec<u8>>> = BTreeMap::new();
            for round in 0..3 {
                for i in 0..700u32 {
                    let v = if i % 2 == 0 {
                        format!("v{i}").into_bytes()
                    } else {
                        format!("a long value past sixteen bytes, number {i}").into_bytes()
                    };
                    let cell = i % 3;
                    // Nearby hashes too, so the order within a cluster matters.
                    let h = fixed ^ u64::from(i % 5);
                    sets.insert_hashed(cell, &v, h);
                    reference.entry(cell).or_default().insert(v);
                }
                if round == 1 {
                    reference_check(&mut sets, &reference);
                }
            }
            reference_check(&mut sets, &reference);
        }
    }

    /// Far more distinct values than the front holds, each coming many times: counted once,
    /// and the parts hold at most about twice the distinct values (repeats are removed as
    /// they grow), long values' arena compacted likewise.
    #[test]
    fn repeats_beyond_the_front_are_dropped_as_the_parts_grow() {
        let distinct = 40_000u32;
        let mut sets = DistinctSets::default();
        let mut reference: BTreeMap<u32, BTreeSet<Vec<u8>>> = BTreeMap::new();
        let mut most_entries = 0;
        let mut most_arena = 0;
        for round in 0..8u32 {
            for i in 0..distinct {
                let k = (i.wrapping_mul(2_654_435_761) ^ round) % distinct;
                let v = if k.is_multiple_of(4) {
                    format!("https://shop.example/p/{k:08}?ref=mail").into_bytes()
                } else {
                    format!("C{k:08}").into_bytes()
                };
                sets.insert(k % 2, &v);
                reference.entry(k % 2).or_default().insert(v);
            }
            let entries: usize = sets.parts.iter().map(|p| p.entries.len()).sum();
            most_entries = most_entries.max(entries);
            most_arena = most_arena.max(sets.arena.len());
        }
        let slack = PART_SLACK << PART_BITS;
        assert!(
            most_entries <= 2 * distinct as usize + slack,
            "{most_entries} entries held for {distinct} distinct values"
        );
        let long_bytes = (distinct as usize / 4) * 38;
        assert!(
            most_arena <= 2 * long_bytes + (1 << 20) + (1 << 16),
            "arena of {most_arena} bytes for {long_bytes} bytes of long values"
        );
        reference_check(&mut sets, &reference);
    }

    /// Reading before sealing is a bug of the caller, never a wrong count.
    #[test]
    #[should_panic(expected = "sealed")]
    fn sizes_are_read_only_when_sealed() {
        let mut sets = DistinctSets::default();
        sets.insert(0, b"x");
        let _ = sets.size(0);
    }
}

#[cfg(test)]
mod bench {
    use super::*;

    /// The sets' speed on mostly new values, and their count checked:
    /// `cargo test --release -p kbatch-trending distinct_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn distinct_speed() {
        let mut x = 7u64;
        let vals: Vec<(u32, String)> = (0..800_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (
                    ((x >> 20) % 300) as u32,
                    format!("C{:08}", (x >> 33) % 100_000_000),
                )
            })
            .collect();
        let want: std::collections::HashSet<&(u32, String)> = vals.iter().collect();
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let mut sets = DistinctSets::default();
            for (c, v) in &vals {
                sets.insert(*c, v.as_bytes());
            }
            let ins = t.elapsed();
            sets.seal();
            assert_eq!(
                (0..300).map(|c| sets.size(c)).sum::<u64>(),
                want.len() as u64
            );
            eprintln!(
                "insert {:.1} ns/value, seal {:.1} ms, total {:.1} ns/value",
                ins.as_nanos() as f64 / 8e5,
                (t.elapsed() - ins).as_secs_f64() * 1e3,
                t.elapsed().as_nanos() as f64 / 8e5
            );
        }
    }
}
