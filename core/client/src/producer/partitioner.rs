//! Partition choice: Java-compatible murmur2 for keys, sticky or round-robin
//! spreading for the rest, and a tiny random source for sticky choices.

/// Kafka's `Utils.murmur2` (seed `0x9747b28c`), bit for bit.
pub(crate) fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = 0x9747_b28c_u32 ^ (length as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `Utils.toPositive`.
pub(crate) fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner gives a keyed record.
pub(crate) fn key_partition(key: &[u8], partitions: usize) -> i32 {
    if partitions == 0 {
        return 0;
    }
    (to_positive(murmur2(key)) as u32 % partitions as u32) as i32
}

/// A small xorshift generator: sticky partition choices need spread, not secrecy.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded from the standard library's per-process random keys.
    pub(crate) fn new() -> Rng {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish();
        Rng(seed | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A partition in `0..partitions`, different from `avoid` when there is a choice.
    pub(crate) fn partition(&mut self, partitions: usize, avoid: Option<i32>) -> i32 {
        if partitions <= 1 {
            return 0;
        }
        let mut p = (self.next() % partitions as u64) as i32;
        if Some(p) == avoid {
            p = (p + 1 + (self.next() % (partitions as u64 - 1)) as i32) % partitions as i32;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_java() {
        let cases: &[(&str, i32)] = &[
            ("21", -973932308),
            ("foobar", -790332482),
            ("a-little-bit-long-string", -985981536),
            ("a-little-bit-longer-string", -1486304829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
            ("abc", 479470107),
            ("", 275646681),
        ];
        for (input, expected) in cases {
            assert_eq!(murmur2(input.as_bytes()), *expected, "murmur2({input:?})");
        }
    }

    #[test]
    fn keyed_partition_is_positive_murmur_mod_n() {
        for key in ["21", "foobar", "abc", "", "key-17"] {
            for n in [1usize, 2, 3, 7, 12] {
                let expected = ((murmur2(key.as_bytes()) & 0x7fff_ffff) as i64 % n as i64) as i32;
                assert_eq!(key_partition(key.as_bytes(), n), expected);
            }
        }
        // "foobar" hashes negative: toPositive, not abs.
        assert_eq!(to_positive(-790332482), -790332482 & 0x7fff_ffff);
    }

    #[test]
    fn random_partitions_avoid_the_previous_one() {
        let mut rng = Rng::new();
        for _ in 0..1000 {
            let p = rng.partition(3, Some(1));
            assert!(p == 0 || p == 2);
        }
        assert_eq!(rng.partition(1, Some(0)), 0);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[rng.partition(4, None) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
