//! The Avro field reader: a few paths' values read straight from a value's Avro binary,
//! borrowed, without building Arrow columns — for jobs that read a few fields of every record
//! (`top`, `trending`).
//!
//! A [`Walker`] is made for one (reader schema, writer schema, paths) once the writer is known
//! to resolve to the reader (`arrow-avro` built a decoder for the pair), and only where its
//! answers are provably the decoder's ([`Walker::new`] says `None` otherwise):
//!
//! * the reader is a record; every field of it that the writer has (by name) is of the very
//!   same type in both (names of fields, symbols, branches, sizes), with no logical type and
//!   no union other than `[null, T]`, and no field the reader gets from a default lies on a
//!   path; no `aliases` anywhere in the reader;
//! * each path's steps go through records (a `null` record blocks the rest), and a path ends
//!   at a string, an enum (its symbol), an int or long, a boolean, a record, an array or a map
//!   (a `[null, T]` of one of those is `null` when null) — or at a key a record lacks
//!   (missing), or at a key step on a scalar (blocked). Floats, bytes, fixed, decimals and
//!   other logical types, paths through maps or arrays, keep going through `arrow-avro`.
//!
//! [`Walker::read`] walks the value once: fields the reader lacks are skipped by their writer
//! type (varint lengths and counts, fixed widths, union branches, array and map blocks — a
//! negative block count is followed by the block's size in bytes, and the items are walked
//! and must fill exactly that size); fields the reader has are read as the decoder reads them
//! (UTF-8 checked, enum and union indexes in range). It is stricter than `arrow-avro`, never
//! looser: a value that is short, left over, or in any way unusual (a boolean byte other than
//! 0 or 1, a union index out of range, an int outside i32) is declined (`false`), and the
//! caller hands it to the decoder, whose verdict stands. So whatever it answers, the decoder
//! answers too.
//!
//! Written by hand because no kept crate walks Avro binary without materialising it:
//! `arrow-avro` builds Arrow columns, `apache-avro` an allocating `Value` tree.

use std::collections::HashMap;

use serde_json::Value;

/// Deepest nesting of types the walker follows (schema text and values alike).
const MAX_DEPTH: u32 = 64;

/// One Avro type of a parsed schema; children are indexes into [`Types::nodes`].
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(usize),
    Enum(Vec<String>),
    Array(usize),
    Map(usize),
    Record(Vec<(String, usize)>),
    Union(Vec<usize>),
    /// A type carrying a `logicalType`: skipped as its underlying type, never read.
    Logical(usize),
}

/// A parsed schema: its types, named ones resolved (recursive types are cycles of indexes).
#[derive(Debug, Clone)]
struct Types {
    nodes: Vec<Ty>,
    root: usize,
}

impl Types {
    fn parse(text: &str) -> Option<Types> {
        let v: Value = serde_json::from_str(text).ok()?;
        let mut p = Parser::default();
        let root = p.ty(&v, None, 0)?;
        Some(Types {
            nodes: p.nodes,
            root,
        })
    }
}

#[derive(Default)]
struct Parser {
    nodes: Vec<Ty>,
    names: HashMap<String, usize>,
}

impl Parser {
    fn push(&mut self, t: Ty) -> usize {
        self.nodes.push(t);
        self.nodes.len() - 1
    }

    /// A named type's full name and the namespace its members are defined in.
    fn full_name(o: &serde_json::Map<String, Value>, ns: Option<&str>) -> Option<String> {
        let name = o.get("name")?.as_str()?;
        if name.contains('.') {
            return Some(name.to_string());
        }
        let ns = match o.get("namespace") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Null) | None => ns,
            Some(_) => return None,
        };
        Some(match ns {
            Some(ns) if !ns.is_empty() => format!("{ns}.{name}"),
            _ => name.to_string(),
        })
    }

    fn register(&mut self, name: String, at: usize) -> Option<()> {
        // A name defined twice is a schema the walker does not guess about.
        self.names.insert(name, at).is_none().then_some(())
    }

    fn ty(&mut self, v: &Value, ns: Option<&str>, depth: u32) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        match v {
            Value::String(s) => self.named(s, ns),
            Value::Array(branches) => {
                let at = self.push(Ty::Union(Vec::new()));
                let mut bs = Vec::with_capacity(branches.len());
                for b in branches {
                    bs.push(self.ty(b, ns, depth + 1)?);
                }
                self.nodes[at] = Ty::Union(bs);
                Some(at)
            }
            Value::Object(o) => {
                let at = match o.get("type")? {
                    Value::String(t) => match t.as_str() {
                        "record" | "error" => {
                            let name = Self::full_name(o, ns)?;
                            let at = self.push(Ty::Record(Vec::new()));
                            self.register(name.clone(), at)?;
                            let inner = name.rsplit_once('.').map(|(n, _)| n.to_string());
                            let mut fields = Vec::new();
                            for f in o.get("fields")?.as_array()? {
                                let fname = f.get("name")?.as_str()?.to_string();
                                let t = self.ty(f.get("type")?, inner.as_deref(), depth + 1)?;
                                fields.push((fname, t));
                            }
                            self.nodes[at] = Ty::Record(fields);
                            at
                        }
                        "enum" => {
                            let name = Self::full_name(o, ns)?;
                            let symbols = o
                                .get("symbols")?
                                .as_array()?
                                .iter()
                                .map(|s| s.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()?;
                            let at = self.push(Ty::Enum(symbols));
                            self.register(name, at)?;
                            at
                        }
                        "fixed" => {
                            let name = Self::full_name(o, ns)?;
                            let size = usize::try_from(o.get("size")?.as_u64()?).ok()?;
                            let at = self.push(Ty::Fixed(size));
                            if o.contains_key("logicalType") {
                                let l = self.push(Ty::Logical(at));
                                self.register(name, l)?;
                                return Some(l);
                            }
                            self.register(name, at)?;
                            at
                        }
                        "array" => {
                            let at = self.push(Ty::Array(0));
                            let items = self.ty(o.get("items")?, ns, depth + 1)?;
                            self.nodes[at] = Ty::Array(items);
                            at
                        }
                        "map" => {
                            let at = self.push(Ty::Map(0));
                            let values = self.ty(o.get("values")?, ns, depth + 1)?;
                            self.nodes[at] = Ty::Map(values);
                            at
                        }
                        other => self.named(other, ns)?,
                    },
                    t @ (Value::Object(_) | Value::Array(_)) => self.ty(t, ns, depth + 1)?,
                    _ => return None,
                };
                if o.contains_key("logicalType") && !matches!(self.nodes[at], Ty::Logical(_)) {
                    return Some(self.push(Ty::Logical(at)));
                }
                Some(at)
            }
            _ => None,
        }
    }

    /// A primitive, or a named type defined earlier.
    fn named(&mut self, s: &str, ns: Option<&str>) -> Option<usize> {
        let t = match s {
            "null" => Ty::Null,
            "boolean" => Ty::Boolean,
            "int" => Ty::Int,
            "long" => Ty::Long,
            "float" => Ty::Float,
            "double" => Ty::Double,
            "bytes" => Ty::Bytes,
            "string" => Ty::String,
            _ => {
                if !s.contains('.') {
                    if let Some(ns) = ns.filter(|n| !n.is_empty()) {
                        if let Some(&at) = self.names.get(&format!("{ns}.{s}")) {
                            return Some(at);
                        }
                    }
                }
                return self.names.get(s).copied();
            }
        };
        Some(self.push(t))
    }
}

/// What a path found in one value (as the decoded column's natural JSON shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// A record on the way has no such field.
    Missing,
    /// A key step on a value that is not a record, or on a `null` record.
    Blocked,
    /// A `null` (of a `[null, T]` union).
    Null,
    /// A record or a map.
    Object,
    /// An array.
    Array,
    /// A string (borrowed from the value), or an enum's symbol (borrowed from the schema).
    Str(&'a [u8]),
    /// An int or a long.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// How a path ends at a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The value here.
    Leaf,
    /// The next key is not a field of this record.
    Missing,
    /// The next key meets a scalar.
    Blocked,
}

/// The paths running through one kept field, as a tree over its nested records.
#[derive(Debug, Clone, Default)]
struct Node {
    /// Paths ending here.
    here: Vec<(usize, End)>,
    /// Record fields (by writer position) the paths go on into.
    children: Vec<(usize, Node)>,
    /// Every path ending here or below (set `Blocked` when the value here is null).
    slots: Vec<usize>,
}

/// What to do with each of the writer's top-level fields, in order.
#[derive(Debug, Clone)]
enum Action {
    /// A field the reader lacks: skipped by its writer type.
    Skip(usize),
    /// A field the reader has: read as the decoder reads it, the paths through it answered.
    Read(usize, Option<Node>),
}

/// Reads the paths' values of one writer schema's values (see the module doc).
#[derive(Debug, Clone)]
pub struct Walker {
    types: Types,
    actions: Vec<Action>,
    /// Paths answered the same for every value (a top-level key the reader lacks).
    constant: Vec<(usize, Field<'static>)>,
    paths: usize,
}

/// A check over types, memoised (named types are shared, so a naive walk can be exponential),
/// with the nodes being checked: one met again inside itself is a recursive type, which the
/// walker leaves to the decoder.
struct Memo<K> {
    done: HashMap<K, bool>,
    active: Vec<K>,
}

impl<K: std::hash::Hash + Eq + Copy> Memo<K> {
    fn new() -> Memo<K> {
        Memo {
            done: HashMap::new(),
            active: Vec::new(),
        }
    }

    fn check(&mut self, k: K, f: impl FnOnce(&mut Self) -> bool) -> bool {
        if let Some(&v) = self.done.get(&k) {
            return v;
        }
        if self.active.contains(&k) || self.active.len() > MAX_DEPTH as usize {
            return false;
        }
        self.active.push(k);
        let v = f(self);
        self.active.pop();
        self.done.insert(k, v);
        v
    }
}

/// Whether the decoder reads a value of this type exactly as the walker does (see the
/// module doc), in a field the reader keeps.
fn readable(t: &Types, i: usize, m: &mut Memo<usize>) -> bool {
    m.check(i, |m| match &t.nodes[i] {
        Ty::Null
        | Ty::Boolean
        | Ty::Int
        | Ty::Long
        | Ty::Float
        | Ty::Double
        | Ty::Bytes
        | Ty::String
        | Ty::Fixed(_)
        | Ty::Enum(_) => true,
        Ty::Array(x) | Ty::Map(x) => readable(t, *x, m),
        Ty::Record(fs) => fs.iter().all(|(_, f)| readable(t, *f, m)),
        Ty::Union(_) => nullable(t, i).is_some_and(|x| readable(t, x, m)),
        Ty::Logical(_) => false,
    })
}

/// `T` of a `[null, T]` / `[T, null]` union (`T` not null, not a union).
fn nullable(t: &Types, i: usize) -> Option<usize> {
    let Ty::Union(bs) = &t.nodes[i] else {
        return None;
    };
    let inner = match bs.as_slice() {
        [a, b] if t.nodes[*a] == Ty::Null => *b,
        [a, b] if t.nodes[*b] == Ty::Null => *a,
        _ => return None,
    };
    (!matches!(t.nodes[inner], Ty::Null | Ty::Union(_))).then_some(inner)
}

/// The same type in both schemas: the same shape, field names, symbols, sizes and branches.
fn same(w: &Types, wi: usize, r: &Types, ri: usize, m: &mut Memo<(usize, usize)>) -> bool {
    m.check((wi, ri), |m| match (&w.nodes[wi], &r.nodes[ri]) {
        (Ty::Fixed(a), Ty::Fixed(b)) => a == b,
        (Ty::Enum(a), Ty::Enum(b)) => a == b,
        (Ty::Array(a), Ty::Array(b)) | (Ty::Map(a), Ty::Map(b)) => same(w, *a, r, *b, m),
        (Ty::Record(a), Ty::Record(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((na, ta), (nb, tb))| na == nb && same(w, *ta, r, *tb, m))
        }
        (Ty::Union(a), Ty::Union(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(w, *x, r, *y, m))
        }
        (Ty::Logical(_), _) | (_, Ty::Logical(_)) => false,
        (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
    })
}

/// Whether the reader schema text has `aliases` anywhere (resolution by alias is left to the
/// decoder).
fn has_aliases(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.contains_key("aliases") || o.values().any(has_aliases),
        Value::Array(a) => a.iter().any(has_aliases),
        _ => false,
    }
}

impl Walker {
    /// A walker of `writer`'s values read as `reader` (both schema texts, self-contained, the
    /// writer known to resolve to the reader) for `paths` (each a list of record field
    /// names, the first a top-level field); `None` where its answers might not be the
    /// decoder's (see the module doc).
    pub fn new(writer: &str, reader: &str, paths: &[Vec<String>]) -> Option<Walker> {
        let rv: Value = serde_json::from_str(reader).ok()?;
        if has_aliases(&rv) {
            return None;
        }
        let w = Types::parse(writer)?;
        let r = Types::parse(reader)?;
        let (Ty::Record(wf), Ty::Record(rf)) = (&w.nodes[w.root], &r.nodes[r.root]) else {
            return None;
        };
        // Every field the reader has: in the writer with the same type, or (from a default)
        // on no path.
        let (mut same_memo, mut readable_memo) = (Memo::new(), Memo::new());
        for (name, rt) in rf {
            match wf.iter().find(|(n, _)| n == name) {
                Some((_, wt)) => {
                    if !same(&w, *wt, &r, *rt, &mut same_memo)
                        || !readable(&w, *wt, &mut readable_memo)
                    {
                        return None;
                    }
                }
                None => {
                    if paths.iter().any(|p| p.first() == Some(name)) {
                        return None;
                    }
                }
            }
        }
        let mut constant = Vec::new();
        let mut nodes: Vec<Option<Node>> = vec![None; wf.len()];
        for (slot, path) in paths.iter().enumerate() {
            let first = path.first()?;
            if !rf.iter().any(|(n, _)| n == first) {
                constant.push((slot, Field::Missing));
                continue;
            }
            let at = wf.iter().position(|(n, _)| n == first)?;
            let node = nodes[at].get_or_insert_with(Node::default);
            place(&w, wf[at].1, node, slot, &path[1..])?;
        }
        let actions = wf
            .iter()
            .zip(nodes)
            .map(|((name, t), node)| {
                if rf.iter().any(|(n, _)| n == name) {
                    Action::Read(*t, node)
                } else {
                    Action::Skip(*t)
                }
            })
            .collect();
        Some(Walker {
            types: w,
            actions,
            constant,
            paths: paths.len(),
        })
    }

    /// The paths' values of one Avro body (without the framing prefix), one per path in
    /// `out`; `false` (and `out` unspecified) when the value is declined — short, left over,
    /// or unusual in any way — for the decoder to judge.
    pub fn read<'a>(&'a self, body: &'a [u8], out: &mut Vec<Field<'a>>) -> bool {
        out.clear();
        out.resize(self.paths, Field::Blocked);
        if body.is_empty() {
            return false;
        }
        for &(slot, f) in &self.constant {
            out[slot] = f;
        }
        let mut c = Cursor { buf: body, pos: 0 };
        for a in &self.actions {
            let ok = match a {
                Action::Skip(t) => self.skip(*t, &mut c, 0).is_some(),
                Action::Read(t, node) => self.value(*t, &mut c, node.as_ref(), out, 0).is_some(),
            };
            if !ok {
                return false;
            }
        }
        c.pos == body.len()
    }

    /// Read one value of type `t` as the decoder would, answering `node`'s paths.
    fn value<'a>(
        &'a self,
        t: usize,
        c: &mut Cursor<'a>,
        node: Option<&Node>,
        out: &mut [Field<'a>],
        depth: u32,
    ) -> Option<Field<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let v = match &self.types.nodes[t] {
            Ty::Null => Field::Null,
            Ty::Boolean => Field::Bool(c.boolean()?),
            Ty::Int => Field::Int(c.int()?.into()),
            Ty::Long => Field::Int(c.long()?),
            Ty::String => {
                let s = c.bytes()?;
                std::str::from_utf8(s).ok()?;
                Field::Str(s)
            }
            Ty::Enum(symbols) => {
                let i = usize::try_from(c.int()?).ok()?;
                Field::Str(symbols.get(i)?.as_bytes())
            }
            Ty::Record(fields) => {
                for (k, (_, ft)) in fields.iter().enumerate() {
                    let child = node.and_then(|n| n.children.iter().find(|(i, _)| *i == k));
                    self.value(*ft, c, child.map(|(_, n)| n), out, depth + 1)?;
                }
                Field::Object
            }
            Ty::Union(bs) => {
                let b = *bs.get(usize::try_from(c.long()?).ok()?)?;
                // Only `[null, T]` is read (`Walker::new`): the branch is the value.
                return self.value(b, c, node, out, depth + 1);
            }
            Ty::Array(x) => {
                self.blocks(c, depth, |c| {
                    self.value(*x, c, None, &mut [], depth + 1).map(|_| ())
                })?;
                Field::Array
            }
            Ty::Map(x) => {
                self.blocks(c, depth, |c| {
                    std::str::from_utf8(c.bytes()?).ok()?;
                    self.value(*x, c, None, &mut [], depth + 1).map(|_| ())
                })?;
                Field::Object
            }
            Ty::Float | Ty::Double | Ty::Bytes | Ty::Fixed(_) | Ty::Logical(_) => {
                self.skip(t, c, depth)?;
                // Never a path's end (`Walker::new`).
                Field::Blocked
            }
        };
        if let Some(n) = node {
            for &(slot, end) in &n.here {
                out[slot] = match (end, v) {
                    (End::Leaf, v) => v,
                    (End::Missing, Field::Null) | (End::Blocked, _) => Field::Blocked,
                    (End::Missing, _) => Field::Missing,
                };
            }
            if v == Field::Null {
                for &slot in &n.slots {
                    if !n.here.iter().any(|(s, _)| *s == slot) {
                        out[slot] = Field::Blocked;
                    }
                }
            }
        }
        Some(v)
    }

    /// Skip one value of type `t` by its writer type.
    fn skip(&self, t: usize, c: &mut Cursor<'_>, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match &self.types.nodes[t] {
            Ty::Null => {}
            Ty::Boolean => {
                c.boolean()?;
            }
            Ty::Int => {
                c.int()?;
            }
            Ty::Long => {
                c.long()?;
            }
            Ty::Float => {
                c.fixed(4)?;
            }
            Ty::Double => {
                c.fixed(8)?;
            }
            Ty::Bytes | Ty::String => {
                c.bytes()?;
            }
            Ty::Fixed(n) => {
                c.fixed(*n)?;
            }
            Ty::Enum(symbols) => {
                let i = usize::try_from(c.int()?).ok()?;
                if i >= symbols.len() {
                    return None;
                }
            }
            Ty::Record(fields) => {
                for (_, f) in fields {
                    self.skip(*f, c, depth + 1)?;
                }
            }
            Ty::Union(bs) => {
                let b = *bs.get(usize::try_from(c.long()?).ok()?)?;
                self.skip(b, c, depth + 1)?;
            }
            Ty::Array(x) => self.blocks(c, depth, |c| self.skip(*x, c, depth + 1))?,
            Ty::Map(x) => self.blocks(c, depth, |c| {
                c.bytes()?;
                self.skip(*x, c, depth + 1)
            })?,
            Ty::Logical(x) => self.skip(*x, c, depth + 1)?,
        }
        Some(())
    }

    /// An array's or a map's blocks, each item by `item`: a count, a negative one followed by
    /// the block's size in bytes (which the items must fill exactly), until a zero count.
    fn blocks<'b>(
        &self,
        c: &mut Cursor<'b>,
        depth: u32,
        mut item: impl FnMut(&mut Cursor<'b>) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        loop {
            let count = c.long()?;
            if count == 0 {
                return Some(());
            }
            let n = count.unsigned_abs();
            let size = if count < 0 {
                Some(usize::try_from(c.long()?).ok()?)
            } else {
                None
            };
            // Every item the walker reads takes a byte at least; more items than bytes left
            // (items of `null`, or nonsense) are the decoder's to judge.
            if n > (c.buf.len() - c.pos) as u64 {
                return None;
            }
            let start = c.pos;
            for _ in 0..n {
                let before = c.pos;
                item(c)?;
                if c.pos == before {
                    return None;
                }
            }
            if size.is_some_and(|s| c.pos - start != s) {
                return None;
            }
        }
    }
}

/// Put path `slot`'s remaining `steps` into `node`, the node of a value of type `t`;
/// `None` where the walker does not answer for the path.
fn place(w: &Types, t: usize, node: &mut Node, slot: usize, steps: &[String]) -> Option<()> {
    node.slots.push(slot);
    let inner = nullable(w, t).unwrap_or(t);
    let Some((key, rest)) = steps.split_first() else {
        let leaf_ok = matches!(
            w.nodes[inner],
            Ty::Boolean
                | Ty::Int
                | Ty::Long
                | Ty::String
                | Ty::Enum(_)
                | Ty::Record(_)
                | Ty::Array(_)
                | Ty::Map(_)
        );
        if !leaf_ok {
            return None;
        }
        node.here.push((slot, End::Leaf));
        return Some(());
    };
    match &w.nodes[inner] {
        Ty::Record(fields) => match fields.iter().position(|(n, _)| n == key) {
            Some(k) => {
                let ft = fields[k].1;
                let child = match node.children.iter().position(|(i, _)| *i == k) {
                    Some(i) => &mut node.children[i].1,
                    None => {
                        node.children.push((k, Node::default()));
                        &mut node.children.last_mut().expect("just pushed").1
                    }
                };
                place(w, ft, child, slot, rest)
            }
            None => {
                node.here.push((slot, End::Missing));
                Some(())
            }
        },
        // Keys of maps and indexes of arrays are looked up row by row by the decoder's path.
        Ty::Map(_) | Ty::Array(_) => None,
        Ty::Boolean | Ty::Int | Ty::Long | Ty::String | Ty::Enum(_) => {
            node.here.push((slot, End::Blocked));
            Some(())
        }
        _ => None,
    }
}

/// A position in a body.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A varint of at most 10 bytes, the tenth 0 or 1 (as the decoder reads them).
    #[inline]
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for k in 0..10 {
            let b = *self.buf.get(self.pos + k)?;
            if k == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * k);
            if b < 0x80 {
                self.pos += k + 1;
                return Some(v);
            }
        }
        None
    }

    #[inline]
    fn long(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// An int: its zig-zag varint fits 32 bits in at most 5 bytes (the decoder's skipper
    /// refuses longer ones, even for small values).
    #[inline]
    fn int(&mut self) -> Option<i32> {
        let start = self.pos;
        let v = self.varint()?;
        if self.pos - start > 5 {
            return None;
        }
        let v = u32::try_from(v).ok()?;
        Some((v >> 1) as i32 ^ -((v & 1) as i32))
    }

    #[inline]
    fn boolean(&mut self) -> Option<bool> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        match b {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    #[inline]
    fn fixed(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    #[inline]
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.long()?).ok()?;
        self.fixed(n)
    }
}

#[cfg(test)]
mod tests;
