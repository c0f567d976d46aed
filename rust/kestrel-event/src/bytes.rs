//! Small byte-string helpers for hot paths.

/// Byte equality without a libc call for the short strings most field
/// values and keys are. Rules test the same few fields against literals
/// constantly, and the decoder matches every key against the last event's;
/// through `memcmp` the call cost more than the compare.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        // Two overlapping loads cover the whole string.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// Hint that `bytes` will be read soon (their first two cache lines).
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = bytes.as_ptr() as *const i8;
        // SAFETY: a prefetch is only a hint; it never faults, even for an
        // address past the slice.
        unsafe {
            _mm_prefetch(p, _MM_HINT_T0);
            if bytes.len() > 64 {
                _mm_prefetch(p.wrapping_add(64), _MM_HINT_T0);
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_sees_every_differing_byte_at_every_length() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8)
                .map(|i| i.wrapping_mul(7).wrapping_add(3))
                .collect();
            assert!(same_bytes(&a, &a.clone()));
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "length {n}, byte {at}");
            }
            if n > 0 {
                assert!(!same_bytes(&a, &a[..n - 1]));
            }
        }
    }
}
