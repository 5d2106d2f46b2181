//! One seed per environment: every generated name and random choice comes from it.

/// A small deterministic generator (splitmix64): the same seed gives the same sequence.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

const SUFFIX_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl SeededRng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A Kubernetes-style random suffix of `len` characters (as in `tkg-vc-antrea-ch5hn`).
    pub fn suffix(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| SUFFIX_CHARS[self.below(SUFFIX_CHARS.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_names() {
        let (mut a, mut b) = (SeededRng::new(42), SeededRng::new(42));
        assert_eq!(a.suffix(5), b.suffix(5));
        assert_ne!(SeededRng::new(1).suffix(8), SeededRng::new(2).suffix(8));
    }

    #[test]
    fn suffix_uses_kubernetes_alphabet() {
        let s = SeededRng::new(7).suffix(200);
        assert!(s.bytes().all(|c| SUFFIX_CHARS.contains(&c)), "{s}");
    }
}
