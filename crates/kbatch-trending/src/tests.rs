//! Extractor tests against the committed example table and against serde_json as an oracle;
//! algebra tests for merging; ranking, strict mode and renderings.

use std::sync::Arc;

use base64::Engine as _;
use kbatch_engine::{Job, JobError, PartitionStats};
use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::extract::fast::masks::BLOCK;
use crate::extract::simd::{self, Isa};
use crate::extract::{dispatch, extract_general, fast};
use crate::*;

/// The reference verdict, built on serde_json (it keeps the last of duplicate keys, so the
/// top-level entries are collected in order to see duplicates).
fn reference(value: Option<&[u8]>) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    struct Entries(Vec<(String, Value)>);
    impl<'de> Deserialize<'de> for Entries {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Entries;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, Value>()? {
                        out.push((k, v));
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    let b = value.ok_or("tombstone")?;
    if b.is_empty() {
        return Err("empty");
    }
    if std::str::from_utf8(b).is_err() {
        return Err("bad_utf8");
    }
    let v: Value = serde_json::from_slice(b).map_err(|_| "bad_json")?;
    if !v.is_object() {
        return Err("not_object");
    }
    let Entries(entries) = serde_json::from_slice(b).map_err(|_| "bad_json")?;
    let get = |name: &str| {
        entries
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect::<Vec<_>>()
    };
    let (p, c) = (get("product"), get("category"));
    if p.len() > 1 || c.len() > 1 {
        return Err("duplicate_field");
    }
    if p.iter().chain(&c).any(|v| !v.is_string()) {
        return Err("wrong_type");
    }
    match (p.first(), c.first()) {
        (Some(Value::String(p)), Some(Value::String(c))) => {
            Ok((c.as_bytes().to_vec(), p.as_bytes().to_vec()))
        }
        _ => Err("missing_field"),
    }
}

fn owned(r: Result<crate::Event<'_>, Invalid>) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    r.map(|e| (e.category.into_owned(), e.product.into_owned()))
        .map_err(Invalid::as_str)
}

/// Run `$body` once per instruction-set form this CPU has, with `$I` naming the form's type
/// and `$name` its name: the portable form always, SSE2, AVX2 and AVX-512 on x86-64 whatever
/// the dispatcher would choose (AVX2 and AVX-512 only where the CPU has them;
/// `forms_under_test` says which ran).
macro_rules! for_each_isa {
    ($I:ident, $name:ident => $body:block) => {{
        {
            type $I = simd::Portable;
            let $name = "portable";
            $body
        }
        #[cfg(target_arch = "x86_64")]
        {
            type $I = simd::Sse2;
            let $name = "sse2";
            $body
        }
        #[cfg(target_arch = "x86_64")]
        if form("avx2").is_some() {
            type $I = simd::Avx2;
            let $name = "avx2";
            $body
        }
        #[cfg(target_arch = "x86_64")]
        if form("avx512").is_some() {
            type $I = simd::Avx512;
            let $name = "avx512";
            $body
        }
    }};
}

/// The form named `name`, if this CPU runs it.
fn form(name: &str) -> Option<dispatch::Form> {
    dispatch::Form::all()
        .into_iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, f)| f)
}

/// Which forms the tests run here, stated (and the ones every x86-64 CPU has, required).
#[test]
fn forms_under_test() {
    for (name, f) in dispatch::Form::all() {
        match f {
            Some(f) => {
                assert_eq!(f.name(), name);
                eprintln!("form {name}: tested");
            }
            None => eprintln!("form {name}: SKIPPED, this CPU or architecture lacks it"),
        }
    }
    assert!(form("portable").is_some());
    #[cfg(target_arch = "x86_64")]
    assert!(form("sse2").is_some());
    eprintln!("dispatcher's choice: {}", dispatch::Form::best().name());
}

/// The event the fast path found in `b`, unescaped.
fn event_of<'a>(b: &'a [u8], f: fast::Found<'a>) -> crate::Event<'a> {
    let (category, product) = f.fields(b).expect("the fields lie inside the value");
    crate::Event { category, product }
}

/// `extract`'s verdict, after checking that whenever the fast path answers, the general
/// scanner gives the same answer (so every oracle test below also tests the fast path).
///
/// "The fast path" is every tier of it in every form this CPU runs (see `fast_forms`), and
/// the layout-caching `Extractor` in every form.
fn ours(value: Option<&[u8]>) -> Result<(Vec<u8>, Vec<u8>), &'static str> {
    if let Some(b) = value {
        let general = owned(extract_general(b));
        for (form, verdict) in fast_forms(b) {
            if let Some(verdict) = verdict.decided() {
                assert_eq!(
                    owned(verdict.map(|f| event_of(b, f))),
                    general,
                    "fast path ({form}) disagrees on {:?}",
                    String::from_utf8_lossy(b)
                );
            }
        }
    }
    let verdict = owned(extract(value));
    // The layout cache: a fresh extractor learns the value, then recalls it; one kept across
    // every call of this thread also recalls earlier values' layouts for this one.
    for (name, f) in dispatch::Form::all() {
        let Some(f) = f else { continue };
        let mut fresh = crate::Extractor::with_form(f);
        for _ in 0..2 {
            assert_eq!(
                owned(fresh.extract(value)),
                verdict,
                "fresh extractor ({name}) on {value:?}"
            );
        }
    }
    SHARED.with_borrow_mut(|shared| {
        if shared.is_empty() {
            *shared = dispatch::Form::all()
                .into_iter()
                .filter_map(|(_, f)| f.map(crate::Extractor::with_form))
                .collect();
        }
        for ex in shared.iter_mut() {
            assert_eq!(
                owned(ex.extract(value)),
                verdict,
                "shared extractor ({:?}) on {value:?}",
                ex
            );
        }
    });
    verdict
}

thread_local! {
    /// One extractor per form, kept across every check of the thread.
    static SHARED: std::cell::RefCell<Vec<crate::Extractor>> = std::cell::RefCell::default();
}

type Verdict<'a> = fast::Verdict<fast::Found<'a>>;

/// Every tier of the fast path in every form this CPU runs, by name: the whole fast path, the
/// flat tier alone and the structural tier alone (so each is checked even where an earlier
/// tier answers first).
fn fast_forms(b: &[u8]) -> Vec<(String, Verdict<'_>)> {
    let mut forms = vec![("dispatched".to_string(), dispatch::Form::best().extract(b))];
    for_each_isa!(I, name => {
        // SAFETY: `for_each_isa` only runs the forms this CPU has.
        unsafe {
            forms.push((name.to_string(), I::extract(b)));
            forms.push((format!("{name} flat"), fast::short::flat_only::<I>(b)));
            forms.push((format!("{name} structural"), fast::structural::extract::<I>(b)));
        }
    });
    forms
}

/// (value, expected verdict, expected (category, product), note)
type Row = (Option<Vec<u8>>, String, Option<(String, String)>, String);

/// (partition index, offset, value)
type Rec = (usize, i64, Option<Vec<u8>>);

fn table() -> Vec<Row> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/trending/extract_cases.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("fixtures/trending/extract_cases.jsonl");
    text.lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            let value = if r["value_null"] == Value::Bool(true) {
                None
            } else if let Some(b) = r["value_b64"].as_str() {
                Some(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
            } else {
                Some(r["value"].as_str().unwrap().as_bytes().to_vec())
            };
            let expect = r["expect"].as_str().unwrap().to_string();
            let fields = r["category"]
                .as_str()
                .map(|c| (c.to_string(), r["product"].as_str().unwrap().to_string()));
            (
                value,
                expect,
                fields,
                r["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn example_table() {
    let rows = table();
    assert!(rows.len() >= 40);
    let mut reasons_seen = std::collections::BTreeSet::new();
    for (value, expect, fields, note) in rows {
        let got = ours(value.as_deref());
        match (&got, expect.as_str()) {
            (Ok((c, p)), "valid") => {
                let (ec, ep) = fields.clone().unwrap();
                assert_eq!(
                    (c.as_slice(), p.as_slice()),
                    (ec.as_bytes(), ep.as_bytes()),
                    "{note}"
                );
            }
            (Err(reason), want) => assert_eq!(
                *reason,
                want,
                "{note}: {:?}",
                value.as_deref().map(String::from_utf8_lossy)
            ),
            (Ok(_), want) => panic!("{note}: expected {want}, got valid"),
        }
        // serde_json agrees on every row.
        assert_eq!(got, reference(value.as_deref()), "oracle disagrees: {note}");
        reasons_seen.insert(expect);
    }
    // The last two are verdicts on registry-framed values, never on JSON text (their table
    // is `top::framed`'s tests and the schema registry's end-to-end tests).
    for r in Invalid::ALL
        .into_iter()
        .filter(|r| !matches!(r, Invalid::NotFramed | Invalid::Undecodable))
    {
        assert!(
            reasons_seen.contains(r.as_str()),
            "table lacks {}",
            r.as_str()
        );
    }
}

pub(crate) fn json_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a".to_string()),
            Just("É".to_string()),
            Just("\\u00c9".to_string()),
            Just("\\\"".to_string()),
            Just("\\\\".to_string()),
            Just("\\n".to_string()),
            Just("\\ud83d\\ude00".to_string()),
            Just("\\ud83d".to_string()),
            Just("\\u0041".to_string()),
            Just("\t".to_string()),
            Just("\\x".to_string()),
            "[a-zA-Z0-9 ]{0,3}",
        ],
        0..4,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

pub(crate) fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        json_string(),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("-0.5e3".to_string()),
        Just("12".to_string()),
        Just("01".to_string()),
        Just("1.".to_string()),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|kv| {
                format!(
                    "{{{}}}",
                    kv.into_iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"product\"".to_string()),
        Just("\"category\"".to_string()),
        Just("\"pro\\u0064uct\"".to_string()),
        Just("\"customer\"".to_string()),
        Just("\"x\"".to_string()),
        json_string(),
    ]
}

fn top_object() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), json_value(), " {0,2}"), 0..5).prop_map(|kv| {
        format!(
            "{{{}}}",
            kv.into_iter()
                .map(|(k, v, ws)| format!("{ws}{k}{ws}:{ws}{v}"))
                .collect::<Vec<_>>()
                .join(",")
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn oracle_on_generated_objects(obj in top_object(), tail in prop_oneof![Just(""), Just(" "), Just("x"), Just(",")], cut in any::<prop::sample::Index>(), do_cut in any::<bool>()) {
        let mut text = format!("{obj}{tail}");
        if do_cut && !text.is_empty() {
            let mut i = cut.index(text.len());
            while !text.is_char_boundary(i) { i -= 1; }
            text.truncate(i);
        }
        prop_assert_eq!(ours(Some(text.as_bytes())), reference(Some(text.as_bytes())), "{}", text);
    }

    #[test]
    fn oracle_on_arbitrary_values(v in json_value()) {
        prop_assert_eq!(ours(Some(v.as_bytes())), reference(Some(v.as_bytes())), "{}", v);
    }

    #[test]
    fn oracle_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..40)) {
        prop_assert_eq!(ours(Some(&b)), reference(Some(&b)));
    }
}

/// A number-ish token: mostly grammatical, with exponents and digit runs around the edges of
/// the f64 range, sometimes broken.
fn number_token() -> impl Strategy<Value = String> {
    let exp = prop_oneof![
        Just(String::new()),
        (
            prop_oneof![Just("e"), Just("E")],
            prop_oneof![Just(""), Just("+"), Just("-")],
            prop_oneof![
                Just("308".to_string()),
                Just("309".to_string()),
                Just("-324".to_string()),
                Just("400".to_string()),
                Just("99999999999999999999".to_string()),
                "[0-9]{0,4}",
            ]
        )
            .prop_map(|(e, s, d)| format!("{e}{s}{d}")),
    ];
    (
        prop_oneof![Just(""), Just("-"), Just("+")],
        prop_oneof![
            Just("0".to_string()),
            Just("1.7976931348623157".to_string()),
            Just("1.7976931348623159".to_string()),
            Just("17976931348623157".to_string()),
            (1usize..=8, 280usize..320).prop_map(|(d, n)| d.to_string().repeat(n)),
            "[0-9]{1,25}",
            Just("01".to_string()),
        ],
        prop_oneof![Just(String::new()), Just(".".to_string()), "\\.[0-9]{1,5}"],
        exp,
    )
        .prop_map(|(sign, int, frac, exp)| format!("{sign}{int}{frac}{exp}"))
}

/// Insert (0), remove (1) or replace (2) one byte per edit, at an index scaled to the text.
fn apply_edits(b: &mut Vec<u8>, edits: &[(u8, prop::sample::Index, u8)]) {
    for &(op, ref at, byte) in edits {
        let i = at.index(b.len() + 1);
        match op {
            0 => b.insert(i, byte),
            1 if i < b.len() => {
                b.remove(i);
            }
            _ if i < b.len() => b[i] = byte,
            _ => b.push(byte),
        }
    }
}

/// Bytes that matter to a JSON scanner, for mutating otherwise valid text.
/// Printable ASCII, no backslash: bytes the fast path's classifier calls usual.
const USUAL: &[u8] = b"{}[]:,\" 0123456789-+.eEtrufalsnu/~xyzAZ";
const JSONISH: &[u8] = b"{}[]:,\"\\ \t\n\r0123456789-+.eEtrufalsnu\x00\x1f\x7f\xc3\xa9\xff";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn oracle_on_numbers(n in number_token()) {
        let text = format!(r#"{{"product":"p","category":"c","n":{n}}}"#);
        prop_assert_eq!(ours(Some(text.as_bytes())), reference(Some(text.as_bytes())), "{}", text);
        // And as the whole value (valid ones are `not_object`).
        prop_assert_eq!(ours(Some(n.as_bytes())), reference(Some(n.as_bytes())), "{}", n);
    }

    /// Nesting around serde_json's recursion limit, mixing arrays and objects, at top level
    /// and under a member of a valid event.
    #[test]
    fn oracle_on_nesting(kinds in prop::collection::vec(any::<bool>(), 120..132), inside in any::<bool>()) {
        let mut open = String::new();
        let mut close = String::new();
        for &obj in &kinds {
            if obj { open.push_str(r#"{"product":"#); close.insert(0, '}'); }
            else { open.push('['); close.insert(0, ']'); }
        }
        let nested = format!("{open}1{close}");
        let text = if inside { format!(r#"{{"product":"p","category":"c","x":{nested}}}"#) } else { nested };
        prop_assert_eq!(ours(Some(text.as_bytes())), reference(Some(text.as_bytes())), "depth {}", kinds.len());
    }

    /// Valid-ish events with a few bytes inserted, removed or replaced: the JSON-ish fuzzing
    /// that finds disagreements in the corners of the grammar.
    #[test]
    fn oracle_on_mutated_objects(
        obj in top_object(),
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), prop::sample::select(JSONISH)), 1..4),
    ) {
        let mut b = obj.into_bytes();
        apply_edits(&mut b, &edits);
        prop_assert_eq!(ours(Some(&b)), reference(Some(&b)), "{}", String::from_utf8_lossy(&b));
    }
}

/// A compact member whose string lengths move quotes across the 64-byte blocks of the fast
/// path; values are plain strings, numbers or literals.
fn compact_member() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("product".to_string()),
        Just("category".to_string()),
        "[a-z]{0,70}",
    ];
    let value = prop_oneof![
        4 => "[ -!#-\\[\\]-~]{0,90}".prop_map(|s| format!("\"{s}\"")),
        1 => prop_oneof![Just("0"), Just("-12"), Just("3.25"), Just("1516978415"), Just("true"), Just("false"), Just("null")].prop_map(str::to_string),
    ];
    (key, value).prop_map(|(k, v)| format!("\"{k}\":{v}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Compact flat ASCII objects are the fast path's to settle: it must answer every one,
    /// across block boundaries, exactly as the general scanner and serde_json do.
    #[test]
    fn fast_path_settles_compact_flat_objects(members in prop::collection::vec(compact_member(), 0..7)) {
        let text = format!("{{{}}}", members.join(","));
        let b = text.as_bytes();
        prop_assert!(!dispatch::Form::best().extract(b).declined(), "fast path declined {}", text);
        prop_assert_eq!(ours(Some(b)), reference(Some(b)), "{}", text);
    }

    /// All-string compact objects are the fast path's; byte edits around them (quotes,
    /// separators, braces, whitespace) must be refused or judged exactly as serde_json does.
    #[test]
    fn fast_path_settles_string_objects_and_survives_edits(
        members in prop::collection::vec(
            ("[a-z]{0,9}|product|category", "[ -!#-\\[\\]-~]{0,70}"),
            0..7,
        ),
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), prop::sample::select(&b"\":,{} x\\"[..])), 0..3),
    ) {
        let text = format!(
            "{{{}}}",
            members.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect::<Vec<_>>().join(",")
        );
        let mut b = text.into_bytes();
        if edits.is_empty() && b.len() > 2 {
            for (form, verdict) in fast_forms(&b) {
                let flat_too_long = form.ends_with("flat") && b.len() > 128;
                prop_assert!(!verdict.declined() || flat_too_long, "fast path ({}) declined {}", form, String::from_utf8_lossy(&b));
            }
        }
        apply_edits(&mut b, &edits);
        prop_assert_eq!(ours(Some(&b)), reference(Some(&b)), "{}", String::from_utf8_lossy(&b));
    }

    /// The SSE2 block classifier, the AVX2 one (where the CPU has it) and the portable one
    /// agree on every block: JSON-ish bytes next to arbitrary ones, blocks of printable ASCII
    /// alone (the only ones whose "unusual" flag is false), and such blocks with one arbitrary
    /// byte (a lone control character must raise the flag: a reversed or off-by-one compare
    /// once let 0x1F through in the AVX2 form).
    #[test]
    fn block_classifiers_agree(
        block in prop::array::uniform32(prop::sample::select(JSONISH)),
        other in prop::array::uniform32(any::<u8>()),
        usual in prop::collection::vec(prop::sample::select(USUAL), 64),
        odd in (0usize..64, any::<u8>()),
    ) {
        let mut mixed = [0u8; 64];
        mixed[..32].copy_from_slice(&block);
        mixed[32..].copy_from_slice(&other);
        let usual: [u8; 64] = usual.try_into().unwrap();
        // One arbitrary byte among usual ones: the unusual flag must see it alone.
        let mut one_odd = usual;
        one_odd[odd.0] = odd.1;
        for mut full in [mixed, usual, one_odd] {
            for _ in 0..2 {
                for_each_isa!(I, name => {
                    // SAFETY: `for_each_isa` only runs the forms this CPU has.
                    unsafe {
                        prop_assert_eq!(I::classify(&full), simd::Portable::classify(&full), "{}", name);
                        prop_assert_eq!(I::raw(&full), simd::Portable::raw(&full), "{}", name);
                        let quotes = simd::Portable::raw(&full).quote;
                        prop_assert_eq!(I::prefix_xor(quotes), simd::Portable::prefix_xor(quotes), "{}", name);
                    }
                });
                full.reverse();
            }
        }
    }
}

/// A compact all-string event of 65 to 128 bytes: the layouts the cache keeps.
fn cached_event() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(("[a-z]{1,9}", "[ -!#-\\[\\]-~]{0,12}"), 0..4)
        .prop_map(|members| {
            let mut members: Vec<_> = members.into_iter().collect();
            members.push(("product".into(), "PD0021".into()));
            members.push(("category".into(), "Books".into()));
            members.rotate_right(2);
            let mut text = format!(
                "{{{}}}",
                members
                    .iter()
                    .map(|(k, v)| format!("\"{k}\":\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            // Pad the last value into the cached lengths.
            while text.len() <= 64 {
                text.insert(text.len() - 2, 'x');
            }
            text.into_bytes()
        })
        .prop_filter("cached lengths", |b| b.len() <= 128)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// After learning one event's layout, the cache must judge any other value of the same
    /// length exactly as the general scanner does: values differing only inside value strings
    /// by usual bytes are recalled (and must be), anything else is not.
    #[test]
    fn layout_cache_recalls_only_what_it_may(
        sample in cached_event(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(JSONISH)), 1..4),
        inside in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(&b"abcXYZ019 -~!#"[..])), 1..6),
    ) {
        prop_assume!(extract(Some(&sample)).is_ok());
        // Positions inside value strings (after `":"`), where usual bytes keep the layout.
        let mut in_value = Vec::new();
        let (mut open, mut value) = (None, false);
        for (i, &c) in sample.iter().enumerate() {
            if c == b'"' {
                if open.take().is_none() {
                    open = Some(i);
                    value = i > 0 && sample[i - 1] == b':';
                }
            } else if open.is_some() && value {
                in_value.push(i);
            }
        }
        let mut same_layout = sample.clone();
        for (at, byte) in &inside {
            if !in_value.is_empty() {
                same_layout[in_value[at.index(in_value.len())]] = *byte;
            }
        }
        let mut edited = sample.clone();
        for (at, byte) in &edits {
            let i = at.index(edited.len());
            edited[i] = *byte;
        }
        for value in [&same_layout, &edited] {
            let mut ex = crate::Extractor::new();
            prop_assert_eq!(owned(ex.extract(Some(&sample))), owned(extract(Some(&sample))));
            let recalled = recall(ex.shapes(), value);
            if let Some(f) = recalled {
                prop_assert_eq!(
                    owned(Ok(event_of(value, f))),
                    owned(extract_general(value)),
                    "recalled {}", String::from_utf8_lossy(value)
                );
            }
            prop_assert_eq!(owned(ex.extract(Some(value))), reference(Some(value)), "{}", String::from_utf8_lossy(value));
        }
        prop_assert!(
            ex_recalls(&sample, &same_layout),
            "same layout not recalled: {} after {}",
            String::from_utf8_lossy(&same_layout),
            String::from_utf8_lossy(&sample)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The layout check's vector pass (SSE2, and AVX2 where the CPU has it) agrees with the
    /// portable model: equality with the sample, and quotes or unusual bytes, byte by byte;
    /// on a block against itself with a few bytes replaced by arbitrary ones.
    #[test]
    fn layout_scans_agree(
        usual in prop::collection::vec(prop::sample::select(USUAL), 64),
        odd in prop::collection::vec((0usize..64, any::<u8>()), 0..4),
    ) {
        let sample: [u8; 64] = usual.try_into().unwrap();
        let mut block = sample;
        for (at, byte) in odd {
            block[at] = byte;
        }
        for_each_isa!(I, name => {
            // SAFETY: `for_each_isa` only runs the forms this CPU has.
            unsafe {
                prop_assert_eq!(I::scan(&block, &sample), simd::Portable::scan(&block, &sample), "{}", name);
            }
        });
    }
}

/// Whether an extractor that learned `sample` recalls `value` by its layout.
fn ex_recalls(sample: &[u8], value: &[u8]) -> bool {
    let mut ex = crate::Extractor::new();
    let _ = ex.extract(Some(sample));
    recall(ex.shapes(), value).is_some()
}

/// What `shapes` recalls for `value`, checked to be the same in every form.
fn recall<'a>(shapes: &fast::Shapes, value: &'a [u8]) -> Option<fast::Found<'a>> {
    let mut answers = Vec::new();
    for_each_isa!(I, name => {
        // SAFETY: `for_each_isa` only runs the forms this CPU has.
        answers.push((name, unsafe { shapes.recall::<I>(value) }));
    });
    for (name, answer) in &answers {
        assert_eq!(
            *answer,
            answers[0].1,
            "{name} recalls otherwise on {:?}",
            String::from_utf8_lossy(value)
        );
    }
    answers[0].1
}

#[test]
fn borrowed_without_escapes_owned_with_them() {
    use std::borrow::Cow;
    let e = extract(Some(br#"{"product":"PD1","category":"Books"}"#)).unwrap();
    assert!(matches!(e.product, Cow::Borrowed(b"PD1")));
    assert!(matches!(e.category, Cow::Borrowed(b"Books")));
    let e = extract(Some(br#"{"product":"P\u0044","category":"Books"}"#)).unwrap();
    assert!(matches!(&e.product, Cow::Owned(v) if v == b"PD"));
    assert!(matches!(e.category, Cow::Borrowed(_)));
}

// ----- the job -----

/// Run `job.update` for `(partition, offset, value)` triples through a real decoder, one batch
/// per record, into `partial`.
fn feed(
    job: &Trending,
    partial: &mut Partial,
    recs: &[(usize, i64, Option<Vec<u8>>)],
) -> Result<(), JobError> {
    for (p, offset, value) in recs {
        let batch = one_record_batch(*offset, value.as_deref());
        let mut d = kbatch_records::Decoder::new(1 << 20).verify_crc(false);
        let chunk = kbatch_records::Chunk {
            bytes: &batch,
            start: 0,
            end: i64::MAX,
            isolation: kbatch_records::Isolation::ReadCommitted,
            aborted: &[],
        };
        match d.decode(&chunk, |r| job.update(partial, *p, r)) {
            Ok(_) => {}
            Err(kbatch_records::Stop::Job(e)) => return Err(e),
            Err(kbatch_records::Stop::Records(e)) => panic!("{e}"),
        }
    }
    Ok(())
}

fn zigzag(v: i64, out: &mut Vec<u8>) {
    let mut u = ((v << 1) ^ (v >> 63)) as u64;
    while u >= 0x80 {
        out.push(u as u8 | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

fn one_record_batch(offset: i64, value: Option<&[u8]>) -> Vec<u8> {
    let mut rec = vec![0u8];
    zigzag(0, &mut rec);
    zigzag(0, &mut rec);
    zigzag(-1, &mut rec);
    match value {
        None => zigzag(-1, &mut rec),
        Some(v) => {
            zigzag(v.len() as i64, &mut rec);
            rec.extend_from_slice(v);
        }
    }
    zigzag(0, &mut rec);
    let mut records = Vec::new();
    zigzag(rec.len() as i64, &mut records);
    records.extend(rec);
    let mut after = Vec::new();
    after.extend_from_slice(&0i16.to_be_bytes());
    after.extend_from_slice(&0i32.to_be_bytes());
    after.extend_from_slice(&0i64.to_be_bytes());
    after.extend_from_slice(&0i64.to_be_bytes());
    after.extend_from_slice(&(-1i64).to_be_bytes());
    after.extend_from_slice(&0i16.to_be_bytes());
    after.extend_from_slice(&0i32.to_be_bytes());
    after.extend_from_slice(&1i32.to_be_bytes());
    after.extend(records);
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&((after.len() + 9) as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend(after);
    out
}

fn stats(n: usize, records: &[(usize, i64, Option<Vec<u8>>)]) -> Vec<PartitionStats> {
    (0..n)
        .map(|p| PartitionStats {
            records: records.iter().filter(|r| r.0 == p).count() as u64,
            decoded: 1000,
            ..PartitionStats::empty(Arc::from("t"), p as i32, 0, 1000)
        })
        .collect()
}

fn ev(c: &str, p: &str) -> Option<Vec<u8>> {
    Some(format!(r#"{{"product":"{p}","category":"{c}"}}"#).into_bytes())
}

#[test]
fn competition_rank_keeps_ties() {
    let job = Trending {
        top: 1,
        strict: false,
    };
    let mut recs = Vec::new();
    let mut o = 0;
    for (c, p, n) in [
        ("Books", "B", 3),
        ("Books", "A", 3),
        ("Books", "C", 1),
        ("Toys", "T1", 2),
        ("Toys", "T2", 1),
        ("Toys", "T3", 1),
    ] {
        for _ in 0..n {
            recs.push((0, o, ev(c, p)));
            o += 1;
        }
    }
    let run = |top| {
        let job = Trending { top, strict: false };
        let mut partial = job.partial();
        feed(&job, &mut partial, &recs).unwrap();
        job.finish(partial, &stats(1, &recs))
            .top
            .into_iter()
            .map(|r| (r.category, r.product, r.views, r.rank))
            .collect::<Vec<_>>()
    };
    let s = |c: &str, p: &str, v, r| (c.to_string(), p.to_string(), v, r);
    assert_eq!(
        run(1),
        vec![
            s("Books", "A", 3, 1),
            s("Books", "B", 3, 1),
            s("Toys", "T1", 2, 1)
        ]
    );
    assert_eq!(
        run(2),
        vec![
            s("Books", "A", 3, 1),
            s("Books", "B", 3, 1),
            s("Toys", "T1", 2, 1),
            s("Toys", "T2", 1, 2),
            s("Toys", "T3", 1, 2)
        ]
    );
    assert_eq!(run(3).len(), 6);
    assert_eq!(run(3)[2], s("Books", "C", 1, 3));
    let _ = job;
}

#[test]
fn escaped_and_raw_spellings_count_together_and_invalid_are_sampled() {
    let job = Trending {
        top: 1,
        strict: false,
    };
    let mut recs = vec![
        (0, 0, ev("\\u00c9t\\u00e9", "P")),
        (0, 1, ev("Été", "P")),
        (0, 2, None),
        (0, 3, Some(b"{".to_vec())),
        (1, 10, Some(b"[]".to_vec())),
    ];
    for i in 0..8 {
        recs.push((1, 20 + i, Some(b"".to_vec())));
    }
    let mut partial = job.partial();
    feed(&job, &mut partial, &recs).unwrap();
    let report = job.finish(partial, &stats(2, &recs));
    assert_eq!(
        report.top,
        vec![TopRow {
            category: "Été".into(),
            product: "P".into(),
            views: 2,
            rank: 1
        }]
    );
    assert_eq!(report.records, 13);
    assert_eq!(report.invalid, 11);
    assert_eq!(report.partitions[0].invalid, 2);
    assert_eq!(report.partitions[1].invalid, 9);
    let samples: Vec<(i32, i64, &str)> = report
        .invalid_samples
        .iter()
        .map(|s| (s.partition, s.offset, s.reason))
        .collect();
    assert_eq!(
        samples,
        vec![
            (0, 2, "tombstone"),
            (0, 3, "bad_json"),
            (1, 10, "not_object"),
            (1, 20, "empty"),
            (1, 21, "empty"),
            (1, 22, "empty"),
            (1, 23, "empty")
        ]
    );
}

#[test]
fn strict_fails_at_the_first_invalid_record() {
    let job = Trending {
        top: 1,
        strict: true,
    };
    let mut partial = job.partial();
    let recs = vec![
        (0, 5, ev("C", "P")),
        (0, 6, Some(b"nope".to_vec())),
        (0, 7, ev("C", "P")),
    ];
    let err = feed(&job, &mut partial, &recs).unwrap_err();
    match err {
        JobError::Fail { offset, message } => {
            assert_eq!(offset, 6);
            assert_eq!(message, "invalid event (bad_json)");
        }
        other => panic!("{other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any split of partitions across workers, merged in any order, gives the same report.
    #[test]
    fn merge_is_order_and_split_independent(
        events in prop::collection::vec((0usize..4, 0usize..3, 0usize..6, any::<bool>()), 1..120),
        workers in 1usize..5,
        assignment in prop::collection::vec(0usize..5, 4),
        order_seed in any::<u64>(),
    ) {
        let cats = ["Books", "Toys", "\\u00c9t\\u00e9"];
        let mut per_part: Vec<Vec<Rec>> = vec![Vec::new(); 4];
        for (i, &(p, c, prod, bad)) in events.iter().enumerate() {
            let value = if bad && prod == 0 { Some(b"bad".to_vec()) } else { ev(cats[c], &format!("P{prod}")) };
            per_part[p].push((p, i as i64, value));
        }
        let all: Vec<_> = per_part.iter().flatten().cloned().collect();
        let job = Trending { top: 2, strict: false };
        // One worker owning everything.
        let mut single = job.partial();
        for part in &per_part { feed(&job, &mut single, part).unwrap(); }
        let expected = job.finish(single, &stats(4, &all));
        // `workers` partials, partitions assigned arbitrarily, merged in a shuffled order.
        let mut partials: Vec<Partial> = (0..workers).map(|_| job.partial()).collect();
        for (p, part) in per_part.iter().enumerate() {
            feed(&job, &mut partials[assignment[p] % workers], part).unwrap();
        }
        let mut rng = kbatch_testkit::rng::XorShift64::new(order_seed);
        let mut order: Vec<usize> = (0..workers).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut slots: Vec<Option<Partial>> = partials.into_iter().map(Some).collect();
        let mut merged = slots[order[0]].take().unwrap();
        for &i in &order[1..] { job.merge(&mut merged, slots[i].take().unwrap()); }
        prop_assert_eq!(job.finish(merged, &stats(4, &all)), expected);
    }
}

#[test]
fn renderings() {
    let report = Report {
        records: 3,
        invalid: 0,
        partitions: vec![],
        top: vec![
            TopRow {
                category: "Toys, \"Games\"".into(),
                product: "PD1".into(),
                views: 12,
                rank: 1,
            },
            TopRow {
                category: "Été".into(),
                product: "P\n2".into(),
                views: 3,
                rank: 1,
            },
        ],
        invalid_samples: vec![],
    };
    assert_eq!(
        render_csv(&report),
        "category,product,views,rank\r\n\"Toys, \"\"Games\"\"\",PD1,12,1\r\nÉté,\"P\n2\",3,1\r\n"
    );
    let table = render_table(&report);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "+-------------+-------+-----+----+");
    assert_eq!(lines[1], "|     category|product|views|rank|");
    assert_eq!(lines[3], "|Toys, \"Games\"|    PD1|   12|   1|");
    assert!(table.contains("|          Été|"), "{table}");
    let json: Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["top"][0]["category"], "Toys, \"Games\"");
    assert_eq!(
        json.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["invalid", "invalid_samples", "partitions", "records", "top"]
    );
}

#[test]
fn pair_hash_distinguishes_lengths_and_the_split() {
    assert_ne!(pair_hash(b"a", b"b"), pair_hash(b"a", b"b\0"));
    assert_ne!(pair_hash(b"ab", b"c"), pair_hash(b"a", b"bc"));
    assert_ne!(pair_hash(b"", b"x"), pair_hash(b"x", b""));
    assert_ne!(pair_hash(b"c", b"ab"), pair_hash(b"c", b"ba"));
}

/// Product ids that differ only in their last bytes (`PD000001`, `PD000002`, ...) must spread
/// over the table: hashbrown picks the bucket from the hash's *low* bits, and a multiply-only
/// hash leaves a last chunk's high bytes out of them (every one of these once landed in one
/// bucket, turning each probe into a walk over all of them).
#[test]
fn pair_hash_spreads_similar_keys_over_low_bits() {
    for width in [4, 6, 9, 14] {
        let mut lows = std::collections::HashSet::new();
        for i in 0..65536u32 {
            let p = format!("PD{i:0width$}");
            lows.insert(pair_hash(b"Books", p.as_bytes()) & 0xffff);
        }
        // A random function fills about 63% (1 - 1/e) of the 65536 buckets.
        assert!(
            lows.len() > 39_000,
            "width {width}: {} distinct low-16-bit buckets",
            lows.len()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Strings that differ in any one byte, at any length the tail loads handle, count apart;
    /// equal ones count together (the table's eq and hash agree with byte equality).
    #[test]
    fn counting_matches_byte_equality(
        a in prop::collection::vec(any::<u8>(), 0..40),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let job = Trending { top: 100, strict: false };
        let mut b = a.clone();
        if !b.is_empty() {
            let i = flip.index(b.len());
            b[i] ^= 1 << bit;
        }
        let mut p = job.partial();
        for (c, pr) in [(&a, &b), (&b, &a), (&a, &b), (&a, &a)] {
            p.count_for_test(c, pr);
        }
        let mut got: Vec<(Vec<u8>, Vec<u8>, u64)> =
            p.pairs().map(|(c, pr, n)| (c.to_vec(), pr.to_vec(), n)).collect();
        got.sort();
        let mut want: std::collections::BTreeMap<(Vec<u8>, Vec<u8>), u64> = Default::default();
        for (c, pr) in [(&a, &b), (&b, &a), (&a, &b), (&a, &a)] {
            *want.entry((c.clone(), pr.clone())).or_default() += 1;
        }
        let want: Vec<(Vec<u8>, Vec<u8>, u64)> =
            want.into_iter().map(|((c, pr), n)| (c, pr, n)).collect();
        prop_assert_eq!(got, want);
    }
}

// ----- ranking and order -----

/// The specification of `top`, written the slow way: every pair's rank is 1 + the pairs of its
/// category with strictly more views; keep rank <= top; order by category, rank, product bytes.
fn rank_model(pairs: &[(Vec<u8>, Vec<u8>, u64)], top: u64) -> Vec<TopRow> {
    let mut rows: Vec<(Vec<u8>, u64, Vec<u8>, u64)> = pairs
        .iter()
        .map(|(c, p, n)| {
            let above = pairs.iter().filter(|(c2, _, n2)| c2 == c && n2 > n).count();
            (c.clone(), above as u64 + 1, p.clone(), *n)
        })
        .filter(|r| r.1 <= top)
        .collect();
    rows.sort();
    rows.into_iter()
        .map(|(c, rank, p, views)| TopRow {
            category: String::from_utf8(c).unwrap(),
            product: String::from_utf8(p).unwrap(),
            views,
            rank,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn rank_matches_the_model(
        counts in prop::collection::btree_map(
            (prop::sample::select(vec!["Books", "books", "Z", "É", "a b"]),
             prop::sample::select(vec!["P1", "P2", "p1", "Ü", "P10", "", "😀"])),
            1u64..5,
            0..20,
        ),
        top in 1u64..5,
    ) {
        let pairs: Vec<(Vec<u8>, Vec<u8>, u64)> = counts
            .iter()
            .map(|(&(c, p), &n)| (c.as_bytes().to_vec(), p.as_bytes().to_vec(), n))
            .collect();
        let got = rank(pairs.iter().map(|(c, p, n)| (&c[..], &p[..], *n)), top);
        prop_assert_eq!(got, rank_model(&pairs, top));
    }
}

fn rows(report: &Report) -> Vec<(&str, &str, u64, u64)> {
    report
        .top
        .iter()
        .map(|r| (&*r.category, &*r.product, r.views, r.rank))
        .collect()
}

fn run_events(top: u32, events: &[(&str, &str, usize)]) -> Report {
    let job = Trending { top, strict: false };
    let mut recs = Vec::new();
    for &(c, p, n) in events {
        for _ in 0..n {
            recs.push((0, recs.len() as i64, ev(c, p)));
        }
    }
    let mut partial = job.partial();
    feed(&job, &mut partial, &recs).unwrap();
    job.finish(partial, &stats(1, &recs))
}

#[test]
fn a_tie_at_rank_one_leaves_no_rank_two() {
    let events = [("C", "x", 5), ("C", "y", 5), ("C", "z", 3), ("C", "w", 1)];
    assert_eq!(
        rows(&run_events(2, &events)),
        vec![("C", "x", 5, 1), ("C", "y", 5, 1)]
    );
    assert_eq!(
        rows(&run_events(3, &events)),
        vec![("C", "x", 5, 1), ("C", "y", 5, 1), ("C", "z", 3, 3)]
    );
    assert_eq!(rows(&run_events(4, &events))[3], ("C", "w", 1, 4));
    // A large `top` keeps everything; nothing is invented.
    assert_eq!(run_events(u32::MAX, &events).top.len(), 4);
}

#[test]
fn rows_are_ordered_bytewise_by_category_rank_product() {
    // 'Z' (0x5A) < 'a' (0x61) < 'É' (0xC3 0x89): byte order, not a locale's.
    let events = [
        ("É", "b", 1),
        ("a", "B", 2),
        ("a", "b", 2),
        ("a", "A", 2),
        ("a", "Z", 7),
        ("Z", "é", 1),
        ("Z", "e", 1),
    ];
    assert_eq!(
        rows(&run_events(3, &events)),
        vec![
            ("Z", "e", 1, 1),
            ("Z", "é", 1, 1),
            ("a", "Z", 7, 1),
            ("a", "A", 2, 2),
            ("a", "B", 2, 2),
            ("a", "b", 2, 2),
            ("É", "b", 1, 1),
        ]
    );
}

/// The committed producer fixture, run through the job, against a model built on serde_json:
/// the same counts, ranks and invalid samples as the slow, obvious computation.
/// Decode every record of `fixtures/batches/<file>` (read_committed, whole range) into `f`.
fn decode_fixture(file: &str, f: impl FnMut(&kbatch_records::Record<'_>) -> Result<(), JobError>) {
    let path = format!(
        "{}/../../fixtures/batches/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path} (make fixtures): {e}"));
    let mut d = kbatch_records::Decoder::new(64 << 20);
    let chunk = kbatch_records::Chunk {
        bytes: &bytes,
        start: 0,
        end: i64::MAX,
        isolation: kbatch_records::Isolation::ReadCommitted,
        aborted: &[],
    };
    d.decode(&chunk, f).unwrap();
}

#[test]
fn producer_fixture_matches_the_serde_json_model() {
    let mut values: Vec<(i64, Option<Vec<u8>>)> = Vec::new();
    let job = Trending {
        top: 3,
        strict: false,
    };
    let mut partial = job.partial();
    decode_fixture("trending-none.bin", |r| {
        values.push((r.offset, r.value.map(<[u8]>::to_vec)));
        job.update(&mut partial, 0, r)
    });
    let recs: Vec<Rec> = values.iter().map(|(o, v)| (0, *o, v.clone())).collect();
    let report = job.finish(partial, &stats(1, &recs));

    let mut counts: std::collections::BTreeMap<(Vec<u8>, Vec<u8>), u64> = Default::default();
    let mut invalid = Vec::new();
    for (offset, v) in &values {
        match reference(v.as_deref()) {
            Ok(pair) => *counts.entry(pair).or_default() += 1,
            Err(why) => invalid.push((*offset, why)),
        }
    }
    let pairs: Vec<_> = counts.into_iter().map(|((c, p), n)| (c, p, n)).collect();
    assert_eq!(report.records, 19_859);
    assert_eq!(report.invalid, invalid.len() as u64);
    assert_eq!(report.invalid, 20, "fixtures/README.md: 20 invalid values");
    assert_eq!(report.top, rank_model(&pairs, 3));
    let samples: Vec<(i64, &str)> = report
        .invalid_samples
        .iter()
        .map(|s| (s.offset, s.reason))
        .collect();
    assert_eq!(samples, invalid[..SAMPLES_PER_PARTITION].to_vec());
}

#[test]
fn table_layout() {
    let empty = Report {
        records: 0,
        invalid: 0,
        partitions: vec![],
        top: vec![],
        invalid_samples: vec![],
    };
    assert_eq!(
        render_table(&empty),
        "+--------+-------+-----+----+\n\
         |category|product|views|rank|\n\
         +--------+-------+-----+----+\n\
         +--------+-------+-----+----+\n"
    );
    assert_eq!(render_csv(&empty), "category,product,views,rank\r\n");
    let report = Report {
        top: vec![
            TopRow {
                category: "Électronique".into(),
                product: "日本".into(),
                views: 1234567,
                rank: 1,
            },
            TopRow {
                category: "Électronique".into(),
                product: "a-rather-long-product-name-that-spark-would-truncate".into(),
                views: 2,
                rank: 2,
            },
        ],
        ..empty
    };
    assert_eq!(
        render_table(&report),
        "+------------+----------------------------------------------------+-------+----+\n\
         |    category|                                             product|  views|rank|\n\
         +------------+----------------------------------------------------+-------+----+\n\
         |Électronique|                                                  日本|1234567|   1|\n\
         |Électronique|a-rather-long-product-name-that-spark-would-truncate|      2|   2|\n\
         +------------+----------------------------------------------------+-------+----+\n"
    );
}

#[test]
fn csv_quotes_only_what_rfc_4180_requires() {
    let row = |category: &str, product: &str| TopRow {
        category: category.into(),
        product: product.into(),
        views: 1,
        rank: 1,
    };
    let report = Report {
        records: 0,
        invalid: 0,
        partitions: vec![],
        top: vec![
            row("plain", "with space"),
            row("a,b", "say \"hi\""),
            row("cr\r", "lf\n"),
            row("", "'single'"),
        ],
        invalid_samples: vec![],
    };
    assert_eq!(
        render_csv(&report),
        "category,product,views,rank\r\n\
         plain,with space,1,1\r\n\
         \"a,b\",\"say \"\"hi\"\"\",1,1\r\n\
         \"cr\r\",\"lf\n\",1,1\r\n\
         ,'single',1,1\r\n"
    );
}

#[test]
fn json_field_names() {
    let report = Report {
        records: 3,
        invalid: 1,
        partitions: vec![PartitionReport {
            counts: kbatch_engine::PartitionStats {
                records: 3,
                aborted: 1,
                bytes: 4096,
                decoded: 4,
                ..kbatch_engine::PartitionStats::empty("t".into(), 2, 0, 4)
            },
            invalid: 1,
        }],
        top: vec![TopRow {
            category: "C".into(),
            product: "P".into(),
            views: 2,
            rank: 1,
        }],
        invalid_samples: vec![InvalidSample {
            topic: "t".into(),
            partition: 2,
            offset: 3,
            reason: Invalid::WrongType.as_str(),
        }],
    };
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        r#"{"records":3,"invalid":1,"partitions":[{"topic":"t","partition":2,"start":0,"end":4,"records":3,"aborted":1,"control":0,"invalid":1}],"top":[{"category":"C","product":"P","views":2,"rank":1}],"invalid_samples":[{"topic":"t","partition":2,"offset":3,"reason":"wrong_type"}]}"#
    );
}

#[test]
fn reason_codes() {
    let codes: Vec<&str> = Invalid::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "tombstone",
            "empty",
            "bad_utf8",
            "bad_json",
            "not_object",
            "duplicate_field",
            "wrong_type",
            "missing_field",
            "not_framed",
            "undecodable"
        ]
    );
}

/// RELIABILITY case 18, the codec matrix: the Java producer's none/gzip/snappy (xerial)/lz4/
/// zstd fixtures and librdkafka's raw-snappy one hold the same valid events, so the trending
/// report's `top` and valid count must be identical across all six.
#[test]
fn codec_matrix_gives_identical_aggregates() {
    let files = [
        "trending-none.bin",
        "trending-gzip.bin",
        "trending-snappy.bin",
        "trending-lz4.bin",
        "trending-zstd.bin",
        "rdkafka-snappy.bin",
    ];
    let job = Trending {
        top: 5,
        strict: false,
    };
    let mut seen: Vec<(u64, Vec<TopRow>)> = Vec::new();
    for f in files {
        let mut partial = job.partial();
        let mut recs: Vec<Rec> = Vec::new();
        decode_fixture(f, |r| {
            recs.push((0, r.offset, None));
            job.update(&mut partial, 0, r)
        });
        let report = job.finish(partial, &stats(1, &recs));
        assert!(report.top.len() >= 8, "{f}: {} rows", report.top.len());
        seen.push((report.records - report.invalid, report.top));
    }
    for (f, s) in files.iter().zip(&seen).skip(1) {
        assert_eq!(s, &seen[0], "{f} differs from {}", files[0]);
    }
}

/// Two layouts of one length are both kept (the most recent first); a third pushes out the
/// oldest, which then takes the fast path again with the same verdict.
#[test]
fn layout_cache_keeps_two_layouts_per_length() {
    let a = br#"{"customer":"cus001","product":"PD0021","category":"Books","ts":"1516978415"}"#;
    let b = br#"{"customer":"cus01","product":"PD0021","category":"Booksx","ts":"1516978415"}"#;
    let c = br#"{"customer":"cus1","product":"PD0021","category":"Booksxy","ts":"1516978415"}"#;
    assert!(a.len() == b.len() && b.len() == c.len() && a.len() > 64);
    let mut ex = crate::Extractor::new();
    for v in [&a[..], &b[..]] {
        assert!(ex.extract(Some(v)).is_ok());
    }
    let shapes = ex.shapes();
    assert!(recall(shapes, a).is_some() && recall(shapes, b).is_some());
    // Same layout as `a`, other product and customer: recalled, fields read from it.
    let a2 = br#"{"customer":"cus777","product":"PD0399","category":"Books","ts":"1516978999"}"#;
    let f = recall(shapes, a2).unwrap();
    assert_eq!((f.category, f.product), (&b"Books"[..], &b"PD0399"[..]));
    assert!(ex.extract(Some(c)).is_ok());
    let shapes = ex.shapes();
    assert!(recall(shapes, c).is_some() && recall(shapes, b).is_some());
    assert!(
        recall(shapes, a).is_none(),
        "the oldest layout was pushed out"
    );
    assert_eq!(owned(ex.extract(Some(a))), owned(extract(Some(a))));
}

/// Every byte value, in every form, is classified as the portable form does (the AVX2 form's
/// table lookups, for one, also match the control bytes 0x0C and 0x1A as `,` and `:` before
/// a mask removes them).
#[test]
fn block_classifiers_agree_on_every_byte() {
    for start in (0..=255u8).step_by(BLOCK) {
        let mut block: [u8; BLOCK] = std::array::from_fn(|k| start.wrapping_add(k as u8));
        for _ in 0..2 {
            for_each_isa!(I, name => {
                // SAFETY: `for_each_isa` only runs the forms this CPU has.
                unsafe {
                    assert_eq!(I::raw(&block), simd::Portable::raw(&block), "{name} from {start}");
                    assert_eq!(
                        I::classify(&block),
                        simd::Portable::classify(&block),
                        "{name} from {start}"
                    );
                }
            });
            block.reverse();
        }
    }
}

/// The structural tier settles what the short tier declines: long values, nesting,
/// whitespace, UTF-8 text, escapes anywhere (escaped fields and keys are unescaped, as serde_json
/// does); it declines exponents.
#[test]
fn structural_tier_settles_real_shapes() {
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    let settled = [
        format!(r#"{{"event_id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","ts":1716800000123,"product":"PD0021","category":"Küche","price":19.99,"ua":"{ua}"}}"#),
        format!(r#"{{ "ua" : "{ua}", "device": {{"os": {{"name":"Windows","v":[10,0]}}, "mobile": false}}, "tags": ["a", "b\"c"], "product": "P", "category": "Électroménager" }}"#),
        r#"{"url":"https:\/\/shop.example\/item?id=1\u00e9","product":"P","category":"Garden & Outdoors","x":[[],{},[{}]]}"#.to_string(),
        r#"  {"product":"P","category":"C","n":null,"t":true,"f":-0.5}  "#.to_string(),
        format!(r#"{{"product":"P","category":{{"n":"{ua}"}}}}"#),
        format!(r#"{{"product":"P","product":"Q","ua":"{ua}"}}"#),
        // Keys that begin like ours (the 8-byte compare must see the closing quote).
        format!(r#"{{"products":"X","categoryy":"Y","product\"":"Z","ua":"{ua}","product":"P","category":"C"}}"#),
        format!(r#"{{"ua":"{ua}", "category" : "C" ,"product"  :  "P"}}"#),
    ];
    let expect = [
        "valid",
        "valid",
        "valid",
        "valid",
        "wrong_type",
        "duplicate_field",
        "valid",
        "valid",
    ];
    // Escaped fields and keys: the tier's event, unescaped, is serde_json's.
    let escaped = [
        (r#"{"product":"P","category":"K\u00fcche"}"#, "Küche", "P"),
        (r#"{"pro\u0064uct":"P\/1","category":"C"}"#, "C", "P/1"),
        (
            r#"{"user_agent":"a\"b","product":"\ud83d\ude00 \"x\"","category":"Caf\u00e9 & Th\u00e9"}"#,
            "Café & Thé",
            "😀 \"x\"",
        ),
    ];
    for (text, category, product) in escaped {
        for_each_isa!(I, name => {
            // SAFETY: `for_each_isa` only runs the forms this CPU has.
            let v = unsafe { fast::structural::extract::<I>(text.as_bytes()) };
            let Some(Ok(f)) = v.decided() else {
                panic!("{name} did not settle {text} as an event: {v:?}");
            };
            let e = event_of(text.as_bytes(), f);
            assert_eq!(
                (&*e.category, &*e.product),
                (category.as_bytes(), product.as_bytes()),
                "{name}: {text}"
            );
        });
        assert_eq!(
            ours(Some(text.as_bytes())),
            reference(Some(text.as_bytes())),
            "{text}"
        );
    }
    let declined = [r#"{"product":"P","category":"C","n":1e5}"#];
    for (text, want) in settled.iter().zip(expect) {
        for_each_isa!(I, name => {
            // SAFETY: `for_each_isa` only runs the forms this CPU has.
            let v = unsafe { fast::structural::extract::<I>(text.as_bytes()) };
            let got = v.decided().unwrap_or_else(|| panic!("{name} declined {text}"));
            assert_eq!(got.map(|_| "valid").unwrap_or_else(Invalid::as_str), want, "{name}: {text}");
        });
        assert_eq!(
            ours(Some(text.as_bytes())),
            reference(Some(text.as_bytes())),
            "{text}"
        );
    }
    for text in declined {
        for_each_isa!(I, name => {
            // SAFETY: as above.
            let v = unsafe { fast::structural::extract::<I>(text.as_bytes()) };
            assert!(v.declined(), "{name} settled {text}");
        });
        assert_eq!(
            ours(Some(text.as_bytes())),
            reference(Some(text.as_bytes())),
            "{text}"
        );
    }
}

/// The first `n` values of a realistic mix with their labels, for a fixed seed.
pub(crate) fn realistic(
    mix: kbatch_testkit::events::Mix,
    n: usize,
) -> Vec<(Option<Vec<u8>>, Option<&'static str>)> {
    kbatch_testkit::events::labelled(mix, 2026)
        .take(n)
        .collect()
}

/// Event `i` (< 200) of a realistic mix (a tombstone as `{}`), generated once per test binary.
fn sample_event(mix: kbatch_testkit::events::Mix, i: usize) -> Vec<u8> {
    use kbatch_testkit::events::Mix;
    static SAMPLES: std::sync::OnceLock<Vec<Vec<Vec<u8>>>> = std::sync::OnceLock::new();
    let samples = SAMPLES.get_or_init(|| {
        Mix::ALL
            .iter()
            .map(|&m| {
                realistic(m, 200)
                    .into_iter()
                    .map(|(v, _)| v.unwrap_or_else(|| b"{}".to_vec()))
                    .collect()
            })
            .collect()
    });
    let m = Mix::ALL.iter().position(|&m| m == mix).unwrap();
    samples[m][i].clone()
}

/// Realistic events (`kbatch_testkit::events`): every verdict is the label the generator
/// gave and serde_json's, in every form; and the fast path settles the events it is built
/// for: every valid flat or nested event, and in the serializers' mix every one whose fields
/// have no escape.
#[test]
fn oracle_on_realistic_mixes() {
    use kbatch_testkit::events::Mix;
    for mix in Mix::ALL {
        let (mut valid, mut settled, mut escaped_fields) = (0, 0, 0);
        for (value, label) in realistic(mix, 1500) {
            let got = ours(value.as_deref());
            assert_eq!(got, reference(value.as_deref()), "{}", mix.name());
            assert_eq!(got.as_ref().err().copied(), label, "{}", mix.name());
            let Some(b) = value.as_deref() else { continue };
            if got.is_ok() {
                valid += 1;
                let decided = !dispatch::Form::best().extract(b).declined();
                settled += usize::from(decided);
                let text = String::from_utf8_lossy(b);
                let escaped = text.contains(r#""category":"Caf\u"#)
                    || text.contains(r#""category": "Caf\u"#)
                    || ["\\u00c9", "\\u00fc", "\\u00f4"]
                        .iter()
                        .any(|e| text.contains(e));
                escaped_fields += usize::from(escaped);
                assert!(decided || escaped, "fast path declined {text}");
            }
        }
        eprintln!(
            "{}: {valid} valid, {settled} settled by the fast path, {escaped_fields} with escaped fields",
            mix.name()
        );
        assert!(valid > 1450, "{}", mix.name());
    }
}

/// A realistic event with one edit the structural tier must get right: long strings that
/// move every later byte across block boundaries, escapes in the user agent, decoy
/// `product`/`category` members in nested values, numbers at the f64 edge, and a 4-byte UTF-8
/// character in the category broken at each of its positions.
fn realistic_mutation() -> impl Strategy<Value = Vec<u8>> {
    use kbatch_testkit::events::Mix;
    let base = (prop::sample::select(&Mix::ALL[..]), 0usize..200)
        .prop_map(|(mix, i)| sample_event(mix, i));
    let edit = prop_oneof![
        (1usize..200, prop::sample::select(&b"a\xc3 "[..])).prop_map(|(n, c)| Edit::LongUa(n, c)),
        prop::sample::select(
            &[
                r#"\""#,
                r"\\",
                r"\/",
                r"\u00e9",
                r"\ud83d\ude00",
                r"\ud800",
                r"\udc00x",
                r"\x",
                r"\u12",
                "\\\\\\\"",
                "\t",
                "\u{1}",
            ][..]
        )
        .prop_map(Edit::UaEscape),
        prop::sample::select(
            &[
                r#""x":{"product":"D","category":"D"},"#,
                r#""x":[{"product":"D"},{"category":["D"]}],"#,
                r#""product ":"D","#,
                r#""x":{"a":{"b":{"c":[[[{"product":1}]]]}}},"#,
                r#""x":{"product":"D","#,
                r#""x":[1,2,],"#,
                r#""x":{"a":1 "b":2},"#,
                r#""x" : [ { } , [ ] ] ,"#,
            ][..]
        )
        .prop_map(Edit::Decoy),
        prop::sample::select(
            &[
                "1.7976931348623157e308",
                "1.7976931348623159e308",
                "1e309",
                "-0.0",
                "1e-400",
                "123456789012345678901234567890",
                "01",
                "1.",
                "-",
                "2.5E+3",
                "truex",
                "nul",
            ][..]
        )
        .prop_map(Edit::Price),
        (
            0usize..4,
            prop::sample::select(&[0x00u8, 0x41, 0x80, 0xbf, 0xc0, 0xf0, 0xff][..]),
            any::<bool>()
        )
            .prop_map(|(at, byte, cut)| Edit::Utf8(at, byte, cut)),
    ];
    (base, edit).prop_map(|(mut b, edit)| {
        edit.apply(&mut b);
        b
    })
}

/// One edit of [`realistic_mutation`].
#[derive(Debug, Clone)]
enum Edit {
    /// `n` copies of a byte inside the user agent.
    LongUa(usize, u8),
    /// An escape (valid or not) or raw control byte inside the user agent.
    UaEscape(&'static str),
    /// A member inserted first in the object.
    Decoy(&'static str),
    /// The price replaced.
    Price(&'static str),
    /// `😀` in the category, byte `at` replaced by `byte` (or the sequence cut there).
    Utf8(usize, u8, bool),
}

impl Edit {
    fn apply(&self, b: &mut Vec<u8>) {
        let find = |b: &[u8], pat: &[u8]| b.windows(pat.len()).position(|w| w == pat);
        let ua = find(b, b"Mozilla").unwrap_or(b.len() / 2);
        match *self {
            Edit::LongUa(n, c) => {
                b.splice(ua..ua, std::iter::repeat_n(c, n));
            }
            Edit::UaEscape(e) => {
                b.splice(ua..ua, e.bytes());
            }
            Edit::Decoy(m) => {
                let at = b.iter().position(|&c| c == b'{').map_or(0, |i| i + 1);
                b.splice(at..at, m.bytes());
            }
            Edit::Price(n) => {
                if let Some(p) = find(b, b"\"price\"") {
                    let start = p
                        + 7
                        + b[p + 7..]
                            .iter()
                            .position(|c| c.is_ascii_digit())
                            .unwrap_or(0);
                    let end = start
                        + b[start..]
                            .iter()
                            .position(|c| !c.is_ascii_digit() && *c != b'.')
                            .unwrap_or(0);
                    b.splice(start..end, n.bytes());
                }
            }
            Edit::Utf8(at, byte, cut) => {
                let c = find(b, b"\"category\"").map_or(0, |p| p + 10);
                let q = c + b[c..].iter().position(|&x| x == b'"').map_or(0, |i| i + 1);
                let mut seq = "😀".as_bytes().to_vec();
                if cut {
                    seq.truncate(at);
                } else {
                    seq[at] = byte;
                }
                b.splice(q..q, seq);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    /// Mutated realistic events: every form, every tier, against serde_json.
    #[test]
    fn oracle_on_mutated_realistic_events(b in realistic_mutation()) {
        prop_assert_eq!(ours(Some(&b)), reference(Some(&b)), "{}", String::from_utf8_lossy(&b));
    }

    /// Realistic events with arbitrary JSON-ish byte edits.
    #[test]
    fn oracle_on_edited_realistic_events(
        i in 0usize..200,
        mix in prop::sample::select(&kbatch_testkit::events::Mix::ALL[..]),
        edits in prop::collection::vec((0u8..3, any::<prop::sample::Index>(), prop::sample::select(JSONISH)), 1..4),
    ) {
        let mut b = sample_event(mix, i);
        apply_edits(&mut b, &edits);
        prop_assert_eq!(ours(Some(&b)), reference(Some(&b)), "{}", String::from_utf8_lossy(&b));
    }
}

/// Escapes at every offset around the block boundaries, in a string before the fields: the
/// structural tier must settle each (an escaping backslash that ends a block escapes the
/// first byte of the next; the second half of a surrogate pair is no lone surrogate), and
/// agree with serde_json.
#[test]
fn structural_tier_settles_escapes_at_every_offset() {
    for escape in [r#"\""#, r"\\", r"\/", r"\u00e9", r"\ud83d\ude00", r#"\\\""#] {
        for k in 0..140 {
            let text = format!(
                r#"{{"pad":"{}{escape}x","product":"P","category":"C"}}"#,
                "a".repeat(k)
            );
            for_each_isa!(I, name => {
                // SAFETY: `for_each_isa` only runs the forms this CPU has.
                let v = unsafe { fast::structural::extract::<I>(text.as_bytes()) };
                assert!(!v.declined(), "{name} declined {text}");
            });
            assert_eq!(
                ours(Some(text.as_bytes())),
                reference(Some(text.as_bytes())),
                "{text}"
            );
        }
    }
}

/// The two fields' strings at every offset around the block boundaries, short and longer than
/// a block, with and without escapes: the structural tier finds each closing quote from the
/// block's masks, or by a byte loop when the string leaves its block, and must settle every
/// one and agree with serde_json.
#[test]
fn structural_tier_ends_fields_at_every_offset() {
    let long = "L".repeat(70);
    for field in [
        "P",
        "",
        r#"P\"Q"#,
        r"Caf\u00e9",
        r"\\",
        long.as_str(),
        &format!(r"{long}\/"),
    ] {
        for k in 0..140 {
            let text = format!(
                r#"{{"pad":"{}","product":"{field}","n":1,"category":"{field}x"}}"#,
                "a".repeat(k)
            );
            for_each_isa!(I, name => {
                // SAFETY: `for_each_isa` only runs the forms this CPU has.
                let v = unsafe { fast::structural::extract::<I>(text.as_bytes()) };
                assert!(!v.declined(), "{name} declined {text}");
            });
            let expect = reference(Some(text.as_bytes()));
            assert!(expect.is_ok(), "{text}");
            assert_eq!(ours(Some(text.as_bytes())), expect, "{text}");
        }
    }
}

/// The pushdown's algebra: shard partials summed over any split of the records, then ranked,
/// give the single run's report; invalid counts by reason sum to its `invalid`.
#[test]
fn shard_partials_summed_over_any_split_rank_as_one_run() {
    let mut recs: Vec<(usize, i64, Option<Vec<u8>>)> = Vec::new();
    let mut o = 0;
    for (c, p, n) in [
        ("Books", "A", 3),
        ("Books", "B", 3),
        ("Books", "C", 1),
        ("Toys", "T1", 2),
        ("Toys", "T2", 1),
    ] {
        for _ in 0..n {
            recs.push((0, o, ev(c, p)));
            o += 1;
        }
    }
    recs.push((0, o, None));
    recs.push((0, o + 1, Some(b"{".to_vec())));
    recs.push((0, o + 2, Some(b"".to_vec())));
    recs.push((0, o + 3, Some(b"".to_vec())));
    let job = Trending {
        top: 2,
        strict: false,
    };
    let mut whole = job.partial();
    feed(&job, &mut whole, &recs).unwrap();
    let report = job.finish(whole, &stats(1, &recs));
    // Split points (shard boundaries) into the record list, one row per case.
    let splits: &[&[usize]] = &[
        &[],
        &[1],
        &[3, 4],
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        &[10],
        &[13],
    ];
    for cuts in splits {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(recs.len());
        let mut views: std::collections::BTreeMap<(String, String), u64> = Default::default();
        let (mut records, mut invalid) = (0u64, std::collections::BTreeMap::<&str, u64>::new());
        for w in bounds.windows(2) {
            let part = &recs[w[0]..w[1]];
            let mut partial = Shard.partial();
            feed(&job, &mut partial, part).unwrap();
            let shard = Shard.finish(partial, &stats(1, part));
            for (c, p, n) in shard.pairs {
                *views.entry((c, p)).or_default() += n;
            }
            records += shard.records;
            for (why, n) in shard.invalid {
                *invalid.entry(why).or_default() += n;
            }
        }
        let pairs: Vec<(&[u8], &[u8], u64)> = views
            .iter()
            .map(|((c, p), n)| (c.as_bytes(), p.as_bytes(), *n))
            .collect();
        assert_eq!(rank(pairs.into_iter(), 2), report.top, "cuts {cuts:?}");
        assert_eq!(records, report.records, "cuts {cuts:?}");
        assert_eq!(
            invalid.values().sum::<u64>(),
            report.invalid,
            "cuts {cuts:?}"
        );
        let expected: std::collections::BTreeMap<&str, u64> =
            [("bad_json", 1), ("empty", 2), ("tombstone", 1)]
                .into_iter()
                .collect();
        assert_eq!(invalid, expected, "cuts {cuts:?}");
    }
}
