//! Random values for property tests: a small deterministic generator that the
//! generated `arbitrary(g, version)` functions draw from. Proptest supplies the seed.

use crate::primitives::Uuid;
use bytes::Bytes;

/// A deterministic pseudo-random source (xorshift64*).
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
}

impl Gen {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Gen {
        Gen {
            state: seed ^ 0x9e37_79b9_7f4a_7c15 | 1,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A random `i8`.
    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }
    /// A random `i16`.
    pub fn i16(&mut self) -> i16 {
        self.next_u64() as i16
    }
    /// A random `i32`, often small or -1.
    pub fn i32(&mut self) -> i32 {
        match self.below(4) {
            0 => -1,
            1 => self.below(100) as i32,
            _ => self.next_u64() as i32,
        }
    }
    /// A random `i64`, often small or -1.
    pub fn i64(&mut self) -> i64 {
        match self.below(4) {
            0 => -1,
            1 => self.below(100) as i64,
            _ => self.next_u64() as i64,
        }
    }
    /// A random `u16`.
    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }
    /// A random `u32`.
    pub fn u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    /// A random finite `f64`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / 1024.0
    }
    /// A random `bool`.
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
    /// A random UUID.
    pub fn uuid(&mut self) -> Uuid {
        let mut a = [0u8; 16];
        a[..8].copy_from_slice(&self.next_u64().to_be_bytes());
        a[8..].copy_from_slice(&self.next_u64().to_be_bytes());
        Uuid(a)
    }
    /// A short random string, sometimes with non-ASCII characters.
    pub fn string(&mut self) -> String {
        const ALPHABET: &[char] = &['a', 'z', 'K', '0', '9', '-', '_', '.', 'é', '€', '😀'];
        let n = self.below(9) as usize;
        (0..n)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize])
            .collect()
    }
    /// Short random bytes.
    pub fn bytes(&mut self) -> Bytes {
        let n = self.below(17) as usize;
        (0..n)
            .map(|_| self.next_u64() as u8)
            .collect::<Vec<u8>>()
            .into()
    }
    /// A vector of 0–3 elements.
    pub fn vec<T>(&mut self, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        let n = self.below(4) as usize;
        (0..n).map(|_| f(self)).collect()
    }
    /// `None` one time in four.
    pub fn option<T>(&mut self, f: impl FnOnce(&mut Gen) -> T) -> Option<T> {
        if self.below(4) == 0 {
            None
        } else {
            Some(f(self))
        }
    }
    /// 0–2 unknown tagged fields with tags from 1000 up, ascending.
    pub fn unknown_tags(&mut self) -> Vec<(u32, Bytes)> {
        let n = self.below(3) as u32;
        let mut tag = 1000;
        let mut out = Vec::new();
        for _ in 0..n {
            tag += 1 + self.below(200) as u32;
            out.push((tag, self.bytes()));
        }
        out
    }
}
