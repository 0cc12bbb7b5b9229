#![no_main]
//! Differential: `top`'s path scanner. Every fast form this CPU runs (portable, SSE2, AVX2,
//! AVX-512) must give the general scanner's verdict and values, and the general scanner must
//! agree with serde_json: a value it rejects as empty, bad UTF-8 or bad JSON is one serde_json
//! rejects, one it accepts serde_json accepts, and each path's text is what serde_json finds
//! there (strings unescaped, numbers as written, booleans), nothing where serde_json finds no
//! scalar or a container of the other kind. Duplicate keys on a path are `duplicate_field`
//! (serde_json's `Value` keeps the last one and cannot see them).
use std::sync::OnceLock;

use kbatch_trending::{Invalid, Path, PathScanner};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The paths, as a user writes them, and the same steps for serde_json.
const PATHS: &[(&str, &[Step])] = &[
    ("category", &[Step::Key("category")]),
    ("page.category", &[Step::Key("page"), Step::Key("category")]),
    (
        "device.os.name",
        &[Step::Key("device"), Step::Key("os"), Step::Key("name")],
    ),
    (
        "device.os.version",
        &[Step::Key("device"), Step::Key("os"), Step::Key("version")],
    ),
    ("tags[0]", &[Step::Key("tags"), Step::Index(0)]),
    (
        "items[1].sku",
        &[Step::Key("items"), Step::Index(1), Step::Key("sku")],
    ),
    ("\"a.b\"", &[Step::Key("a.b")]),
    ("price", &[Step::Key("price")]),
];

#[derive(Debug)]
enum Step {
    Key(&'static str),
    Index(usize),
}

fn scanner() -> &'static PathScanner {
    static SCANNER: OnceLock<PathScanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let paths: Vec<Path> = PATHS
            .iter()
            .map(|(p, _)| Path::parse(p).expect("a path"))
            .collect();
        PathScanner::new(&paths).expect("a scanner for the paths")
    })
}

/// What serde_json finds along `steps` (a key step only into an object, an index step only
/// into an array, as kbatch's paths go).
fn value_at<'v>(v: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    let mut v = v;
    for s in steps {
        v = match (s, v) {
            (Step::Key(k), Value::Object(m)) => m.get(*k)?,
            (Step::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Whether the scanner's text for a path is what serde_json finds there.
fn agrees(got: Option<&[u8]>, want: Option<&Value>) -> bool {
    match (got, want) {
        (Some(g), Some(Value::String(s))) => g == s.as_bytes(),
        (Some(g), Some(Value::Bool(b))) => g == b.to_string().as_bytes(),
        // A number as written, which serde_json reads to the same number.
        (Some(g), Some(n @ Value::Number(_))) => {
            serde_json::from_slice::<Value>(g).ok().as_ref() == Some(n)
        }
        (None, None | Some(Value::Null | Value::Object(_) | Value::Array(_))) => true,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let scanner = scanner();
    if let Some(d) = scanner.disagreement(data) {
        panic!(
            "fast tier and general scanner disagree on {:?}: {d}",
            String::from_utf8_lossy(data)
        );
    }
    let json = serde_json::from_slice::<Value>(data);
    match scanner.texts(data) {
        Ok(texts) => {
            let v = json.expect("accepted a value serde_json refuses");
            assert!(v.is_object());
            for ((path, steps), got) in PATHS.iter().zip(texts) {
                let want = value_at(&v, steps);
                assert!(
                    agrees(got.as_deref(), want),
                    "path {path}: scanner {got:?}, serde_json {want:?}"
                );
            }
        }
        Err(Invalid::Empty | Invalid::BadUtf8 | Invalid::BadJson) => {
            assert!(json.is_err(), "rejected a value serde_json accepts")
        }
        Err(Invalid::NotObject) => assert!(json.is_ok_and(|v| !v.is_object())),
        Err(Invalid::DuplicateField) => assert!(json.is_ok_and(|v| v.is_object())),
        Err(other) => panic!("a verdict the value itself cannot have: {other:?}"),
    }
});
