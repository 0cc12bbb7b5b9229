//! Deterministic sample browsing events for the demo and the benchmarks: skewed popularity
//! per category (weights ~ 1/rank), a few exact ties, optional invalid records.

use crate::rng::XorShift64 as Rng;

/// Categories of the sample shop.
pub const CATEGORIES: [&str; 8] = [
    "Books",
    "Electronics",
    "Toys",
    "Garden",
    "Music",
    "Sports",
    "Beauty",
    "Grocery",
];
/// Products per category.
pub const PRODUCTS: usize = 40;

/// Weight of product `k` (0-based popularity rank) in category `c`. Books and Garden tie at the
/// top (two products with the same weight); Sports ties at rank 2.
fn weight(c: usize, k: usize) -> u64 {
    let w = 1_000_000 / (k as u64 + 1);
    match (c, k) {
        (0 | 3, 1) => weight(c, 0),
        (5, 2) => weight(c, 1),
        _ => w,
    }
}

/// Producer op lines (`K` with a customer key, `R` for tombstones) for `events` valid events
/// plus `invalid` invalid ones, round-robin over `partitions`, shuffled deterministically.
pub fn lines(events: u64, invalid: u64, partitions: i32, seed: u64) -> Vec<String> {
    lazy_lines(events, invalid, partitions, seed).1.collect()
}

/// [`lines`], made one at a time (for millions of events): `(how many, the lines)`.
pub fn lazy_lines(
    events: u64,
    invalid: u64,
    partitions: i32,
    seed: u64,
) -> (usize, impl Iterator<Item = String> + Send) {
    let per_cat = events / CATEGORIES.len() as u64;
    let mut items: Vec<(u16, u16)> = Vec::with_capacity(events as usize + invalid as usize);
    for c in 0..CATEGORIES.len() {
        let total: u64 = (0..PRODUCTS).map(|k| weight(c, k)).sum();
        for k in 0..PRODUCTS {
            let n = per_cat * weight(c, k) / total;
            items.extend(std::iter::repeat_n((c as u16, k as u16), n as usize));
        }
    }
    for i in 0..invalid {
        items.push((u16::MAX, i as u16));
    }
    let mut rng = Rng::spread(seed);
    for i in (1..items.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
    let n = items.len();
    let lines = items
        .into_iter()
        .enumerate()
        .map(move |(i, (c, k))| {
            let p = i as i32 % partitions;
            let cust = format!("cus{:03}", rng.next() % 500);
            if c == u16::MAX {
                return match k % 6 {
                    0 => format!("R\t{p}\t-\t-\t-"),
                    1 => format!("K\t{p}\t{cust}\tnot json at all"),
                    2 => format!("K\t{p}\t{cust}\t{{\"customer\":\"{cust}\",\"product\":\"PD0001\"}}"),
                    3 => format!("K\t{p}\t{cust}\t{{\"product\":42,\"category\":\"Books\"}}"),
                    4 => format!("K\t{p}\t{cust}\t[\"Books\",\"PD0001\"]"),
                    _ => format!("K\t{p}\t{cust}\t{{\"product\":\"PD0001\",\"category\":\"Books\"}} trailing"),
                };
            }
            let cat = CATEGORIES[c as usize];
            let prod = format!("PD{:04}", c as usize * 100 + k as usize);
            let ts = 1_516_978_415 + (i as u64 % 86_400);
            format!("K\t{p}\t{cust}\t{{\"customer\":\"{cust}\",\"product\":\"{prod}\",\"category\":\"{cat}\",\"ts\":\"{ts}\",\"page\":\"/item/{prod}\"}}")
        })
        ;
    (n, lines)
}
