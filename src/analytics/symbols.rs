//! String interning for the analytics tables: every identifier, event name, platform,
//! UTM source, currency, user agent and URL of a dataset is stored once and referred to
//! by a dense `u32` symbol, so per-event columns are plain integer vectors and identity
//! stitching and grouping run over integers. The hasher is a small Fx-style multiply
//! hash: the keys are not attacker-chosen in a batch tool and SipHash would dominate the
//! cost of reading ten million rows.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The symbol of an absent value.
pub const NONE: u32 = u32::MAX;

/// A fast non-cryptographic hasher (the rustc "Fx" hash).
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with the Fx hasher.
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// An interner: each distinct string gets the next dense id.
#[derive(Clone, Debug, Default)]
pub struct Symbols {
    map: FxMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Symbols {
    pub fn new() -> Self {
        Self::default()
    }

    /// The symbol of `s`, adding it when new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.map.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        let boxed: Box<str> = s.into();
        self.names.push(boxed.clone());
        self.map.insert(boxed, id);
        id
    }

    /// The symbol of `s` if it was interned.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }

    /// The string of a symbol; the empty string for [`NONE`] or an unknown id.
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |s| s)
    }

    /// The string of a symbol, `None` for [`NONE`].
    pub fn opt_name(&self, id: u32) -> Option<&str> {
        if id == NONE {
            None
        } else {
            self.names.get(id as usize).map(|s| &**s)
        }
    }

    /// How many distinct strings were interned.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
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
        assert_eq!(s.name(1), "search");
        assert_eq!(s.opt_name(NONE), None);
        assert_eq!(s.get("nope"), None);
        assert_eq!(s.len(), 2);
    }
}
