//! The general scanner for k user paths (`page.category`, `tags[0]`, …): one validating pass
//! over the whole value, by the same rules and with the same code (`general::Scanner`) as the
//! two-field scanner, descending only into the members and elements the paths name.
//!
//! The verdict on the value itself is the two-field scanner's, in its precedence: empty,
//! bad_utf8, bad_json, not_object, then duplicate_field — a key that lies on a path (a member of
//! an object the path goes through, named by the path's next step) appearing twice in that
//! object. The whole value is scanned before deciding. What each path found is a [`Val`]; the
//! job decides what a missing or non-scalar value means for its role.
//!
//! Recursion follows the paths only (their steps are bounded by the spec's parser); everything
//! else is crossed by `skip_value`, which never recurses.

use std::borrow::Cow;

use super::general::{open_object, Bad, Scanner};
use super::{Invalid, MAX_DEPTH};
use crate::top::spec::Step;

/// What one path found in a valid JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val<'a> {
    /// A key on the way is absent, or an index is past the array's end.
    Missing,
    /// A step met a value that is not the container it needs (a key step on a non-object, an
    /// index step on a non-array; `null` included).
    Blocked,
    /// `null`.
    Null,
    /// An object.
    Object,
    /// An array.
    Array,
    /// A string, unescaped (borrowed when it has no escape).
    Str(Cow<'a, [u8]>),
    /// A number, exactly as written.
    Num(&'a [u8]),
    /// `true` or `false`.
    Bool(bool),
}

impl Val<'_> {
    /// The value's text, for a scalar: strings unescaped, numbers as written, `true`/`false`.
    #[inline]
    pub(crate) fn text(&self) -> Option<&[u8]> {
        match self {
            Val::Str(s) => Some(s),
            Val::Num(n) => Some(n),
            Val::Bool(true) => Some(b"true"),
            Val::Bool(false) => Some(b"false"),
            _ => None,
        }
    }

    /// Whether the path leads to a value (of any type, `null` included).
    pub(crate) fn exists(&self) -> bool {
        !matches!(self, Val::Missing | Val::Blocked)
    }
}

/// Paths fanning out of one object member.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node {
    /// Key steps from here: the key's bytes and the child node.
    keys: Vec<(Box<[u8]>, usize)>,
    /// Each key step's first eight bytes as the fast tier compares them ([`KeyWord`]).
    words: Vec<KeyWord>,
    /// A bit per byte that starts a key step's string here (the quote for `""`): most keys
    /// of an object start with none, and one test passes them by.
    first: [u64; 4],
    /// Index steps from here.
    indices: Vec<(u32, usize)>,
    /// The path ending here, if any.
    slot: Option<usize>,
    /// Every path ending here or below (to mark them all when a step is blocked).
    below: Vec<usize>,
}

/// A key step as one 8-byte compare: the bytes a key's string starts with when it is this
/// step. A key of up to 7 bytes is its bytes and the closing quote (`word` decides alone); a
/// longer one is its first 8 bytes, and the rest is compared after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyWord {
    pub(crate) word: u64,
    pub(crate) mask: u64,
}

impl KeyWord {
    fn of(key: &[u8]) -> KeyWord {
        let mut w = [0u8; 8];
        let n = key.len().min(8);
        w[..n].copy_from_slice(&key[..n]);
        let covered = if key.len() < 8 {
            w[key.len()] = b'"';
            key.len() + 1
        } else {
            8
        };
        KeyWord {
            word: u64::from_le_bytes(w),
            mask: if covered == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * covered)) - 1
            },
        }
    }
}

/// Most key steps from one node: a bit each in a `u64` of seen keys.
pub(crate) const MAX_FANOUT: usize = 64;

/// The paths as a tree of steps from the top-level object (node 0); each distinct path is one
/// slot.
#[derive(Debug, Clone)]
pub(crate) struct PathTree {
    nodes: Vec<Node>,
    slots: usize,
}

impl PathTree {
    /// The tree of `paths` (each a list of steps, the first a key); slot `i` is `paths[i]`.
    /// Paths must be distinct; `None` if a node would fan out to more than [`MAX_FANOUT`]
    /// keys, or a path is deeper than JSON may nest.
    pub(crate) fn new(paths: &[&[Step]]) -> Option<PathTree> {
        let mut nodes = vec![Node::default()];
        for (slot, steps) in paths.iter().enumerate() {
            if steps.is_empty() || steps.len() > MAX_DEPTH {
                return None;
            }
            let mut n = 0;
            nodes[0].below.push(slot);
            for step in steps.iter() {
                let next = match step {
                    Step::Key(k) => nodes[n]
                        .keys
                        .iter()
                        .find(|(kk, _)| **kk == *k.as_bytes())
                        .map(|&(_, c)| c),
                    Step::Index(ix) => nodes[n]
                        .indices
                        .iter()
                        .find(|(i, _)| i == ix)
                        .map(|&(_, c)| c),
                };
                let c = match next {
                    Some(c) => c,
                    None => {
                        let c = nodes.len();
                        nodes.push(Node::default());
                        match step {
                            Step::Key(k) => {
                                nodes[n].keys.push((k.as_bytes().into(), c));
                                nodes[n].words.push(KeyWord::of(k.as_bytes()));
                                let f = k.as_bytes().first().copied().unwrap_or(b'"');
                                nodes[n].first[usize::from(f >> 6)] |= 1 << (f & 63);
                                if nodes[n].keys.len() > MAX_FANOUT {
                                    return None;
                                }
                            }
                            Step::Index(ix) => nodes[n].indices.push((*ix, c)),
                        }
                        c
                    }
                };
                nodes[c].below.push(slot);
                n = c;
            }
            if nodes[n].slot.replace(slot).is_some() {
                return None;
            }
        }
        Some(PathTree {
            nodes,
            slots: paths.len(),
        })
    }

    /// Number of paths.
    pub(crate) fn slots(&self) -> usize {
        self.slots
    }

    /// Node `n`, whose steps the fast tier reads once per container it enters.
    #[inline(always)]
    pub(crate) fn node(&self, n: usize) -> &Node {
        &self.nodes[n]
    }
}

impl Node {
    /// Key steps from here: each key's bytes and its child node.
    #[inline(always)]
    pub(crate) fn keys(&self) -> &[(Box<[u8]>, usize)] {
        &self.keys
    }

    /// The [`KeyWord`] of each key step from here, in the order of [`Node::keys`].
    #[inline(always)]
    pub(crate) fn words(&self) -> &[KeyWord] {
        &self.words
    }

    /// Whether a key step from here may be the key whose string starts with `byte`.
    #[inline(always)]
    pub(crate) fn may_start(&self, byte: u8) -> bool {
        self.first[usize::from(byte >> 6)] & (1 << (byte & 63)) != 0
    }

    /// Index steps from here.
    #[inline(always)]
    pub(crate) fn indices(&self) -> &[(u32, usize)] {
        &self.indices
    }
}

/// What a scan found so far: one [`Val`] per slot of a tree. Both scanners (this module's and
/// the fast tier's, `fast::paths`) record through it, so they mark found and blocked paths
/// the same way.
pub(crate) struct Sink<'a, 't, 'o> {
    pub(crate) tree: &'t PathTree,
    out: &'o mut Vec<Val<'a>>,
}

impl<'a, 't, 'o> Sink<'a, 't, 'o> {
    /// Every slot `Missing` until found.
    pub(crate) fn new(tree: &'t PathTree, out: &'o mut Vec<Val<'a>>) -> Self {
        out.clear();
        out.resize(tree.slots, Val::Missing);
        Sink { tree, out }
    }

    /// Node `n` holds `v`: its path, if one ends there, found it.
    #[inline(always)]
    pub(crate) fn set(&mut self, n: usize, v: Val<'a>) {
        self.set_at(self.tree.node(n), v);
    }

    /// [`Sink::set`] for a node already at hand.
    #[inline(always)]
    pub(crate) fn set_at(&mut self, node: &Node, v: Val<'a>) {
        if let Some(slot) = node.slot {
            self.out[slot] = v;
        }
    }

    /// Mark every path through `node` as blocked.
    #[cold]
    #[inline(never)]
    fn block(&mut self, node: &Node) {
        for &slot in &node.below {
            self.out[slot] = Val::Blocked;
        }
    }

    /// Node `n` is not an object: its key steps are blocked (a leaf has none: one test).
    #[inline(always)]
    pub(crate) fn block_keys(&mut self, n: usize) {
        self.block_keys_at(self.tree.node(n));
    }

    /// [`Sink::block_keys`] for a node already at hand.
    #[inline(always)]
    pub(crate) fn block_keys_at(&mut self, node: &Node) {
        for &(_, c) in &node.keys {
            self.block(self.tree.node(c));
        }
    }

    /// Node `n` is not an array: its index steps are blocked (most nodes have none).
    #[inline(always)]
    pub(crate) fn block_indices(&mut self, n: usize) {
        self.block_indices_at(self.tree.node(n));
    }

    /// [`Sink::block_indices`] for a node already at hand.
    #[inline(always)]
    pub(crate) fn block_indices_at(&mut self, node: &Node) {
        for &(_, c) in &node.indices {
            self.block(self.tree.node(c));
        }
    }
}

/// Find every path of `tree` in `b`: `out` gets one [`Val`] per slot, or the value's verdict.
/// The fast tier (`fast::paths`, in the instruction-set form this CPU runs best) answers
/// first; what it declines, the general scanner below settles.
#[inline]
pub(crate) fn extract_paths<'a>(
    b: &'a [u8],
    tree: &PathTree,
    out: &mut Vec<Val<'a>>,
) -> Result<(), Invalid> {
    extract_paths_in(super::dispatch::Form::best(), b, tree, out)
}

/// [`extract_paths`] with the fast tier in `form` (tests run every form).
#[inline]
pub(crate) fn extract_paths_in<'a>(
    form: super::dispatch::Form,
    b: &'a [u8],
    tree: &PathTree,
    out: &mut Vec<Val<'a>>,
) -> Result<(), Invalid> {
    match form.paths(b, tree, out) {
        Some(verdict) => verdict,
        None => extract_paths_general(b, tree, out),
    }
}

/// The general scanner: any value, one byte at a time where it must.
pub(crate) fn extract_paths_general<'a>(
    b: &'a [u8],
    tree: &PathTree,
    out: &mut Vec<Val<'a>>,
) -> Result<(), Invalid> {
    let s = open_object(b)?;
    let mut w = Walk {
        s,
        out: Sink::new(tree, out),
        duplicate: false,
    };
    let scanned = w.value(0, 0);
    w.s.ws();
    if scanned.is_err() || w.s.i != b.len() {
        return Err(Invalid::BadJson);
    }
    if w.duplicate {
        return Err(Invalid::DuplicateField);
    }
    Ok(())
}

struct Walk<'a, 't, 'o> {
    s: Scanner<'a>,
    out: Sink<'a, 't, 'o>,
    duplicate: bool,
}

impl<'a> Walk<'a, '_, '_> {
    /// The value at node `n`, with `depth` containers open around it.
    fn value(&mut self, n: usize, depth: usize) -> Result<(), Bad> {
        let s = &mut self.s;
        s.ws();
        match s.peek().ok_or(Bad)? {
            b'{' => {
                self.out.set(n, Val::Object);
                self.out.block_indices(n);
                if self.out.tree.nodes[n].keys.is_empty() {
                    return self.s.skip_value(depth);
                }
                if depth + 1 > MAX_DEPTH {
                    return Err(Bad);
                }
                self.s.i += 1;
                self.object(n, depth + 1)
            }
            b'[' => {
                self.out.set(n, Val::Array);
                self.out.block_keys(n);
                if self.out.tree.nodes[n].indices.is_empty() {
                    return self.s.skip_value(depth);
                }
                if depth + 1 > MAX_DEPTH {
                    return Err(Bad);
                }
                self.s.i += 1;
                self.array(n, depth + 1)
            }
            c => {
                let v = match c {
                    b'"' => Val::Str(s.string()?),
                    b't' => {
                        s.literal(b"true")?;
                        Val::Bool(true)
                    }
                    b'f' => {
                        s.literal(b"false")?;
                        Val::Bool(false)
                    }
                    b'n' => {
                        s.literal(b"null")?;
                        Val::Null
                    }
                    _ => {
                        let (bytes, start) = (s.b, s.i);
                        s.number()?;
                        Val::Num(&bytes[start..s.i])
                    }
                };
                self.out.set(n, v);
                self.out.block_keys(n);
                self.out.block_indices(n);
                Ok(())
            }
        }
    }

    /// Members of an object at node `n` (after its `{`), `depth` containers open.
    fn object(&mut self, n: usize, depth: usize) -> Result<(), Bad> {
        let mut seen = 0u64;
        self.s.ws();
        if self.s.peek() == Some(b'}') {
            self.s.i += 1;
            return Ok(());
        }
        loop {
            self.s.ws();
            let key = self.s.string()?;
            self.s.ws();
            self.s.expect(b':')?;
            self.s.ws();
            let hit = self.out.tree.nodes[n]
                .keys
                .iter()
                .position(|(k, _)| **k == *key);
            match hit {
                Some(j) if seen & (1 << j) == 0 => {
                    seen |= 1 << j;
                    let c = self.out.tree.nodes[n].keys[j].1;
                    self.value(c, depth)?;
                }
                Some(_) => {
                    self.duplicate = true;
                    self.s.skip_value(depth)?;
                }
                None => match self.s.peek() {
                    Some(b'"') => self.s.skip_string()?,
                    Some(b'-' | b'0'..=b'9') => self.s.number()?,
                    _ => self.s.skip_value(depth)?,
                },
            }
            self.s.ws();
            match self.s.peek() {
                Some(b',') => self.s.i += 1,
                Some(b'}') => {
                    self.s.i += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    /// Elements of an array at node `n` (after its `[`), `depth` containers open.
    fn array(&mut self, n: usize, depth: usize) -> Result<(), Bad> {
        self.s.ws();
        if self.s.peek() == Some(b']') {
            self.s.i += 1;
            return Ok(());
        }
        let mut ix: u64 = 0;
        loop {
            let hit = self.out.tree.nodes[n]
                .indices
                .iter()
                .find(|(i, _)| u64::from(*i) == ix)
                .map(|&(_, c)| c);
            match hit {
                Some(c) => self.value(c, depth)?,
                None => self.s.skip_value(depth)?,
            }
            ix += 1;
            self.s.ws();
            match self.s.peek() {
                Some(b',') => self.s.i += 1,
                Some(b']') => {
                    self.s.i += 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }
}

/// `top`'s path scanner on its own, for benchmarks and profiles: the paths of a question
/// (as `--group` and `--item` spell them) scanned out of values by [`extract_paths`], each
/// value's verdict and the number of paths it holds a scalar at.
#[doc(hidden)]
#[derive(Debug)]
pub struct PathScanner {
    tree: PathTree,
}

impl PathScanner {
    /// A scanner for `paths` (distinct); `None` if they fan out or nest too far.
    pub fn new(paths: &[crate::top::Path]) -> Option<PathScanner> {
        let steps: Vec<&[Step]> = paths.iter().map(|p| p.steps.as_slice()).collect();
        PathTree::new(&steps).map(|tree| PathScanner { tree })
    }

    /// Scan one value: how many paths lead to a string, number or boolean.
    pub fn scan(&self, value: &[u8]) -> Result<usize, Invalid> {
        let mut out = Vec::with_capacity(self.tree.slots);
        extract_paths(value, &self.tree, &mut out)?;
        Ok(out.iter().filter(|v| v.text().is_some()).count())
    }

    /// The general scanner's verdict on `value`, and each path's text (a string unescaped, a
    /// number as written, `true`/`false`; `None` for anything else): the reference that the
    /// fast tier answers as.
    pub fn texts(&self, value: &[u8]) -> Result<Vec<Option<Vec<u8>>>, Invalid> {
        let mut out = Vec::with_capacity(self.tree.slots);
        extract_paths_general(value, &self.tree, &mut out)?;
        Ok(out.iter().map(|v| v.text().map(<[u8]>::to_vec)).collect())
    }

    /// Every fast form this CPU runs against the general scanner on `value`: the first
    /// disagreement in verdict or values, described; `None` if all agree (or declined).
    pub fn disagreement(&self, value: &[u8]) -> Option<String> {
        let mut want = Vec::with_capacity(self.tree.slots);
        let general = extract_paths_general(value, &self.tree, &mut want);
        for (name, form) in super::dispatch::Form::all() {
            let Some(form) = form else { continue };
            let mut got = Vec::with_capacity(self.tree.slots);
            let verdict = extract_paths_in(form, value, &self.tree, &mut got);
            if verdict != general || (general.is_ok() && got != want) {
                return Some(format!(
                    "{name}: {verdict:?} {got:?}; general scanner: {general:?} {want:?}"
                ));
            }
        }
        None
    }
}
