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

/// The 128-bit fingerprint of a string.
#[inline]
pub fn fingerprint(s: &str) -> u128 {
    const K: [u64; 4] = [
        0xa076_1d64_78bd_642f,
        0xe703_7ed1_a0b4_28db,
        0x8ebc_6af0_9c88_c6e3,
        0x5899_65cc_7537_4cc3,
    ];
    let bytes = s.as_bytes();
    let len = bytes.len() as u64;
    let mut a = K[0] ^ len;
    let mut b = K[1].wrapping_add(len.rotate_left(32));
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let w = u64::from_le_bytes(w);
        a = mum(a ^ w, K[2]);
        b = mum(b ^ w.rotate_left(29), K[3]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        let w = u64::from_le_bytes(w);
        a = mum(a ^ w, K[2]);
        b = mum(b ^ w.rotate_left(29), K[3]);
    }
    (u128::from(fmix(a ^ K[3])) << 64) | u128::from(fmix(b ^ K[0]))
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
/// addressing with linear probing over fingerprints, at most 5/8 full, so that a batch
/// of lookups can touch all its slots (and then the strings of their candidates) first
/// and let the memory system fetch them in parallel ([`Symbols::intern_batch`]). The
/// strings are kept back to back in one buffer (no allocation per string), each with
/// the fingerprint bits its slot holds, so another table's strings are added without
/// hashing them again ([`Symbols::intern_from`]).
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

    /// The first slot that is empty or has these fingerprint bits, without reading
    /// any string: where [`Symbols::find`] will look first.
    #[inline]
    fn candidate(&self, (lo, hi): (u64, u32)) -> &Slot {
        let mask = self.mask();
        let mut i = lo as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.id == NONE || (s.lo == lo && s.hi == hi) {
                return s;
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
    /// of its strings in turn gives. In batches whose slots and strings are touched
    /// before they are probed, as in [`Symbols::intern_batch`].
    pub fn intern_all_from(&mut self, other: &Symbols) -> Vec<u32> {
        let mut out = Vec::with_capacity(other.len());
        self.reserve(other.len());
        let ids: Vec<u32> = (0..other.len() as u32).collect();
        for chunk in ids.chunks(1024) {
            self.prefetch(chunk.iter().map(|&id| other.keys[id as usize]));
            for &id in chunk {
                let (key, s) = (other.keys[id as usize], other.text_of(id as usize));
                let i = self.find(key, s);
                out.push(self.insert_at(i, key, s));
            }
        }
        out
    }

    /// Touches the slots of `keys`, then the strings of the slots their fingerprints
    /// match, so that the probes that follow find them in cache.
    fn prefetch(&self, keys: impl Iterator<Item = (u64, u32)> + Clone) {
        let mask = self.mask();
        let mut touch = 0u64;
        for k in keys.clone() {
            touch = touch.wrapping_add(self.slots[k.0 as usize & mask].lo);
        }
        let bytes = self.text.as_bytes();
        for k in keys {
            let s = self.candidate(k);
            if s.id != NONE {
                let (a, _) = self.span(s.id as usize);
                touch = touch.wrapping_add(u64::from(bytes.get(a).copied().unwrap_or(0)));
            }
        }
        std::hint::black_box(touch);
    }

    /// Interns many strings at once (`spans` into `text`), writing their symbols to
    /// `out`: the slots of the whole batch are touched before any is probed, then the
    /// strings of the slots whose fingerprint matches, so their cache misses overlap.
    pub fn intern_batch(&mut self, text: &str, spans: &[(u32, u32)], out: &mut Vec<u32>) {
        self.reserve(spans.len());
        let keys: Vec<(u64, u32)> = spans
            .iter()
            .map(|&(a, b)| key_of(fingerprint(&text[a as usize..b as usize])))
            .collect();
        self.prefetch(keys.iter().copied());
        out.clear();
        for (key, &(a, b)) in keys.iter().zip(spans) {
            let s = &text[a as usize..b as usize];
            let i = self.find(*key, s);
            let id = self.insert_at(i, *key, s);
            out.push(id);
        }
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
        let text = "searchfooviewfoo";
        let mut out = Vec::new();
        s.intern_batch(text, &[(0, 6), (6, 9), (9, 13), (13, 16)], &mut out);
        assert_eq!(out, vec![1, 3, 4, 3]);
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

    #[test]
    fn fingerprints_separate_close_strings() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            for s in [format!("usr-{i:08x}"), format!("anon-{i}"), format!("{i}")] {
                assert!(seen.insert(fingerprint(&s)), "{s}");
            }
        }
        // Length and trailing zero bytes matter.
        assert_ne!(fingerprint("a"), fingerprint("a\0"));
        assert_ne!(fingerprint(""), fingerprint("\0"));
        assert_ne!(fingerprint("abcdefgh"), fingerprint("abcdefgh\0"));
    }
}
