//! The skipper on every Avro type, the paths' answers, and the schemas the walker leaves to
//! the decoder. (Its answers against `arrow-avro`'s on generated schemas and values:
//! `kbatch-trending`'s `top::framed` tests, which compare them with the job's Arrow paths.)

use super::*;

/// A zig-zag varint.
fn zz(v: i64) -> Vec<u8> {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

fn s(text: &str) -> Vec<u8> {
    let mut out = zz(text.len() as i64);
    out.extend_from_slice(text.as_bytes());
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn paths(ps: &[&str]) -> Vec<Vec<String>> {
    ps.iter()
        .map(|p| p.split('.').map(str::to_string).collect())
        .collect()
}

/// A writer `{skipped: T, k: string}` read as `{k: string}`: the walker must cross T exactly
/// to find `k`.
fn skip_then_k(t: &str, value: &[u8]) -> Option<String> {
    let writer = format!(
        r#"{{"type":"record","name":"R","fields":[{{"name":"skipped","type":{t}}},{{"name":"k","type":"string"}}]}}"#
    );
    let reader = r#"{"type":"record","name":"R","fields":[{"name":"k","type":"string"}]}"#;
    let w = Walker::new(&writer, reader, &paths(&["k"])).expect("a walker");
    let body = cat(&[value, &s("end")]);
    let mut out = Vec::new();
    if !w.read(&body, &mut out) {
        return None;
    }
    match out[0] {
        Field::Str(b) => Some(String::from_utf8(b.to_vec()).unwrap()),
        ref other => panic!("{other:?}"),
    }
}

const NODE: &str = r#"{"type":"record","name":"N","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;
const LIST: &str = r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}"#;

#[test]
fn the_skipper_crosses_every_type_exactly() {
    let neg_array = cat(&[&zz(-2), &zz(2), &zz(1), &zz(-1), &zz(0)]);
    let two_blocks = cat(&[&zz(1), &zz(5), &zz(-1), &zz(1), &zz(7), &zz(0)]);
    let map_neg = {
        let entries = cat(&[&s("x"), &s("1"), &s("yy"), &s("22")]);
        cat(&[&zz(-2), &zz(entries.len() as i64), &entries, &zz(0)])
    };
    let list3 = cat(&[&zz(1), &zz(1), &zz(2), &zz(1), &zz(3), &zz(0)]);
    let enum_t = r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#;
    let fixed_t = r#"{"type":"fixed","name":"F","size":3}"#;
    let long_min = zz(i64::MIN);
    assert_eq!(long_min.len(), 10);
    // (type, value bytes, crossed exactly?)
    let table: Vec<(&str, Vec<u8>, bool)> = vec![
        (r#""null""#, vec![], true),
        (r#""boolean""#, vec![1], true),
        (r#""boolean""#, vec![0], true),
        (r#""boolean""#, vec![2], false),
        (r#""int""#, zz(-5), true),
        (r#""int""#, zz(i32::MIN.into()), true),
        (r#""int""#, zz(i64::from(i32::MAX) + 1), false),
        // A small int in six bytes: arrow-avro's skipper refuses it.
        (r#""int""#, vec![0x82, 0x80, 0x80, 0x80, 0x80, 0x00], false),
        (r#""int""#, vec![0x82, 0x80, 0x80, 0x80, 0x00], true),
        (enum_t, vec![0x82, 0x80, 0x80, 0x80, 0x80, 0x00], false),
        (r#""long""#, long_min.clone(), true),
        (r#""long""#, zz(300), true),
        // An overlong but valid varint (the decoder reads it too).
        (r#""long""#, vec![0x81, 0x80, 0x00], true),
        // Eleven bytes; a tenth byte over 1.
        (r#""long""#, vec![0xff; 11], false),
        (r#""long""#, [vec![0xff; 9], vec![0x02]].concat(), false),
        (r#""float""#, vec![0; 4], true),
        (r#""double""#, vec![0; 8], true),
        (r#""bytes""#, cat(&[&zz(3), &[0xff, 0, 1]]), true),
        (r#""bytes""#, zz(-1), false),
        (r#""string""#, s("héllo"), true),
        (fixed_t, vec![9, 9, 9], true),
        (enum_t, zz(2), true),
        (enum_t, zz(3), false),
        (enum_t, zz(-1), false),
        (
            r#"{"type":"array","items":"long"}"#,
            neg_array.clone(),
            true,
        ),
        (r#"{"type":"array","items":"long"}"#, two_blocks, true),
        // A negative count whose size does not match its items.
        (
            r#"{"type":"array","items":"long"}"#,
            cat(&[&zz(-2), &zz(3), &zz(1), &zz(-1), &zz(0)]),
            false,
        ),
        (r#"{"type":"array","items":"long"}"#, zz(0), true),
        (r#"{"type":"map","values":"string"}"#, map_neg, true),
        (
            r#"{"type":"map","values":"string"}"#,
            cat(&[&zz(1), &s("k"), &s("v"), &zz(0)]),
            true,
        ),
        // More items than bytes left.
        (
            r#"{"type":"array","items":"null"}"#,
            cat(&[&zz(1000), &zz(0)]),
            false,
        ),
        (NODE, cat(&[&zz(7), &s("x")]), true),
        (r#"["null","string"]"#, zz(0), true),
        (r#"["null","string"]"#, cat(&[&zz(1), &s("v")]), true),
        (r#"["int","string","null"]"#, zz(2), true),
        (r#"["int","string","null"]"#, zz(3), false),
        (r#"["int","string","null"]"#, zz(-1), false),
        (r#"{"type":"int","logicalType":"date"}"#, zz(19000), true),
        (
            r#"{"type":"bytes","logicalType":"decimal","precision":5,"scale":2}"#,
            cat(&[&zz(2), &[1, 2]]),
            true,
        ),
        (LIST, list3, true),
    ];
    for (t, value, ok) in &table {
        let got = skip_then_k(t, value);
        let want = ok.then(|| "end".to_string());
        assert_eq!(got, want, "{t} {value:?}");
        if *ok && !value.is_empty() {
            // One byte short: declined, never misread.
            let short = &value[..value.len() - 1];
            let body = cat(&[short]);
            assert_ne!(
                skip_then_k(t, &body),
                Some("end".to_string()),
                "{t} {short:?} cut short"
            );
        }
    }
}

#[test]
fn a_value_short_or_left_over_is_declined() {
    let w = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"k","type":"string"}]}"#;
    let r = r#"{"type":"record","name":"R","fields":[{"name":"k","type":"string"}]}"#;
    let walker = Walker::new(w, r, &paths(&["k"])).unwrap();
    let good = cat(&[&zz(1), &s("abc")]);
    let mut out = Vec::new();
    assert!(walker.read(&good, &mut out));
    assert_eq!(out, [Field::Str(b"abc")]);
    for bad in [
        cat(&[&good, &[0]]),
        good[..good.len() - 1].to_vec(),
        vec![],
        cat(&[&zz(1), &zz(2), &[0xff, 0xfe]]), // not UTF-8
    ] {
        let mut out = Vec::new();
        assert!(!walker.read(&bad, &mut out), "{bad:?}");
    }
}

#[test]
fn paths_answer_as_the_decoded_record_would() {
    let schema = r#"{"type":"record","name":"R","namespace":"ns","fields":[
        {"name":"page","type":["null",{"type":"record","name":"Page","fields":[
            {"name":"category","type":"string"},
            {"name":"views","type":"int"},
            {"name":"kind","type":{"type":"enum","name":"K","symbols":["A","B"]}}]}]},
        {"name":"tags","type":{"type":"array","items":"string"}},
        {"name":"attrs","type":{"type":"map","values":"long"}},
        {"name":"ok","type":"boolean"},
        {"name":"n","type":["long","null"]},
        {"name":"again","type":["null","Page"]},
        {"name":"price","type":"double"}]}"#;
    let ps = paths(&[
        "page.category",
        "page.views",
        "page.kind",
        "page",
        "page.nope",
        "page.category.x",
        "nope",
        "tags",
        "attrs",
        "ok",
        "n",
        "again.category",
    ]);
    let w = Walker::new(schema, schema, &ps).expect("a walker");
    let page = cat(&[&zz(1), &s("Books"), &zz(-3), &zz(1)]);
    let rest = cat(&[
        &zz(1),
        &s("t"),
        &zz(0), // tags
        &zz(0), // attrs
        &[1],   // ok
    ]);
    let row1 = cat(&[&page, &rest, &zz(0), &zz(42), &zz(0), &[0; 8]]);
    let row2 = cat(&[&zz(0), &rest, &zz(1), &zz(0), &[0; 8]]);
    let mut out = Vec::new();
    assert!(w.read(&row1, &mut out));
    assert_eq!(
        out,
        [
            Field::Str(b"Books"),
            Field::Int(-3),
            Field::Str(b"B"),
            Field::Object,
            Field::Missing,
            Field::Blocked,
            Field::Missing,
            Field::Array,
            Field::Object,
            Field::Bool(true),
            Field::Int(42),
            Field::Blocked,
        ]
    );
    assert!(w.read(&row2, &mut out));
    assert_eq!(
        out,
        [
            Field::Blocked,
            Field::Blocked,
            Field::Blocked,
            Field::Null,
            Field::Blocked,
            Field::Blocked,
            Field::Missing,
            Field::Array,
            Field::Object,
            Field::Bool(true),
            Field::Null,
            Field::Blocked,
        ]
    );
}

#[test]
fn schemas_it_cannot_answer_for_surely_are_left_to_the_decoder() {
    let rec = |fields: &str| format!(r#"{{"type":"record","name":"R","fields":[{fields}]}}"#);
    let k = r#"{"name":"k","type":"string"}"#;
    let tree = r#"{"name":"k","type":{"type":"record","name":"T","fields":[
        {"name":"l","type":["null","T"]},{"name":"r","type":["null","T"]},
        {"name":"m","type":["null","T"]}]}}"#;
    let cases: &[(String, String, &str)] = &[
        // A float, bytes or a logical type at a path's end.
        (
            rec(r#"{"name":"k","type":"double"}"#),
            rec(r#"{"name":"k","type":"double"}"#),
            "k",
        ),
        (
            rec(r#"{"name":"k","type":"bytes"}"#),
            rec(r#"{"name":"k","type":"bytes"}"#),
            "k",
        ),
        (
            rec(r#"{"name":"k","type":{"type":"string","logicalType":"uuid"}}"#),
            rec(r#"{"name":"k","type":{"type":"string","logicalType":"uuid"}}"#),
            "k",
        ),
        // A promotion (int read as long).
        (
            rec(r#"{"name":"k","type":"int"}"#),
            rec(r#"{"name":"k","type":"long"}"#),
            "k",
        ),
        // A field from the reader's default on a path.
        (
            rec(k),
            rec(&format!(
                r#"{k},{{"name":"d","type":"string","default":"x"}}"#
            )),
            "d",
        ),
        // Through a map.
        (
            rec(r#"{"name":"k","type":{"type":"map","values":"string"}}"#),
            rec(r#"{"name":"k","type":{"type":"map","values":"string"}}"#),
            "k.x",
        ),
        // Aliases in the reader.
        (
            rec(k),
            rec(r#"{"name":"k","type":"string","aliases":["old"]}"#),
            "k",
        ),
        // A kept field of another union than [null, T].
        (
            rec(r#"{"name":"k","type":["int","string"]}"#),
            rec(r#"{"name":"k","type":["int","string"]}"#),
            "k",
        ),
        // Not a record.
        (r#""string""#.to_string(), r#""string""#.to_string(), "k"),
        // A recursive type in a kept field (a binary tree: checked once per type, not per
        // path through it, so this answers at once).
        (rec(tree), rec(tree), "k"),
        // Enum symbols that differ.
        (
            rec(r#"{"name":"k","type":{"type":"enum","name":"E","symbols":["A"]}}"#),
            rec(r#"{"name":"k","type":{"type":"enum","name":"E","symbols":["A","B"]}}"#),
            "k",
        ),
    ];
    for (w, r, p) in cases {
        assert!(
            Walker::new(w, r, &paths(&[p])).is_none(),
            "{w} as {r} for {p}"
        );
    }
    // The same schemas with a path the walker answers for.
    let ok = rec(&format!(r#"{k},{{"name":"f","type":"double"}}"#));
    assert!(Walker::new(&ok, &ok, &paths(&["k"])).is_some());
    // A reader field the writer lacks, on no path: its default is the decoder's business.
    let with_default = rec(&format!(
        r#"{k},{{"name":"d","type":"string","default":"x"}}"#
    ));
    assert!(Walker::new(&rec(k), &with_default, &paths(&["k"])).is_some());
    // A top-level key the reader lacks: missing, whatever the value.
    let w = Walker::new(&rec(k), &rec(k), &paths(&["k", "absent"])).unwrap();
    let mut out = Vec::new();
    let v = s("v");
    assert!(w.read(&v, &mut out));
    assert_eq!(out, [Field::Str(b"v"), Field::Missing]);
}
