//! Realistic browsing events, as a web tier writes them, for the extractor's oracle tests, the
//! micro benchmark and the end-to-end benchmark (`produce-trending --mix NAME`): one
//! definition, so the three measure and check the same bytes.
//!
//! Every parameter is fixed here (change one and the benchmark figures change with it):
//!
//! | parameter | value |
//! |---|---|
//! | generator | xorshift64 seeded with `seed * 0x9E3779B97F4A7C15 \| 1`; event `i` depends only on the seed and the draws before it |
//! | fields of every event | `event_id` (UUID v4 text), `ts` (ms since 2024-05-27), `customer_id` (`C` + 8 digits), `session_id` (16 hex), `product` (`PD` + 5 digits), `category` (12 names, 5 of them non-ASCII: `Küche`, `Électroménager`, `Spielzeug & Bücher`, `Café & Thé`, `Hôtel & Voyage`; also `Garden & Outdoors`), `price` (2 decimals), `quantity` (1–5), `ip` (dotted quad), `user_agent` (one of 5 browser templates, 110–140 characters), `url` (product page URL with a 2-parameter query string), `referrer` (search engine, shop category page, or empty) |
//! | popularity | category uniform; product rank `k` in 0..200 drawn as `a * b / 200` for `a`, `b` uniform (skewed to low ranks) |
//! | escapes | 1 % of user agents hold a quoted word (`\"like\"` in JSON) |
//! | [`Mix::Flat`] | the fields above, compact, one key order, UTF-8 as is: about 460 bytes on average |
//! | [`Mix::Nested`] | plus `device` (an object of depth 2 holding `os` and `browser` objects, depth 3, and `screen` with two numbers) and `tags` (an array of 0–4 short strings): about 620 bytes |
//! | [`Mix::Serializers`] | half flat, half nested events, each written by one of four serializers: compact in the web tier's key order (40 %); Python's `json.dumps` (sorted keys, `", "` and `": "`, non-ASCII as `\u00e9`; 25 %); PHP's `json_encode` (another key order, `/` as `\/`, non-ASCII as `\u00e9`; 20 %); pretty-printed with two-space indentation and newlines (15 %): about 570 bytes |
//! | invalid share | 0.1 % (one draw in 1000), cycling through: tombstone, truncated text, `category` misspelled (missing_field), `product` a number (wrong_type), a lone UTF-8 lead byte in the category (bad_utf8), trailing bytes (bad_json), `product` twice (duplicate_field) |

use crate::rng::XorShift64 as Rng;

/// The realistic event mixes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Flat events of about 430 bytes from one serializer.
    Flat,
    /// Flat events plus a nested `device` object and a short `tags` array.
    Nested,
    /// Flat and nested events from four serializers (key orders, whitespace, escapes).
    Serializers,
}

impl Mix {
    /// Every mix, in the order reports list them.
    pub const ALL: [Mix; 3] = [Mix::Flat, Mix::Nested, Mix::Serializers];

    /// The mix's name on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mix::Flat => "flat",
            Mix::Nested => "nested",
            Mix::Serializers => "serializers",
        }
    }

    /// The mix named `name`.
    pub fn from_name(name: &str) -> Option<Mix> {
        Mix::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Category names: ASCII and UTF-8, with `&` and spaces.
pub const CATEGORIES: [&str; 12] = [
    "Books",
    "Electronics",
    "Küche",
    "Électroménager",
    "Garden & Outdoors",
    "Toys & Games",
    "Spielzeug & Bücher",
    "Beauty",
    "Café & Thé",
    "Sports",
    "Hôtel & Voyage",
    "Grocery",
];

/// Products per category.
pub const PRODUCTS: u64 = 200;

/// A JSON value before serialization.
enum Val {
    Str(String),
    /// Number text, written as is.
    Num(String),
    Obj(Vec<(&'static str, Val)>),
    Arr(Vec<Val>),
}

/// How a serializer writes text.
#[derive(Copy, Clone)]
enum Style {
    /// Compact, keys in the event's order, UTF-8 as is.
    Compact,
    /// Python `json.dumps`: sorted keys, `", "` / `": "`, non-ASCII escaped.
    Python,
    /// PHP `json_encode`: another key order, `\/`, non-ASCII escaped.
    Php,
    /// Pretty-printed, two-space indentation.
    Pretty,
}

const USER_AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{m} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{m} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.{b}.{p} Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0 (compatible; ShopApp/{m}.{p}; +https://example.com/app)",
];

const SOURCES: [&str; 4] = ["google", "newsletter", "facebook", "bing"];
const QUERIES: [&str; 6] = [
    "gift",
    "sale",
    "new+arrivals",
    "best+price",
    "eco",
    "bundle",
];
const TAGS: [&str; 5] = ["sale", "new", "gift", "bundle", "eco"];

/// The fields of one valid event (and whether it has the nested parts).
fn event(rng: &mut Rng, i: u64, nested: bool) -> Vec<(&'static str, Val)> {
    let s = |t: String| Val::Str(t);
    let c = rng.below(CATEGORIES.len() as u64) as usize;
    let k = rng.below(PRODUCTS) * rng.below(PRODUCTS) / PRODUCTS;
    let product = format!("PD{:05}", c as u64 * 1000 + k);
    let (a, b) = (rng.next(), rng.next());
    let uuid = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    );
    let template = rng.below(USER_AGENTS.len() as u64) as usize;
    let mut ua = USER_AGENTS[template]
        .replace("{v}", &(118 + rng.below(8)).to_string())
        .replace("{b}", &(6000 + rng.below(400)).to_string())
        .replace("{p}", &rng.below(200).to_string())
        .replace("{m}", &(1 + rng.below(5)).to_string());
    if rng.below(100) == 0 {
        ua = ua.replacen("like", "\"like\"", 1);
    }
    let url = format!(
        "https://shop.example.com/p/{product}?src={}&q={}",
        SOURCES[rng.below(4) as usize],
        QUERIES[rng.below(6) as usize],
    );
    let referrer = match rng.below(3) {
        0 => "https://www.google.com/".to_string(),
        1 => format!("https://shop.example.com/c/{}", c + 1),
        _ => String::new(),
    };
    let mut fields = vec![
        ("event_id", s(uuid)),
        ("ts", Val::Num((1_716_768_000_000 + i * 7).to_string())),
        ("customer_id", s(format!("C{:08}", rng.below(100_000_000)))),
        ("session_id", s(format!("{:016x}", rng.next()))),
        ("product", s(product)),
        ("category", s(CATEGORIES[c].to_string())),
        (
            "price",
            Val::Num(format!("{}.{:02}", 1 + rng.below(500), rng.below(100))),
        ),
        ("quantity", Val::Num((1 + rng.below(5)).to_string())),
        (
            "ip",
            s(format!(
                "{}.{}.{}.{}",
                1 + rng.below(223),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            )),
        ),
        ("user_agent", s(ua)),
        ("url", s(url)),
        ("referrer", s(referrer)),
    ];
    if nested {
        let (os, browser) = match template {
            0 => ("Windows", "Chrome"),
            1 => ("macOS", "Safari"),
            2 => ("iOS", "Safari"),
            3 => ("Android", "Chrome"),
            _ => ("Linux", "Firefox"),
        };
        let mobile = matches!(template, 2 | 3);
        let device = Val::Obj(vec![
            ("type", s(if mobile { "mobile" } else { "desktop" }.into())),
            (
                "os",
                Val::Obj(vec![
                    ("name", s(os.into())),
                    (
                        "version",
                        s(format!("{}.{}", 10 + rng.below(8), rng.below(6))),
                    ),
                ]),
            ),
            (
                "browser",
                Val::Obj(vec![
                    ("name", s(browser.into())),
                    ("version", s(format!("{}.0", 118 + rng.below(8)))),
                ]),
            ),
            (
                "screen",
                Val::Obj(vec![
                    ("w", Val::Num(if mobile { "412" } else { "1920" }.into())),
                    ("h", Val::Num(if mobile { "915" } else { "1080" }.into())),
                ]),
            ),
        ]);
        let tags = (0..rng.below(5))
            .map(|_| s(TAGS[rng.below(5) as usize].into()))
            .collect();
        fields.insert(10, ("device", device));
        fields.push(("tags", Val::Arr(tags)));
    }
    fields
}

fn write_str(out: &mut String, text: &str, style: Style) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if matches!(style, Style::Php) => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if !c.is_ascii() && matches!(style, Style::Python | Style::Php) => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_val(out: &mut String, v: &Val, style: Style, indent: usize) {
    let (comma, colon) = match style {
        Style::Python => (", ", ": "),
        Style::Pretty => (",", ": "),
        _ => (",", ":"),
    };
    let newline = |out: &mut String, depth: usize| {
        if matches!(style, Style::Pretty) {
            out.push('\n');
            out.push_str(&"  ".repeat(depth));
        }
    };
    match v {
        Val::Str(t) => write_str(out, t, style),
        Val::Num(t) => out.push_str(t),
        Val::Obj(members) => {
            let mut members: Vec<&(&str, Val)> = members.iter().collect();
            match style {
                Style::Python => members.sort_by_key(|(k, _)| *k),
                Style::Php => {
                    let half = members.len() / 2;
                    members.rotate_left(half)
                }
                _ => {}
            }
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                newline(out, indent + 1);
                write_str(out, k, style);
                out.push_str(colon);
                write_val(out, v, style, indent + 1);
            }
            if !members.is_empty() {
                newline(out, indent);
            }
            out.push('}');
        }
        Val::Arr(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                write_val(out, v, style, indent);
            }
            out.push(']');
        }
    }
}

/// Values of `mix` (a `None` is a tombstone), endless; the same seed gives the same values.
pub fn values(mix: Mix, seed: u64) -> impl Iterator<Item = Option<Vec<u8>>> + Send {
    labelled(mix, seed).map(|(value, _)| value)
}

/// The first `n` values of a mix (tombstones left out) laid end to end in one buffer, as a
/// decompressed record batch holds them. Benchmarks read values from here rather than from one
/// allocation each: a generator's `Vec`s of varying sizes end up scattered over the heap, the
/// hardware prefetcher cannot follow them, and an extractor then waits on memory the real
/// read path never waits on (measured on the serializers mix: 300 ns a value scattered,
/// 214 ns packed, the same code).
pub struct Packed {
    bytes: Vec<u8>,
    /// Where each value ends in `bytes`.
    ends: Vec<usize>,
}

impl Packed {
    /// The first `n` values of `mix` for `seed`, tombstones left out.
    pub fn new(mix: Mix, seed: u64, n: usize) -> Packed {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for value in values(mix, seed).take(n).flatten() {
            bytes.extend_from_slice(&value);
            ends.push(bytes.len());
        }
        Packed { bytes, ends }
    }

    /// The values, in order.
    pub fn values(&self) -> Vec<&[u8]> {
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let value = &self.bytes[start..end];
                start = end;
                value
            })
            .collect()
    }

    /// All the values' bytes.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// [`values`], each with the reason code it was made invalid for (`None`: a valid event).
pub fn labelled(
    mix: Mix,
    seed: u64,
) -> impl Iterator<Item = (Option<Vec<u8>>, Option<&'static str>)> + Send {
    let mut rng = Rng::spread(seed);
    let mut invalid_kind = 0u64;
    (0u64..).map(move |i| {
        let nested = match mix {
            Mix::Flat => false,
            Mix::Nested => true,
            Mix::Serializers => rng.below(2) == 0,
        };
        let style = match mix {
            Mix::Serializers => match rng.below(20) {
                0..8 => Style::Compact,
                8..13 => Style::Python,
                13..17 => Style::Php,
                _ => Style::Pretty,
            },
            _ => Style::Compact,
        };
        let mut fields = event(&mut rng, i, nested);
        let invalid = rng.below(1000) == 0;
        if invalid {
            invalid_kind += 1;
            match invalid_kind % 7 {
                0 => return (None, Some("tombstone")),
                2 => fields.iter_mut().for_each(|f| {
                    if f.0 == "category" {
                        f.0 = "categroy";
                    }
                }),
                3 => fields.iter_mut().for_each(|f| {
                    if f.0 == "product" {
                        f.1 = Val::Num("42".into());
                    }
                }),
                6 => fields.push(("product", Val::Str("PD99999".into()))),
                _ => {}
            }
        }
        let mut text = String::new();
        write_val(&mut text, &Val::Obj(fields), style, 0);
        let mut bytes = text.into_bytes();
        if invalid {
            match invalid_kind % 7 {
                1 => bytes.truncate(bytes.len() * 3 / 5),
                4 => {
                    // In the category, which every reader parses: serde_json does not check
                    // the UTF-8 of strings it skips, so a lone byte in the user agent would
                    // be a valid event to a serde reader and bad_utf8 to kbatch.
                    let at = bytes
                        .windows(10)
                        .position(|w| w == b"\"category\"")
                        .map_or(bytes.len() / 2, |p| p + 10);
                    let quote = at + bytes[at..].iter().position(|&c| c == b'"').unwrap_or(0);
                    bytes.insert(quote + 1, 0xC3);
                }
                5 => bytes.extend_from_slice(b" x"),
                _ => {}
            }
        }
        let reason = invalid.then(|| {
            [
                "tombstone",
                "bad_json",
                "missing_field",
                "wrong_type",
                "bad_utf8",
                "bad_json",
                "duplicate_field",
            ][(invalid_kind % 7) as usize]
        });
        (Some(bytes), reason)
    })
}

/// Producer op lines (`R` lines, base64: values may hold newlines or invalid UTF-8) for
/// `events` records of `mix`, round-robin over `partitions`, keyed by event number:
/// `(how many, the lines)`.
pub fn lazy_lines(
    mix: Mix,
    events: u64,
    partitions: i32,
    seed: u64,
) -> (usize, impl Iterator<Item = String> + Send) {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let lines = values(mix, seed)
        .take(events as usize)
        .enumerate()
        .map(move |(i, v)| {
            let p = i as i64 % i64::from(partitions);
            let key = b64(format!("C{:08}", i % 100_000).as_bytes());
            let value = v.as_deref().map_or_else(|| "-".to_string(), b64);
            format!("R\t{p}\t-\t{key}\t{value}")
        });
    (events as usize, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes and shares the module doc states; labels agree with serde_json where it
    /// can tell (valid JSON or not).
    #[test]
    fn mixes_have_the_documented_shape() {
        for mix in Mix::ALL {
            let values: Vec<_> = labelled(mix, 7).take(20_000).collect();
            let invalid = values.iter().filter(|(_, why)| why.is_some()).count();
            let valid: Vec<&Vec<u8>> = values
                .iter()
                .filter(|(_, why)| why.is_none())
                .map(|(v, _)| v.as_ref().unwrap())
                .collect();
            for (v, why) in &values {
                let json = v
                    .as_ref()
                    .map(|v| serde_json::from_slice::<serde_json::Value>(v).is_ok());
                let expect_json = !matches!(why, Some("bad_json" | "bad_utf8" | "tombstone"));
                assert_eq!(json.unwrap_or(false), expect_json, "{why:?}");
            }
            let mean = valid.iter().map(|v| v.len()).sum::<usize>() / valid.len();
            eprintln!("{}: mean {mean} bytes, {invalid} invalid", mix.name());
            assert!((10..=30).contains(&invalid), "{}: {invalid}", mix.name());
            let (lo, hi) = match mix {
                Mix::Flat => (420, 460),
                Mix::Nested => (580, 640),
                Mix::Serializers => (520, 580),
            };
            assert!((lo..=hi).contains(&mean), "{}: mean {mean}", mix.name());
        }
        let again: Vec<_> = values(Mix::Serializers, 7).take(100).collect();
        assert_eq!(
            again,
            values(Mix::Serializers, 7).take(100).collect::<Vec<_>>()
        );
    }

    /// Packed values are the generator's, in order, tombstones left out, and nothing else.
    #[test]
    fn packed_values_are_the_generators() {
        let packed = Packed::new(Mix::Serializers, 7, 20_000);
        let expected: Vec<Vec<u8>> = values(Mix::Serializers, 7).take(20_000).flatten().collect();
        assert!(
            expected.len() < 20_000,
            "the sample should hold a tombstone"
        );
        let got = packed.values();
        assert_eq!(got, expected.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(packed.bytes(), expected.iter().map(Vec::len).sum::<usize>());
    }
}
