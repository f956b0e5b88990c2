//! String interning for the analytics tables: every identifier, event name, platform,
//! UTM source, currency, user agent and URL of a dataset is stored once and referred to
//! by a dense `u32` symbol, so per-event columns are plain integer vectors and identity
//! stitching and grouping run over integers.
//!
//! Strings are keyed by a fingerprint (two independent 64-bit multiply-mix lanes over
//! the bytes): the table keeps 96 bits of it and a match is confirmed on the string
//! itself, so two strings share a symbol only when they are equal. Delivery duplicates
//! (`messageId`) are found by all 128 bits of the fingerprint, without storing the ids:
//! with ten million distinct ids the chance that two of them share a fingerprint is
//! about 10^-25 (documented in docs/analytics.md).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The symbol of an absent value.
pub const NONE: u32 = u32::MAX;

#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The seeds and multipliers of [`fingerprint`]'s two lanes.
const K: [u64; 4] = [
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

/// Calls `f` on each little-endian 8-byte word of `bytes`, the last one zero-padded.
#[inline(always)]
fn for_each_word(bytes: &[u8], mut f: impl FnMut(u64)) {
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        f(u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        f(u64::from_le_bytes(w));
    }
}

/// The 128-bit fingerprint of a string.
#[inline]
pub fn fingerprint(s: &str) -> u128 {
    let bytes = s.as_bytes();
    let len = bytes.len() as u64;
    let mut a = K[0] ^ len;
    let mut b = K[1].wrapping_add(len.rotate_left(32));
    for_each_word(bytes, |w| {
        a = mum(a ^ w, K[2]);
        b = mum(b ^ w.rotate_left(29), K[3]);
    });
    (u128::from(fmix(a ^ K[3])) << 64) | u128::from(fmix(b ^ K[0]))
}

/// The top 64 bits of [`fingerprint`] (its first lane alone): the hash that routes an
/// id to its [`IdLog`] partition (top bits) and places it in the partition's table (low
/// bits), where a match is confirmed on the string.
#[inline]
fn id_hash(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut a = K[0] ^ bytes.len() as u64;
    for_each_word(bytes, |w| a = mum(a ^ w, K[2]));
    fmix(a ^ K[3])
}

/// A hasher for keys that are fingerprints already: it keeps their low 64 bits.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than the integers below; fold them in.
        for (i, b) in bytes.iter().enumerate() {
            self.0 ^= u64::from(*b) << ((i % 8) * 8);
        }
        self.0 = fmix(self.0);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.0 ^= i as u64;
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = fmix(self.0.rotate_left(23) ^ i);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0 = fmix(self.0.rotate_left(23) ^ u64::from(i));
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` for integer keys (fingerprints, symbols): no SipHash.
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<PassThrough>>;
/// A `HashSet` of fingerprints.
pub type FingerprintSet = HashSet<u128, BuildHasherDefault<PassThrough>>;

/// One slot of the open-addressing table: 96 bits of a fingerprint and its symbol
/// (16 bytes). A fingerprint match is confirmed on the string, so the table is exact.
#[derive(Clone, Copy)]
struct Slot {
    lo: u64,
    hi: u32,
    id: u32,
}

const EMPTY: Slot = Slot {
    lo: 0,
    hi: 0,
    id: NONE,
};

/// An interner: each distinct string gets the next dense id. The table is open
/// addressing with linear probing over fingerprints, at most 5/8 full. The strings are
/// kept back to back in one buffer (no allocation per string), each with the
/// fingerprint bits its slot holds, so another table's strings are added without
/// hashing them again ([`Symbols::intern_all_from`]). User and anonymous ids, which
/// run to millions, are interned apart ([`IdLog`]).
#[derive(Clone, Default)]
pub struct Symbols {
    slots: Vec<Slot>,
    /// Every string, back to back, in symbol order.
    text: String,
    /// The end of each symbol's string in `text` (its start is the previous one's end).
    ends: Vec<usize>,
    /// Each symbol's fingerprint bits, as its slot holds them.
    keys: Vec<(u64, u32)>,
}

impl std::fmt::Debug for Symbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Symbols({} strings)", self.ends.len())
    }
}

/// The bits of a fingerprint a slot keeps.
#[inline]
fn key_of(fp: u128) -> (u64, u32) {
    (fp as u64, (fp >> 64) as u32)
}

impl Symbols {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The byte range of symbol `id`'s string in `text`.
    #[inline]
    fn span(&self, id: usize) -> (usize, usize) {
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        (start, self.ends[id])
    }

    #[inline]
    fn text_of(&self, id: usize) -> &str {
        let (a, b) = self.span(id);
        &self.text[a..b]
    }

    /// Makes room for `more` new strings, the table at most 5/8 full.
    fn reserve(&mut self, more: usize) {
        let need = (self.ends.len() + more) * 8 / 5 + 1;
        if self.slots.len() >= need.max(16) {
            return;
        }
        let cap = need.max(16).next_power_of_two();
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; cap]);
        let mask = cap - 1;
        for s in old.into_iter().filter(|s| s.id != NONE) {
            let mut i = s.lo as usize & mask;
            while self.slots[i].id != NONE {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// The slot of `text` (whose fingerprint bits are `key`): where it is, or the empty
    /// slot where it would go. A slot matches on its fingerprint bits and then on the
    /// string itself, so two strings are one symbol only when they are equal.
    #[inline]
    fn find(&self, (lo, hi): (u64, u32), text: &str) -> usize {
        let mask = self.mask();
        let mut i = lo as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.id == NONE || (s.lo == lo && s.hi == hi && self.text_of(s.id as usize) == text) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn insert_at(&mut self, i: usize, key: (u64, u32), s: &str) -> u32 {
        if self.slots[i].id != NONE {
            return self.slots[i].id;
        }
        let id = self.ends.len() as u32;
        self.slots[i] = Slot {
            lo: key.0,
            hi: key.1,
            id,
        };
        self.text.push_str(s);
        self.ends.push(self.text.len());
        self.keys.push(key);
        id
    }

    /// The symbol of `s`, adding it when new.
    #[inline]
    pub fn intern(&mut self, s: &str) -> u32 {
        self.reserve(1);
        let key = key_of(fingerprint(s));
        let i = self.find(key, s);
        self.insert_at(i, key, s)
    }

    /// The symbols in this table of all of `other`'s symbols, in its order (each added
    /// when new), from the fingerprints `other` kept: what [`Symbols::intern`] of each
    /// of its strings in turn gives, without hashing them again.
    pub fn intern_all_from(&mut self, other: &Symbols) -> Vec<u32> {
        self.reserve(other.len());
        (0..other.len())
            .map(|id| {
                let (key, s) = (other.keys[id], other.text_of(id));
                let i = self.find(key, s);
                self.insert_at(i, key, s)
            })
            .collect()
    }

    /// The symbol of `s` if it was interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let id = self.slots[self.find(key_of(fingerprint(s)), s)].id;
        (id != NONE).then_some(id)
    }

    /// The string of a symbol; the empty string for [`NONE`] or an unknown id.
    pub fn name(&self, id: u32) -> &str {
        if (id as usize) < self.ends.len() {
            self.text_of(id as usize)
        } else {
            ""
        }
    }

    /// The string of a symbol, `None` for [`NONE`].
    pub fn opt_name(&self, id: u32) -> Option<&str> {
        ((id as usize) < self.ends.len()).then(|| self.text_of(id as usize))
    }

    /// How many distinct strings were interned.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// Strings by dense symbol, without a lookup table: the user and anonymous ids of a
/// dataset once interned ([`IdLog::intern`]), which are only ever named, never looked up.
/// Kept as the partitions that interned them, each with the first symbol it holds.
#[derive(Clone, Default)]
pub struct Names {
    parts: Vec<NamePart>,
    len: usize,
}

/// The strings of consecutive symbols from `base` on.
#[derive(Clone, Default)]
struct NamePart {
    base: usize,
    /// Every string, back to back, in symbol order.
    text: String,
    /// The end of each symbol's string in `text`.
    ends: Vec<usize>,
}

impl NamePart {
    #[inline]
    fn get(&self, local: usize) -> &str {
        let start = if local == 0 { 0 } else { self.ends[local - 1] };
        &self.text[start..self.ends[local]]
    }

    /// Adds a string, returning its local index.
    #[inline]
    fn push(&mut self, s: &str) -> u32 {
        self.text.push_str(s);
        self.ends.push(self.text.len());
        (self.ends.len() - 1) as u32
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Names({} strings)", self.len)
    }
}

impl Names {
    /// The string of a symbol; the empty string for [`NONE`] or an unknown id.
    pub fn name(&self, id: u32) -> &str {
        self.opt_name(id).unwrap_or("")
    }

    /// The string of a symbol, `None` for [`NONE`] or an unknown id.
    pub fn opt_name(&self, id: u32) -> Option<&str> {
        let id = id as usize;
        if id >= self.len {
            return None;
        }
        // The last part starting at or before `id` (parts are never empty).
        let k = self.parts.partition_point(|p| p.base <= id) - 1;
        let part = &self.parts[k];
        Some(part.get(id - part.base))
    }

    /// How many distinct strings there are.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How many partitions [`IdLog`] routes ids to (by the top bits of their fingerprint).
/// Fixed, so that the symbols do not depend on the thread count; at this many, the
/// table of one partition stays in a core's cache for up to a few million ids in all.
const ID_PARTS: usize = 256;

impl IdPart {
    /// Logs `text` (whose [`id_hash`] is `h`) as the user or anonymous id of `row`.
    #[inline]
    fn push(&mut self, row: u32, anon: bool, text: &str, h: u64) {
        self.entries
            .push([row << 1 | u32::from(anon), text.len() as u32, h as u32]);
        self.text.push_str(text);
    }
}

/// The partition of an id by its [`id_hash`].
#[inline]
fn id_part(h: u64) -> usize {
    (h >> 56) as usize % ID_PARTS
}

/// Calls `put(p, k)` for every `k` in `0..parts.len()`, grouped by partition
/// `parts[k]` in ascending order and in order within each (a counting sort), so that
/// a batch is appended one partition at a time, a run of writes each, instead of
/// scattered over every partition's buffer. `order` is scratch space.
fn in_partition_order(parts: &[u8], order: &mut Vec<u32>, mut put: impl FnMut(usize, usize)) {
    let mut start = [0u32; ID_PARTS + 1];
    for &p in parts {
        start[p as usize + 1] += 1;
    }
    for p in 0..ID_PARTS {
        start[p + 1] += start[p];
    }
    let mut cursor = start;
    order.clear();
    order.resize(parts.len(), 0);
    for (k, &p) in parts.iter().enumerate() {
        let c = &mut cursor[p as usize];
        order[*c as usize] = k as u32;
        *c += 1;
    }
    for p in 0..ID_PARTS {
        for &k in &order[start[p] as usize..start[p + 1] as usize] {
            put(p, k as usize);
        }
    }
}

/// The ids of one partition, as met: per occurrence, (where it goes, its length, its
/// hash), its text back to back in `text`.
#[derive(Default)]
struct IdPart {
    /// (row << 1 | is anonymous, byte length, low 32 bits of [`id_hash`]); the length
    /// becomes the partition-local symbol once interned.
    entries: Vec<[u32; 3]>,
    text: String,
}

/// User and anonymous ids met while reading a funnel stream, waiting to be interned:
/// each occurrence is routed by its fingerprint to one of [`ID_PARTS`] partitions, so
/// that interning ([`IdLog::intern`]) runs partition by partition in parallel, each
/// partition over a table small enough to stay in cache (one table of every id would
/// take a cache and TLB miss per occurrence), and no two threads ever meet the same id.
///
/// Symbols are dense: the partitions' ids in partition order, each partition's in the
/// order its occurrences were logged (row order). They depend on the ids and the rows
/// only, not on the thread count or how the rows were split into logs.
pub(crate) struct IdLog {
    log: Joined<IdPart>,
}

/// Logs of consecutive runs of rows, joined in row order: `(first row, partitions)`
/// each. Rows are logged into the first; the others come from [`Joined::extend`].
struct Joined<P> {
    logs: Vec<(u32, Vec<P>)>,
}

impl<P: Default> Joined<P> {
    fn new() -> Self {
        Self {
            logs: vec![(
                0,
                std::iter::repeat_with(P::default).take(ID_PARTS).collect(),
            )],
        }
    }

    /// The partitions rows are logged into.
    #[inline]
    fn own(&mut self) -> &mut [P] {
        &mut self.logs[0].1
    }

    /// Appends `other`, whose rows start at row `first_row` of this one's table.
    fn extend(&mut self, first_row: u32, other: Self) {
        self.logs
            .extend(other.logs.into_iter().map(|(r, l)| (first_row + r, l)));
    }
}

impl Default for IdLog {
    fn default() -> Self {
        Self::new()
    }
}

/// A partition's table while interning: per slot, the low 32 bits of the id's hash and
/// its local symbol ([`NONE`]: empty). Open addressing with linear probing, at most
/// half full; a hash match is confirmed on the string.
struct IdTable {
    slots: Vec<(u32, u32)>,
    len: usize,
}

impl IdTable {
    /// Empties the table, keeping `cap` (a power of two) slots.
    fn reset(&mut self, cap: usize) {
        self.slots.clear();
        self.slots.resize(cap, (0, NONE));
        self.len = 0;
    }

    fn grow(&mut self) {
        let cap = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![(0, NONE); cap]);
        let mask = cap - 1;
        for (h, id) in old.into_iter().filter(|s| s.1 != NONE) {
            let mut i = h as usize & mask;
            while self.slots[i].1 != NONE {
                i = (i + 1) & mask;
            }
            self.slots[i] = (h, id);
        }
    }

    /// The local symbol of `s` (the low 32 bits of whose [`id_hash`] are `h`) in
    /// `names`, adding it when new.
    #[inline]
    fn intern(&mut self, s: &str, h: u32, names: &mut NamePart) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let (sh, id) = self.slots[i];
            if id == NONE {
                let id = names.push(s);
                self.slots[i] = (h, id);
                self.len += 1;
                return id;
            }
            if sh == h && names.get(id as usize) == s {
                return id;
            }
            i = (i + 1) & mask;
        }
    }
}

impl IdLog {
    pub fn new() -> Self {
        Self { log: Joined::new() }
    }

    /// Makes room for about `n` more ids of `bytes` bytes of text in all (spread
    /// evenly over the partitions by their hash), so that the partitions' buffers are
    /// not grown, copied and faulted in again and again.
    pub fn reserve(&mut self, n: usize, bytes: usize) {
        let each = n / ID_PARTS + n / ID_PARTS / 8 + 16;
        let text = bytes / ID_PARTS + bytes / ID_PARTS / 8 + 256;
        for p in self.log.own() {
            p.entries.reserve(each);
            p.text.reserve(text);
        }
    }

    /// Logs id `text` of row `row` (the anonymous id when `anon`).
    #[inline]
    pub fn push(&mut self, row: u32, anon: bool, text: &str) {
        let h = id_hash(text);
        self.log.own()[id_part(h)].push(row, anon, text, h);
    }

    /// Logs a batch of ids, `(row, anonymous, text)` in row order, one partition at a
    /// time (the same log as [`Self::push`] of each in turn).
    pub fn push_batch(&mut self, ids: &[(u32, bool, &str)], scratch: &mut Vec<u32>) {
        let hashes: Vec<u64> = ids.iter().map(|(_, _, t)| id_hash(t)).collect();
        let parts: Vec<u8> = hashes.iter().map(|&h| id_part(h) as u8).collect();
        let own = self.log.own();
        in_partition_order(&parts, scratch, |p, k| {
            let (row, anon, text) = ids[k];
            own[p].push(row, anon, text, hashes[k]);
        });
    }

    /// Appends `other`, whose rows start at row `first_row` of this log's table.
    pub fn extend(&mut self, first_row: u32, other: IdLog) {
        self.log.extend(first_row, other.log);
    }

    /// Interns every logged id, partitions in parallel, and writes each occurrence's
    /// symbol to row `row` of `user` or `anon`; returns the ids by symbol.
    pub fn intern(self, user: &mut [u32], anon: &mut [u32]) -> Names {
        use rayon::prelude::*;
        let mut logs = self.log.logs;
        // Per partition, its share of every log, in row order.
        let mut by_part: Vec<Vec<(u32, &mut IdPart)>> =
            std::iter::repeat_with(Vec::new).take(ID_PARTS).collect();
        for (first_row, parts) in &mut logs {
            for (p, part) in parts.iter_mut().enumerate() {
                if !part.entries.is_empty() {
                    by_part[p].push((*first_row, part));
                }
            }
        }
        // Each partition's strings; the length of each occurrence is replaced by its
        // partition-local symbol. One table per thread, reused.
        let mut parts: Vec<NamePart> = by_part
            .par_iter_mut()
            .map_init(
                || IdTable {
                    slots: Vec::new(),
                    len: 0,
                },
                |table, shares| {
                    let mut names = NamePart::default();
                    // Room for every occurrence to be new, up to a cache's size.
                    let occurrences: usize = shares.iter().map(|(_, p)| p.entries.len()).sum();
                    table.reset(occurrences.next_power_of_two().clamp(1 << 10, 1 << 18));
                    for (_, part) in shares.iter_mut() {
                        let mut at = 0usize;
                        for e in part.entries.iter_mut() {
                            let end = at + e[1] as usize;
                            e[1] = table.intern(&part.text[at..end], e[2], &mut names);
                            at = end;
                        }
                        part.text = String::new();
                    }
                    names
                },
            )
            .collect();
        let mut len = 0;
        for p in &mut parts {
            p.base = len;
            len += p.ends.len();
        }
        // Every occurrence is one (row, column) of its own, so the writes never meet.
        let user = as_atomic(user);
        let anon = as_atomic(anon);
        by_part.par_iter().enumerate().for_each(|(p, shares)| {
            let base = parts[p].base as u32;
            for (first_row, part) in shares {
                for e in &part.entries {
                    let row = (first_row + (e[0] >> 1)) as usize;
                    let col = if e[0] & 1 == 1 { anon } else { user };
                    col[row].store(base + e[1], std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        parts.retain(|p| !p.ends.is_empty());
        Names { parts, len }
    }
}

/// The message ids of a funnel stream's rows, as 128-bit fingerprints, routed like ids
/// to [`ID_PARTS`] partitions by their top bits: delivery duplicates (rows whose
/// message an earlier row has) are then found partition by partition in parallel, each
/// over a set small enough to stay in cache.
pub(crate) struct MessageLog {
    /// Per partition, (fingerprint as two halves, row) in row order; 24 bytes an entry.
    log: Joined<Vec<([u64; 2], u32)>>,
}

/// The partition of a message fingerprint.
#[inline]
fn message_part(fp: u128) -> usize {
    (fp >> 120) as usize % ID_PARTS
}

impl Default for MessageLog {
    fn default() -> Self {
        Self::new()
    }
}

impl MessageLog {
    pub fn new() -> Self {
        Self { log: Joined::new() }
    }

    /// Makes room for about `n` more messages.
    pub fn reserve(&mut self, n: usize) {
        let each = n / ID_PARTS + n / ID_PARTS / 8 + 16;
        for p in self.log.own() {
            p.reserve(each);
        }
    }

    /// Logs the message fingerprint `fp` of row `row`.
    #[inline]
    pub fn push(&mut self, row: u32, fp: u128) {
        self.log.own()[message_part(fp)].push(([(fp >> 64) as u64, fp as u64], row));
    }

    /// Logs a batch of `(row, fingerprint)` in row order, one partition at a time (the
    /// same log as [`Self::push`] of each in turn).
    pub fn push_batch(&mut self, messages: &[(u32, u128)], scratch: &mut Vec<u32>) {
        let parts: Vec<u8> = messages
            .iter()
            .map(|&(_, fp)| message_part(fp) as u8)
            .collect();
        let own = self.log.own();
        in_partition_order(&parts, scratch, |p, k| {
            let (row, fp) = messages[k];
            own[p].push(([(fp >> 64) as u64, fp as u64], row));
        });
    }

    /// Appends `other`, whose rows start at row `first_row` of this log's table.
    pub fn extend(&mut self, first_row: u32, other: MessageLog) {
        self.log.extend(first_row, other.log);
    }

    /// The rows whose message an earlier row has, ascending.
    pub fn duplicates(self) -> Vec<u32> {
        use rayon::prelude::*;
        let logs = self.log.logs;
        let mut dups: Vec<u32> = (0..ID_PARTS)
            .into_par_iter()
            .map_init(FingerprintSet::default, |seen, p| {
                seen.clear();
                seen.reserve(logs.iter().map(|(_, l)| l[p].len()).sum());
                let mut dups = Vec::new();
                for (first_row, log) in &logs {
                    for &([hi, lo], row) in &log[p] {
                        if !seen.insert((u128::from(hi) << 64) | u128::from(lo)) {
                            dups.push(first_row + row);
                        }
                    }
                }
                dups
            })
            .flatten()
            .collect();
        dups.sort_unstable();
        dups
    }
}

/// A column viewed as atomics, so that threads may write disjoint rows of it.
fn as_atomic(v: &mut [u32]) -> &[std::sync::atomic::AtomicU32] {
    // SAFETY: `AtomicU32` has the size, alignment and bit validity of `u32`, and the
    // unique borrow of `v` is held for the lifetime of the returned slice.
    unsafe { &*(v as *mut [u32] as *const [std::sync::atomic::AtomicU32]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_dense_and_stable() {
        let mut s = Symbols::new();
        assert_eq!(s.intern("visit"), 0);
        assert_eq!(s.intern("search"), 1);
        assert_eq!(s.intern("visit"), 0);
        assert_eq!(s.intern(""), 2);
        assert_eq!(s.name(1), "search");
        assert_eq!(s.opt_name(NONE), None);
        assert_eq!(s.get("nope"), None);
        assert_eq!(s.get("search"), Some(1));
        assert_eq!(s.len(), 3);
        for (text, id) in [("search", 1), ("foo", 3), ("view", 4), ("foo", 3)] {
            assert_eq!(s.intern(text), id);
        }
        assert_eq!(s.name(4), "view");
        // Growing keeps every symbol.
        for i in 0..10_000 {
            s.intern(&format!("k{i}"));
        }
        assert_eq!(s.get("view"), Some(4));
        assert_eq!(s.get("k9999"), Some(10_004));
    }

    /// Another table's symbols added by their kept fingerprints land where interning
    /// their strings would, and strings whose fingerprints share a slot stay apart.
    #[test]
    fn interning_from_another_table_matches_interning_the_strings() {
        let mut a = Symbols::new();
        let mut b = Symbols::new();
        for i in 0..5_000 {
            a.intern(&format!("usr-{i}"));
            b.intern(&format!("usr-{}", i * 3));
        }
        let mut by_text = a.clone();
        let via_text: Vec<u32> = (0..b.len() as u32)
            .map(|s| by_text.intern(b.name(s)))
            .collect();
        let via_keys = a.intern_all_from(&b);
        assert_eq!(via_keys, via_text);
        assert_eq!(a.len(), by_text.len());
        assert_eq!(
            a.len(),
            5_000 + (0..5_000).filter(|i| i * 3 >= 5_000).count()
        );
        for s in 0..a.len() as u32 {
            assert_eq!(a.name(s), by_text.name(s));
            assert_eq!(a.get(a.name(s)), Some(s));
        }
        // A slot with the same fingerprint bits but another string is not a match.
        let mut t = Symbols::new();
        let x = t.intern("x");
        let key = t.keys[x as usize];
        t.reserve(1);
        let i = t.find(key, "y");
        assert_eq!(
            t.slots[i].id, NONE,
            "a fingerprint hit with other bytes is a miss"
        );
        assert_eq!(t.insert_at(i, key, "y"), 1);
        assert_eq!((t.name(0), t.name(1)), ("x", "y"));
        assert_eq!(t.get("x"), Some(0));
    }

    /// The naive model of [`IdLog`]'s symbols: distinct ids ordered by (partition,
    /// first occurrence), occurrences in row order, user id before anonymous id.
    fn naive_symbols(rows: &[(Option<String>, Option<String>)]) -> Vec<(u32, u32)> {
        let mut first: Vec<(usize, usize, &str)> = Vec::new();
        let mut k = 0;
        for (u, a) in rows {
            for id in [u, a].into_iter().flatten() {
                if !first.iter().any(|f| f.2 == id.as_str()) {
                    first.push(((id_hash(id) >> 56) as usize, k, id.as_str()));
                }
                k += 1;
            }
        }
        first.sort();
        let sym = |id: &Option<String>| {
            id.as_ref().map_or(NONE, |id| {
                first.iter().position(|f| f.2 == id.as_str()).unwrap() as u32
            })
        };
        rows.iter().map(|(u, a)| (sym(u), sym(a))).collect()
    }

    proptest::proptest! {
        /// Interned partition by partition, over logs split anywhere, the ids get the
        /// naive model's symbols, and each symbol names its id.
        #[test]
        fn logged_ids_intern_as_the_naive_model_says(
            rows in proptest::collection::vec(
                (proptest::option::of(0u8..40), proptest::option::of(0u8..40)),
                0..300,
            ),
            cuts in proptest::collection::vec(0usize..300, 0..4),
        ) {
            let rows: Vec<(Option<String>, Option<String>)> = rows
                .into_iter()
                .map(|(u, a)| (u.map(|u| format!("usr-{u}")), a.map(|a| format!("anon-{}", a % 7))))
                .collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(rows.len())).collect();
            cuts.push(0);
            cuts.push(rows.len());
            cuts.sort();
            let mut log: Option<IdLog> = None;
            for (k, w) in cuts.windows(2).enumerate() {
                let mut part = IdLog::new();
                // Every other log in batches.
                let mut batch: Vec<(u32, bool, &str)> = Vec::new();
                for (r, (u, a)) in rows[w[0]..w[1]].iter().enumerate() {
                    for (id, anon) in [(u, false), (a, true)] {
                        match id {
                            Some(id) if k % 2 == 1 => batch.push((r as u32, anon, id)),
                            Some(id) => part.push(r as u32, anon, id),
                            None => {}
                        }
                    }
                }
                part.push_batch(&batch, &mut Vec::new());
                match &mut log {
                    None => log = Some(part),
                    Some(l) => l.extend(w[0] as u32, part),
                }
            }
            let mut user = vec![NONE; rows.len()];
            let mut anon = vec![NONE; rows.len()];
            let names = log.unwrap().intern(&mut user, &mut anon);
            let got: Vec<(u32, u32)> = user.iter().copied().zip(anon.iter().copied()).collect();
            proptest::prop_assert_eq!(&got, &naive_symbols(&rows));
            for ((u, a), (su, sa)) in rows.iter().zip(&got) {
                proptest::prop_assert_eq!(u.as_deref(), names.opt_name(*su));
                proptest::prop_assert_eq!(a.as_deref(), names.opt_name(*sa));
            }
            let distinct: std::collections::BTreeSet<&String> =
                rows.iter().flat_map(|(u, a)| [u, a]).flatten().collect();
            proptest::prop_assert_eq!(names.len(), distinct.len());
            proptest::prop_assert_eq!(names.opt_name(names.len() as u32), None);
        }
    }

    proptest::proptest! {
        /// The duplicates are the rows whose message an earlier row has, however the
        /// rows were split into logs.
        #[test]
        fn duplicate_messages_are_the_repeats_of_earlier_rows(
            msgs in proptest::collection::vec(proptest::option::of(0u8..60), 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..4),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(msgs.len())).collect();
            cuts.push(0);
            cuts.push(msgs.len());
            cuts.sort();
            let fp = |m: u8| fingerprint(&format!("msg-{m}"));
            let mut log: Option<MessageLog> = None;
            for (k, w) in cuts.windows(2).enumerate() {
                let mut part = MessageLog::new();
                part.reserve(w[1] - w[0]);
                // Every other log in batches.
                let mut batch = Vec::new();
                for (r, m) in msgs[w[0]..w[1]].iter().enumerate() {
                    match m {
                        Some(m) if k % 2 == 1 => batch.push((r as u32, fp(*m))),
                        Some(m) => part.push(r as u32, fp(*m)),
                        None => {}
                    }
                }
                part.push_batch(&batch, &mut Vec::new());
                match &mut log {
                    None => log = Some(part),
                    Some(l) => l.extend(w[0] as u32, part),
                }
            }
            let naive: Vec<u32> = (0..msgs.len())
                .filter(|&r| msgs[r].is_some() && msgs[..r].contains(&msgs[r]))
                .map(|r| r as u32)
                .collect();
            proptest::prop_assert_eq!(log.unwrap().duplicates(), naive);
        }
    }

    /// A partition whose ids outgrow its table keeps every id apart (the table grows
    /// and re-places them), and ids with equal hash bits are told apart by their text.
    #[test]
    fn a_partition_table_grows_and_confirms_on_the_text() {
        let mut t = IdTable {
            slots: Vec::new(),
            len: 0,
        };
        t.reset(16);
        let mut names = NamePart::default();
        for i in 0..5_000u32 {
            let id = format!("id-{i}");
            assert_eq!(t.intern(&id, id_hash(&id) as u32, &mut names), i);
        }
        for i in (0..5_000u32).rev() {
            let id = format!("id-{i}");
            assert_eq!(t.intern(&id, id_hash(&id) as u32, &mut names), i);
        }
        assert!(t.slots.len() >= 10_000);
        // A slot holding the same hash bits for another string is no match.
        let mut t = IdTable {
            slots: Vec::new(),
            len: 0,
        };
        t.reset(16);
        let mut names = NamePart::default();
        let x = t.intern("x", id_hash("x") as u32, &mut names);
        let i = t.slots.iter().position(|s| s.1 == x).unwrap();
        let h = id_hash("y") as u32;
        t.slots[i].0 = h;
        let mask = t.slots.len() - 1;
        t.slots.swap(i, h as usize & mask);
        assert_eq!(t.intern("y", h, &mut names), 1);
        assert_eq!((names.get(0), names.get(1)), ("x", "y"));
    }

    #[test]
    fn fingerprints_separate_close_strings() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            for s in [format!("usr-{i:08x}"), format!("anon-{i}"), format!("{i}")] {
                assert!(seen.insert(fingerprint(&s)), "{s}");
            }
        }
        // The ids' hash is the fingerprint's first lane.
        for s in [
            "",
            "a",
            "usr-a268b646e3",
            "anon-e387c928b58c",
            "exactly8",
            "sixteen-bytes-ab",
        ] {
            assert_eq!(id_hash(s), (fingerprint(s) >> 64) as u64, "{s}");
        }
        // Length and trailing zero bytes matter.
        assert_ne!(fingerprint("a"), fingerprint("a\0"));
        assert_ne!(fingerprint(""), fingerprint("\0"));
        assert_ne!(fingerprint("abcdefgh"), fingerprint("abcdefgh\0"));
    }
}
