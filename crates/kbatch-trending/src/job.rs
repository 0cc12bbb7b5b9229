//! The trending job on the engine: per-worker partials counting (category, product) pairs
//! under their unescaped bytes; one merge (strings are the common language of two partials);
//! ranking at `finish`.

use hashbrown::HashTable;
use kbatch_engine::{Job, JobError, PartitionStats};
use kbatch_records::Record;

use crate::extract::{Extractor, Invalid};
use crate::invalids::{Invalids, PartitionInvalid};
use crate::report::{rank, PartitionReport, Report};

pub(crate) const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
/// 2^64 / golden ratio, odd: spreads the fold's input over the whole 128-bit product.
pub(crate) const FOLD: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(SEED)
}

#[inline]
fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[inline]
fn half(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()))
}

/// Absorb one string: FxHash's rotate-xor-multiply per 8-byte word, the last 1–8 bytes read
/// with two overlapping loads instead of a copy into a padded word (for a given length the
/// loads cover every byte, so equal-length strings still hash every byte), then the length.
/// Only for the bytes of strings beyond a [`Key`]'s head.
#[inline]
fn absorb(mut h: u64, b: &[u8]) -> u64 {
    let n = b.len();
    let mut i = 0;
    while i + 8 < n {
        h = mix(h, word(b, i));
        i += 8;
    }
    let rest = n - i;
    let tail = if rest >= 4 {
        half(b, i) | half(b, n - 4) << 32
    } else if rest > 0 {
        u64::from(b[i]) | u64::from(b[i + rest / 2]) << 8 | u64::from(b[n - 1]) << 16
    } else {
        0
    };
    mix(mix(h, tail), n as u64)
}

/// The high and low halves of the 128-bit product, folded: every input bit reaches the low
/// bits, which hashbrown uses to pick a bucket (a plain multiply only carries bits upwards, so
/// the changing last digits of `PD000123`-style ids would never reach them).
#[inline]
pub(crate) fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

/// Bytes in a [`Key`]'s head.
const HEAD: usize = 16;

/// `KEEP[n]`: the low `n` bytes of a head set (a load, where a shift by a length-dependent
/// amount needs a special case for 0).
const KEEP: [u128; HEAD + 1] = {
    let mut k = [0u128; HEAD + 1];
    let mut n = 1;
    while n <= HEAD {
        k[n] = u128::MAX >> (128 - 8 * n);
        n += 1;
    }
    k
};

/// A string as the table compares it: its first 16 bytes as one zero-padded number (with the
/// length, equal heads mean equal strings of up to 16 bytes, which categories and product ids
/// are), and the string itself for longer ones and for storing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a> {
    head: u128,
    bytes: &'a [u8],
}

impl<'a> Key<'a> {
    /// The key of `s`, which usually lies inside `buf` (the record value the extractor
    /// borrowed it from): then its head is one 16-byte load from `buf`, masked to its length,
    /// with no branch on the length (it varies from record to record, and the predictor would
    /// miss). Strings near the value's end, or not inside it (unescaped copies), are copied
    /// into a padded head instead.
    #[inline]
    pub(crate) fn within(buf: &[u8], s: &'a [u8]) -> Key<'a> {
        let n = s.len();
        // Where `s` starts in `buf`, if it does: allocations do not overlap, so a start inside
        // `buf` and an end not beyond it mean `s` is those bytes of `buf`.
        let at = (s.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        let window = buf.get(at..).filter(|rest| n <= rest.len());
        let head = match window.and_then(|rest| rest.first_chunk::<HEAD>()) {
            Some(w) => u128::from_le_bytes(*w) & KEEP[n.min(HEAD)],
            None => {
                let mut w = [0u8; HEAD];
                let k = n.min(HEAD);
                w[..k].copy_from_slice(&s[..k]);
                u128::from_le_bytes(w)
            }
        };
        Key { head, bytes: s }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// The hash of a (category, product) pair from its keys: the heads' halves crossed in two
/// independent folded multiplies (no chain from word to word), the lengths mixed in, the bytes
/// of longer strings beyond their heads absorbed, and the two results folded together.
#[inline]
fn key_hash(c: &Key<'_>, p: &Key<'_>) -> u64 {
    let lens = c.len() as u64 | (p.len() as u64) << 32;
    let a = fold(c.head as u64 ^ SEED, p.head as u64 ^ FOLD);
    let b = fold(
        (c.head >> 64) as u64 ^ FOLD.rotate_left(23),
        (p.head >> 64) as u64 ^ lens ^ SEED.rotate_left(41),
    );
    let mut h = b;
    if c.len() > HEAD || p.len() > HEAD {
        h = absorb(
            absorb(h, &c.bytes[HEAD.min(c.len())..]),
            &p.bytes[HEAD.min(p.len())..],
        );
    }
    // Both factors vary with the key here: a multiply by a constant alone spreads ids that
    // differ in a few digits over too few low bits.
    fold(a ^ SEED.rotate_left(7), h ^ FOLD.rotate_left(53))
}

/// The hash of a (category, product) pair, as the table computes it.
pub fn pair_hash(category: &[u8], product: &[u8]) -> u64 {
    key_hash(
        &Key::within(category, category),
        &Key::within(product, product),
    )
}

/// A counted (category, product) pair: the keys' heads and lengths kept in the entry so a
/// probe compares numbers (no pointer to follow, no loop over bytes for strings of up to 16
/// bytes); both strings in one allocation. 64 bytes: no stored hash (hashbrown's 7-bit tag
/// already rejects most other pairs, and growing the table, which rehashes, is rare), and the
/// heads as `u64`s so no 16-byte alignment pads the entry.
///
/// Generic over what is counted (`V`): trending counts views (`u64`); `top` keeps any metric's
/// state per (group, item) in the same table.
#[derive(Debug, Clone)]
pub(crate) struct Pair<V = u64> {
    /// The category's head, then the product's (low half first).
    heads: [u64; 4],
    /// The category's length, then the product's in the high half.
    lens: u64,
    views: V,
    /// The category's unescaped bytes, then the product's.
    bytes: Box<[u8]>,
}

impl<V> Pair<V> {
    fn split(&self) -> usize {
        (self.lens & 0xFFFF_FFFF) as usize
    }

    fn category(&self) -> &[u8] {
        &self.bytes[..self.split()]
    }

    fn product(&self) -> &[u8] {
        &self.bytes[self.split()..]
    }

    /// The hash of the pair, again (for the table when it grows).
    fn hash(&self) -> u64 {
        let head = |lo: u64, hi: u64| u128::from(lo) | u128::from(hi) << 64;
        key_hash(
            &Key {
                head: head(self.heads[0], self.heads[1]),
                bytes: self.category(),
            },
            &Key {
                head: head(self.heads[2], self.heads[3]),
                bytes: self.product(),
            },
        )
    }
}

/// One worker's aggregation state.
///
/// Each (category, product) pair is one entry of one hash table, with its count: a record
/// costs one hash of its two strings and one probe, with no copy and no allocation when the
/// pair was seen before (the probe compares the record's borrowed bytes). Interning category
/// and product separately to ids and counting by the id pair would cost three probes per
/// record for the same result, since ranking needs the strings anyway.
#[derive(Debug, Default, Clone)]
pub struct Partial {
    counts: Counts,
    invalid: Invalids,
    /// The worker's record layouts (the extractor's cache); not merged.
    extractor: Extractor,
}

/// The pair table.
#[derive(Debug, Clone)]
pub(crate) struct Counts<V = u64>(HashTable<Pair<V>>);

impl<V> Default for Counts<V> {
    fn default() -> Self {
        Counts(HashTable::new())
    }
}

impl<V> Counts<V> {
    /// The state of a pair, made by `new` if the pair is not in the table yet.
    #[inline]
    pub(crate) fn entry(
        &mut self,
        category: Key<'_>,
        product: Key<'_>,
        new: impl FnOnce() -> V,
    ) -> &mut V {
        let hash = key_hash(&category, &product);
        let heads = [
            category.head as u64,
            (category.head >> 64) as u64,
            product.head as u64,
            (product.head >> 64) as u64,
        ];
        let lens = category.len() as u64 | (product.len() as u64) << 32;
        let long = category.len() > HEAD || product.len() > HEAD;
        let eq = |p: &Pair<V>| {
            p.heads == heads
                && p.lens == lens
                && (!long || (p.category() == category.bytes && p.product() == product.bytes))
        };
        // Two probes on a miss (rare: once per distinct pair) keep the borrow checker happy
        // without an entry API that would hash twice on every hit.
        if self.0.find(hash, eq).is_none() {
            let mut bytes = Vec::with_capacity(category.len() + product.len());
            bytes.extend_from_slice(category.bytes);
            bytes.extend_from_slice(product.bytes);
            let pair = Pair {
                heads,
                lens,
                views: new(),
                bytes: bytes.into_boxed_slice(),
            };
            self.0.insert_unique(hash, pair, Pair::hash);
        }
        &mut self
            .0
            .find_mut(hash, eq)
            .expect("just found or inserted")
            .views
    }

    /// Every pair with its state, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], &V)> + '_ {
        self.0.iter().map(|p| (p.category(), p.product(), &p.views))
    }

    /// Distinct pairs.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl Counts<u64> {
    #[inline]
    pub(crate) fn count(&mut self, category: Key<'_>, product: Key<'_>, n: u64) {
        let hash = key_hash(&category, &product);
        let heads = [
            category.head as u64,
            (category.head >> 64) as u64,
            product.head as u64,
            (product.head >> 64) as u64,
        ];
        let lens = category.len() as u64 | (product.len() as u64) << 32;
        let long = category.len() > HEAD || product.len() > HEAD;
        let found = self.0.find_mut(hash, |p| {
            p.heads == heads
                && p.lens == lens
                && (!long || (p.category() == category.bytes && p.product() == product.bytes))
        });
        match found {
            Some(p) => p.views += n,
            None => {
                let mut bytes = Vec::with_capacity(category.len() + product.len());
                bytes.extend_from_slice(category.bytes);
                bytes.extend_from_slice(product.bytes);
                let pair = Pair {
                    heads,
                    lens,
                    views: n,
                    bytes: bytes.into_boxed_slice(),
                };
                self.0.insert_unique(hash, pair, Pair::hash);
            }
        }
    }
}

impl Partial {
    /// Count `n` views of a pair given as bare strings.
    fn count_bytes(&mut self, category: &[u8], product: &[u8], n: u64) {
        self.counts.count(
            Key::within(category, category),
            Key::within(product, product),
            n,
        );
    }

    /// One view of a pair, for tests of the table.
    #[cfg(test)]
    pub(crate) fn count_for_test(&mut self, category: &[u8], product: &[u8]) {
        self.count_bytes(category, product, 1);
    }

    /// Every (category, product, views) counted, as unescaped bytes, in no particular order.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8], u64)> + '_ {
        self.counts
            .0
            .iter()
            .map(|p| (p.category(), p.product(), p.views))
    }

    /// Invalid records per partition index.
    pub fn invalid(&self) -> &[PartitionInvalid] {
        self.invalid.partitions()
    }

    /// Invalid records by reason, every reason in [`Invalid::ALL`]'s order (zeros included).
    pub fn invalid_by_reason(&self) -> impl Iterator<Item = (Invalid, u64)> + '_ {
        self.invalid.by_reason()
    }
}

/// The trending job: views per (category, product), top products per category by competition
/// rank.
#[derive(Debug, Clone, Copy)]
pub struct Trending {
    /// Keep rows whose rank is at most this (≥ 1; 1 keeps every product tied at the maximum;
    /// 0 is read as 1 rather than giving an empty report).
    pub top: u32,
    /// Fail the run at the first invalid record.
    pub strict: bool,
}

impl Job for Trending {
    type Partial = Partial;
    type Output = Report;

    fn partial(&self) -> Partial {
        Partial::default()
    }

    #[inline]
    fn update(
        &self,
        p: &mut Partial,
        partition: usize,
        record: &Record<'_>,
    ) -> Result<(), JobError> {
        let counts = &mut p.counts;
        match p
            .extractor
            .with_event(record.value, |value, category, product| {
                counts.count(Key::within(value, category), Key::within(value, product), 1)
            }) {
            Ok(()) => Ok(()),
            Err(why) => {
                if self.strict {
                    return Err(JobError::Fail {
                        offset: record.offset,
                        message: format!("invalid event ({})", why.as_str()),
                    });
                }
                p.invalid.note(partition, record.offset, why);
                Ok(())
            }
        }
    }

    fn merge(&self, into: &mut Partial, other: Partial) {
        for (c, pr, n) in other.pairs() {
            into.count_bytes(c, pr, n);
        }
        into.invalid.merge(other.invalid);
    }

    fn finish(&self, p: Partial, stats: &[PartitionStats]) -> Report {
        let partitions = stats
            .iter()
            .enumerate()
            .map(|(i, s)| PartitionReport {
                counts: s.clone(),
                invalid: p.invalid.count(i),
            })
            .collect();
        let top = rank(p.pairs(), u64::from(self.top.max(1)));
        Report {
            records: stats.iter().map(|s| s.records).sum(),
            invalid: p.invalid.total(),
            partitions,
            top,
            invalid_samples: p.invalid.samples(stats),
        }
    }
}
