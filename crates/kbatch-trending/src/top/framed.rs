//! Registry-framed values (`--value-format avro`) for `top` and `trending`: the same paths,
//! verdicts and cells as on JSON, read from the decoded record instead of the JSON text.
//!
//! Roles:
//!
//! * Avro values whose writer schema the run has already resolved are read as they come, by
//!   the schema crate's field reader (`kbatch_schema::avro::Walker`, in `TopJob::walk`):
//!   the paths' values borrowed from the value's bytes, no column built, no copy — the same
//!   answers as the decoded column, or it declines and the record waits below;
//! * [`Pending`]: one partial's records of the current fetched chunk that passed the record
//!   filters and could not be judged at once (no field reader yet for their writer id, a
//!   declined value, or any record after such a one), copied (the chunk's bytes do not
//!   outlive it), each with its verdict so far (tombstone, empty, not_framed) — kept in
//!   offset order so samples and `--strict` see records in the order the JSON path would;
//! * [`decode_framed`]: the one call into the schema crate's decoder ([`ValueDecoder`]), in
//!   `chunk_done`, for the whole chunk at once; a body that does not decode is that record's
//!   `undecodable` verdict, every other failure (registry down, unknown id, a schema that does
//!   not parse or resolve) is the run's error;
//! * [`Resolved`] / [`lookup`]: a path over the decoded Arrow column, pure. A path sees what it
//!   would see in the value's natural JSON (`kbatch dump --value-format avro`): record fields
//!   and map keys are object keys, arrays are arrays, a null union is `null`; a scalar's text
//!   is the string itself (enums: the symbol), integers in decimal, `true`/`false`, and every
//!   other scalar (floats, decimals, dates, timestamps, bytes) as the natural JSON writes it
//!   (floats by serde_json's shortest round-trip form, bytes as base64 strings).

use std::borrow::Cow;
use std::io::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, OffsetSizeTrait};
use arrow_schema::DataType;
use kbatch_schema::SchemaError;

use crate::extract::paths::Val;
use crate::extract::Invalid;
use crate::top::spec::Step;

/// The decoder of registry-framed values: the schema crate's one column decoder, used here
/// in `decode_framed` and `project` only (Avro and Protobuf; a JSON Schema value is JSON after
/// the prefix, which `TopJob` reads with the JSON scanner instead).
pub type ValueDecoder = kbatch_schema::ColumnDecoder;

/// `decoder` decoding only the top-level `fields`: Avro's reader schema is projected (schema
/// resolution then skips the other fields' bytes); a Protobuf message is decoded whole.
pub(crate) fn project(decoder: ValueDecoder, fields: Vec<String>) -> ValueDecoder {
    match decoder {
        kbatch_schema::ColumnDecoder::Avro(d) => {
            kbatch_schema::ColumnDecoder::Avro(d.project(fields))
        }
        other => other,
    }
}

/// One buffered record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub(crate) partition: usize,
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    /// The verdict before decoding (tombstone, empty, not_framed), if any.
    pub(crate) verdict: Option<Invalid>,
    /// The framed value's bytes in [`Pending::bytes`].
    start: usize,
    end: usize,
}

/// A chunk's records that passed the record filters, in offset order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    pub(crate) rows: Vec<Row>,
    bytes: Vec<u8>,
}

impl Pending {
    /// Buffer one record: its verdict if its value cannot be a framed value, else a copy.
    pub(crate) fn push(
        &mut self,
        partition: usize,
        offset: i64,
        timestamp: i64,
        value: Option<&[u8]>,
    ) {
        let start = self.bytes.len();
        let verdict = match value {
            None => Some(Invalid::Tombstone),
            Some([]) => Some(Invalid::Empty),
            Some(v) => match kbatch_schema::framing::split(v) {
                Err(_) => Some(Invalid::NotFramed),
                Ok(_) => {
                    self.bytes.extend_from_slice(v);
                    None
                }
            },
        };
        self.rows.push(Row {
            partition,
            offset,
            timestamp,
            verdict,
            start,
            end: self.bytes.len(),
        });
    }

    /// The framed values, in row order (rows with a verdict left out).
    pub(crate) fn values(&self) -> Vec<Option<&[u8]>> {
        self.rows
            .iter()
            .filter(|r| r.verdict.is_none())
            .map(|r| Some(&self.bytes[r.start..r.end]))
            .collect()
    }

    /// Empty, keeping the allocations.
    pub(crate) fn clear(&mut self) {
        self.rows.clear();
        self.bytes.clear();
    }
}

/// Framed values decoded: the columns, and where each value landed (`None`: its body does
/// not decode).
#[derive(Debug)]
pub(crate) struct DecodedRows {
    /// Runs of consecutive decodable values, one column each.
    pub(crate) segments: Vec<ArrayRef>,
    /// Per value: (segment, row in it).
    pub(crate) place: Vec<Option<(usize, usize)>>,
}

/// Whether a decoder's error is about one value (its verdict) rather than the run.
fn per_record(e: &SchemaError) -> bool {
    matches!(e, SchemaError::Decode { .. } | SchemaError::NotFramed(_))
}

/// Decode `values` of `topic` (every one framed). A value whose body does not decode is
/// left out (`place` `None`) and the rest decoded around it; any other error is returned with
/// the index of the value that needed it.
pub(crate) fn decode_framed(
    decoder: &ValueDecoder,
    topic: &str,
    values: &[Option<&[u8]>],
) -> Result<DecodedRows, (usize, SchemaError)> {
    let n = values.len();
    let mut out = DecodedRows {
        segments: Vec::new(),
        place: vec![None; n],
    };
    let mut bad = vec![false; n];
    let mut start = 0;
    while start < n {
        let mut end = n;
        loop {
            match decoder.decode(topic, &values[start..end]) {
                Ok(d) => {
                    let seg = out.segments.len();
                    out.segments.push(d.array);
                    for (k, p) in out.place[start..end].iter_mut().enumerate() {
                        *p = Some((seg, k));
                    }
                    start = end;
                    break;
                }
                Err(e) if per_record(&e.error) => {
                    // The values before it decode; the decoder stopped at this one.
                    let at = start + e.row;
                    bad[at] = true;
                    if at == start {
                        break;
                    }
                    end = at;
                }
                Err(e) => return Err((start + e.row, e.error)),
            }
        }
        while start < n && bad[start] {
            start += 1;
        }
    }
    Ok(out)
}

/// A path's value in one row, before scalars that need text get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found<'a> {
    /// Found as is.
    Val(Val<'a>),
    /// A scalar whose text was written to the arena at `start..end`.
    Text { num: bool, start: usize, end: usize },
}

impl<'a> Found<'a> {
    /// The value, its text borrowed from `arena`.
    pub(crate) fn val<'s>(self, arena: &'s [u8]) -> Val<'s>
    where
        'a: 's,
    {
        match self {
            Found::Val(v) => v,
            Found::Text {
                num: true,
                start,
                end,
            } => Val::Num(&arena[start..end]),
            Found::Text {
                num: false,
                start,
                end,
            } => Val::Str(Cow::Borrowed(&arena[start..end])),
        }
    }
}

/// How a path ends once its leading steps through records (struct columns, the same for every
/// row of a column) are resolved.
#[derive(Debug, Clone)]
enum End<'a, 's> {
    /// The path's column.
    Leaf(&'a dyn Array),
    /// A record on the way has no such field.
    Missing,
    /// A step meets a type it cannot take (a key on a string, an index on a record).
    Blocked,
    /// A map or list on the way: the remaining steps are taken row by row.
    Rows(&'a dyn Array, &'s [Step]),
}

/// One path resolved against one decoded column.
#[derive(Debug, Clone)]
pub(crate) struct Resolved<'a, 's> {
    /// Records crossed on the way: a null one blocks the path in that row.
    crossed: Vec<&'a dyn Array>,
    end: End<'a, 's>,
}

/// Whether a decoded column's rows are objects to take paths from (a record, or a map).
pub(crate) fn is_object(root: &dyn Array) -> bool {
    matches!(root.data_type(), DataType::Struct(_) | DataType::Map(_, _))
}

impl<'a, 's> Resolved<'a, 's> {
    /// `steps` (the first a key) resolved against `root`, a record or map column.
    pub(crate) fn new(root: &'a dyn Array, steps: &'s [Step]) -> Resolved<'a, 's> {
        let mut crossed = Vec::new();
        let mut at = root;
        for (i, step) in steps.iter().enumerate() {
            match (at.data_type(), step) {
                (DataType::Struct(_), Step::Key(k)) => match at.as_struct().column_by_name(k) {
                    Some(c) => {
                        if i > 0 {
                            crossed.push(at);
                        }
                        at = c.as_ref()
                    }
                    None => {
                        if i > 0 {
                            crossed.push(at);
                        }
                        return Resolved {
                            crossed,
                            end: End::Missing,
                        };
                    }
                },
                (
                    DataType::Map(_, _)
                    | DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::FixedSizeList(_, _),
                    _,
                ) => {
                    // The container's own null is checked row by row there.
                    return Resolved {
                        crossed,
                        end: End::Rows(at, &steps[i..]),
                    };
                }
                _ => {
                    if i > 0 {
                        crossed.push(at);
                    }
                    return Resolved {
                        crossed,
                        end: End::Blocked,
                    };
                }
            }
        }
        Resolved {
            crossed,
            end: End::Leaf(at),
        }
    }

    /// The path's value in row `row` (the root not null there); text goes to `arena`.
    pub(crate) fn get(&self, row: usize, arena: &mut Vec<u8>) -> Result<Found<'a>, Invalid> {
        if self.crossed.iter().any(|c| c.is_null(row)) {
            return Ok(Found::Val(Val::Blocked));
        }
        match &self.end {
            End::Leaf(a) => Ok(leaf(*a, row, arena)),
            End::Missing => Ok(Found::Val(Val::Missing)),
            End::Blocked => Ok(Found::Val(Val::Blocked)),
            End::Rows(a, steps) => lookup(*a, row, steps, arena),
        }
    }
}

/// `steps` from row `row` of `at`, one row at a time: a key on a record or map (a map holding
/// the key twice is `duplicate_field`, as a JSON object would be), an index on a list.
pub(crate) fn lookup<'a>(
    at: &'a dyn Array,
    row: usize,
    steps: &[Step],
    arena: &mut Vec<u8>,
) -> Result<Found<'a>, Invalid> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(leaf(at, row, arena));
    };
    if at.is_null(row) {
        return Ok(Found::Val(Val::Blocked));
    }
    fn index<'a, O: OffsetSizeTrait>(
        offsets: &[O],
        values: &'a ArrayRef,
        row: usize,
        ix: u32,
    ) -> Option<(&'a dyn Array, usize)> {
        let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
        let at = start.checked_add(ix as usize).filter(|&i| i < end)?;
        Some((values.as_ref(), at))
    }
    let next = match (at.data_type(), step) {
        (DataType::Struct(_), Step::Key(k)) => {
            at.as_struct().column_by_name(k).map(|c| (c.as_ref(), row))
        }
        (DataType::Map(_, _), Step::Key(k)) => {
            let m = at.as_map();
            let offsets = m.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            let keys = m.keys();
            let mut found = None;
            for i in start..end {
                let key: Option<&[u8]> = match keys.data_type() {
                    DataType::Utf8 => Some(keys.as_string::<i32>().value(i).as_bytes()),
                    DataType::LargeUtf8 => Some(keys.as_string::<i64>().value(i).as_bytes()),
                    _ => None,
                };
                if key == Some(k.as_bytes()) {
                    if found.is_some() {
                        return Err(Invalid::DuplicateField);
                    }
                    found = Some((m.values().as_ref(), i));
                }
            }
            found
        }
        (DataType::List(_), Step::Index(ix)) => {
            let l = at.as_list::<i32>();
            index(l.value_offsets(), l.values(), row, *ix)
        }
        (DataType::LargeList(_), Step::Index(ix)) => {
            let l = at.as_list::<i64>();
            index(l.value_offsets(), l.values(), row, *ix)
        }
        (DataType::FixedSizeList(_, n), Step::Index(ix)) => {
            let l = at.as_fixed_size_list();
            let n = usize::try_from(*n).unwrap_or(0);
            ((*ix as usize) < n).then(|| (l.values().as_ref(), row * n + *ix as usize))
        }
        _ => return Ok(Found::Val(Val::Blocked)),
    };
    match next {
        Some((a, r)) => lookup(a, r, rest, arena),
        None => Ok(Found::Val(Val::Missing)),
    }
}

/// Row `row` of a path's column: null, a container, or a scalar with its text.
fn leaf<'a>(a: &'a dyn Array, row: usize, arena: &mut Vec<u8>) -> Found<'a> {
    if a.is_null(row) {
        return Found::Val(Val::Null);
    }
    macro_rules! int {
        ($t:ty) => {{
            let start = arena.len();
            let _ = write!(arena, "{}", a.as_primitive::<$t>().value(row));
            Found::Text {
                num: true,
                start,
                end: arena.len(),
            }
        }};
    }
    let text = |s: &'a str| Found::Val(Val::Str(Cow::Borrowed(s.as_bytes())));
    match a.data_type() {
        DataType::Utf8 => text(a.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => text(a.as_string::<i64>().value(row)),
        DataType::Utf8View => text(a.as_string_view().value(row)),
        DataType::Boolean => Found::Val(Val::Bool(a.as_boolean().value(row))),
        DataType::Struct(_) | DataType::Map(_, _) => Found::Val(Val::Object),
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::ListView(_)
        | DataType::LargeListView(_) => Found::Val(Val::Array),
        DataType::Int8 => int!(Int8Type),
        DataType::Int16 => int!(Int16Type),
        DataType::Int32 => int!(Int32Type),
        DataType::Int64 => int!(Int64Type),
        DataType::UInt8 => int!(UInt8Type),
        DataType::UInt16 => int!(UInt16Type),
        DataType::UInt32 => int!(UInt32Type),
        DataType::UInt64 => int!(UInt64Type),
        _ => natural(a, row, arena),
    }
}

/// Any other scalar (an enum is utf8 by now), as the natural JSON writes it: a JSON string is unescaped (its text is
/// the string), anything else is a number's text.
fn natural<'a>(a: &dyn Array, row: usize, arena: &mut Vec<u8>) -> Found<'a> {
    let start = arena.len();
    if kbatch_schema::json::write_row(arena, a, row).is_err() {
        arena.truncate(start);
        return Found::Val(Val::Blocked);
    }
    if arena.get(start) == Some(&b'"') {
        let text: Option<String> = serde_json::from_slice(&arena[start..]).ok();
        arena.truncate(start);
        match text {
            Some(t) => arena.extend_from_slice(t.as_bytes()),
            None => return Found::Val(Val::Blocked),
        }
        return Found::Text {
            num: false,
            start,
            end: arena.len(),
        };
    }
    Found::Text {
        num: true,
        start,
        end: arena.len(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::builder::{
        Float64Builder, Int64Builder, ListBuilder, MapBuilder, StringBuilder,
    };
    use arrow_array::{BooleanArray, Int32Array, StringArray, StructArray};
    use arrow_schema::{Field, Fields};

    use super::*;
    use crate::top::spec::Path;

    /// Three rows of `{page: {category, views}, tags: [..], attrs: {k: v}, price: f64,
    /// ok: bool, n: i32, name: string}` with nulls in places.
    fn column() -> ArrayRef {
        let category = StringArray::from(vec![Some("Books"), None, Some("Toys")]);
        let views = Int32Array::from(vec![Some(7), Some(-3), None]);
        let page_fields = Fields::from(vec![
            Field::new("category", DataType::Utf8, true),
            Field::new("views", DataType::Int32, true),
        ]);
        let page = StructArray::new(
            page_fields.clone(),
            vec![Arc::new(category), Arc::new(views)],
            // Row 2's page is null.
            Some(vec![true, true, false].into()),
        );
        let mut tags = ListBuilder::new(StringBuilder::new());
        tags.values().append_value("a");
        tags.values().append_value("b");
        tags.append(true);
        tags.append(true); // []
        tags.append(false); // null
        let tags = tags.finish();
        let mut attrs = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        attrs.keys().append_value("x");
        attrs.values().append_value(9_007_199_254_740_993);
        attrs.append(true).unwrap();
        attrs.keys().append_value("x");
        attrs.values().append_value(1);
        attrs.keys().append_value("x");
        attrs.values().append_value(2);
        attrs.append(true).unwrap();
        attrs.append(true).unwrap();
        let attrs = attrs.finish();
        let mut price = Float64Builder::new();
        price.append_value(12.5);
        price.append_value(0.1);
        price.append_value(1e21);
        let ok = BooleanArray::from(vec![true, false, true]);
        let fields = Fields::from(vec![
            Field::new("page", DataType::Struct(page_fields), true),
            Field::new("tags", tags.data_type().clone(), true),
            Field::new("attrs", attrs.data_type().clone(), true),
            Field::new("price", DataType::Float64, false),
            Field::new("ok", DataType::Boolean, false),
        ]);
        Arc::new(StructArray::new(
            fields,
            vec![
                Arc::new(page),
                Arc::new(tags),
                Arc::new(attrs),
                Arc::new(price.finish()),
                Arc::new(ok),
            ],
            None,
        ))
    }

    /// What a path gives, as text: `"s:…"` a string, `"n:…"` a number, else the Val's name.
    fn show(v: &Result<Val<'_>, Invalid>) -> String {
        match v {
            Ok(Val::Str(s)) => format!("s:{}", String::from_utf8_lossy(s)),
            Ok(Val::Num(n)) => format!("n:{}", String::from_utf8_lossy(n)),
            Ok(Val::Bool(b)) => format!("b:{b}"),
            Ok(other) => format!("{other:?}"),
            Err(why) => why.as_str().to_string(),
        }
    }

    #[test]
    fn paths_over_a_decoded_record() {
        let col = column();
        let table: &[(&str, [&str; 3])] = &[
            ("page.category", ["s:Books", "Null", "Blocked"]),
            ("page.views", ["n:7", "n:-3", "Blocked"]),
            ("page", ["Object", "Object", "Null"]),
            ("page.nope", ["Missing", "Missing", "Blocked"]),
            ("page.category.x", ["Blocked", "Blocked", "Blocked"]),
            ("page[0]", ["Blocked", "Blocked", "Blocked"]),
            ("nope", ["Missing", "Missing", "Missing"]),
            ("nope.deeper", ["Missing", "Missing", "Missing"]),
            ("tags", ["Array", "Array", "Null"]),
            ("tags[0]", ["s:a", "Missing", "Blocked"]),
            ("tags[1]", ["s:b", "Missing", "Blocked"]),
            ("tags[2]", ["Missing", "Missing", "Blocked"]),
            ("tags.x", ["Blocked", "Blocked", "Blocked"]),
            (
                "attrs.x",
                ["n:9007199254740993", "duplicate_field", "Missing"],
            ),
            ("attrs.y", ["Missing", "Missing", "Missing"]),
            ("attrs", ["Object", "Object", "Object"]),
            ("price", ["n:12.5", "n:0.1", "n:1e+21"]),
            ("ok", ["b:true", "b:false", "b:true"]),
        ];
        for (path, want) in table {
            let p = Path::parse(path).unwrap();
            let resolved = Resolved::new(col.as_ref(), &p.steps);
            for (row, want) in want.iter().enumerate() {
                let mut arena = Vec::new();
                let got = resolved.get(row, &mut arena).map(|f| f.val(&arena));
                assert_eq!(show(&got), *want, "{path} row {row}");
                // The row-by-row walk agrees with the resolved one.
                let mut arena2 = Vec::new();
                let walked =
                    lookup(col.as_ref(), row, &p.steps, &mut arena2).map(|f| f.val(&arena2));
                assert_eq!(show(&walked), *want, "{path} row {row} (walked)");
            }
        }
    }

    #[test]
    fn buffered_records_keep_their_verdicts_in_order() {
        let mut p = Pending::default();
        p.push(0, 10, 1, None);
        p.push(0, 11, 1, Some(b""));
        p.push(0, 12, 1, Some(b"{\"a\":1}"));
        p.push(0, 13, 1, Some(&[0, 0, 0, 0, 1, 2]));
        p.push(0, 14, 1, Some(&[0, 0, 0]));
        let verdicts: Vec<_> = p.rows.iter().map(|r| (r.offset, r.verdict)).collect();
        assert_eq!(
            verdicts,
            [
                (10, Some(Invalid::Tombstone)),
                (11, Some(Invalid::Empty)),
                (12, Some(Invalid::NotFramed)),
                (13, None),
                (14, Some(Invalid::NotFramed)),
            ]
        );
        assert_eq!(p.values(), [Some(&[0u8, 0, 0, 0, 1, 2][..])]);
        p.clear();
        assert!(p.rows.is_empty() && p.values().is_empty());
    }
}
