//! Shared pieces of kbatch's benchmarks: the borrowed event struct and the borrowed map key
//! the comparison readers (rust-rdkafka end to end, kafka-protocol in the micro-benchmarks) use.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

/// An event as a careful serde user parses it: borrowed, unescaped only when needed.
#[derive(serde::Deserialize)]
pub struct Event<'a> {
    /// Top-level product.
    #[serde(borrow)]
    pub product: Cow<'a, str>,
    /// Top-level category.
    #[serde(borrow)]
    pub category: Cow<'a, str>,
}

/// A borrowed (category, product) that hashes and compares like the owned `(String, String)`
/// key, so a map hit allocates nothing.
pub struct Key<'a>(pub &'a str, pub &'a str);

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.hash(h);
        self.1.hash(h);
    }
}

impl Equivalent<(String, String)> for Key<'_> {
    fn equivalent(&self, k: &(String, String)) -> bool {
        self.0 == k.0 && self.1 == k.1
    }
}

/// Count one parsed value the serde way (shared by both comparison readers). Returns false for
/// an invalid value.
pub fn count_serde(
    counts: &mut hashbrown::HashMap<(String, String), u64>,
    value: Option<&[u8]>,
) -> bool {
    // serde's derived struct also accepts a JSON array; an event must be an object.
    let value = value.filter(|v| v.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{'));
    match value.map(serde_json::from_slice::<Event>) {
        Some(Ok(e)) => {
            match counts.get_mut(&Key(&e.category, &e.product)) {
                Some(n) => *n += 1,
                None => {
                    counts.insert((e.category.into_owned(), e.product.into_owned()), 1);
                }
            }
            true
        }
        _ => false,
    }
}
