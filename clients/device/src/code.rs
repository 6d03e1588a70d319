//! Human-facing participant codes that devices make without talking to each other.
//!
//! A code is a 4-character device prefix and a counter kept on the device: `K7Q2-0007`. The
//! prefix is 20 bits of a hash of the server-assigned device id, written in Crockford's
//! base 32 (no I, L, O or U, so it reads aloud and copies by hand without confusion). Two
//! devices share a prefix with odds of about one in a million; codes are for people, the
//! record id (a UUID) is what identifies a participant everywhere.

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The 4-character prefix of codes made on the device with this id.
pub(crate) fn device_prefix(device_id: &str) -> String {
    // FNV-1a: small, stable across versions and platforms, and enough to spread ids that
    // share a timestamp prefix (UUID v7) over the whole prefix space.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in device_id.trim().to_ascii_lowercase().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let bits = (hash ^ (hash >> 32)) & 0xF_FFFF;
    (0..4)
        .rev()
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

/// The code for the `n`th participant registered on a device.
pub(crate) fn participant_code(prefix: &str, n: u64) -> String {
    format!("{prefix}-{n:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_stable_and_spread() {
        let a = device_prefix("0190a7e2-1111-7000-8000-000000000001");
        assert_eq!(a, "J2A5", "the example in docs/protocol.md section 12");
        assert_eq!(a, device_prefix("0190A7E2-1111-7000-8000-000000000001"));
        assert_eq!(a.len(), 4);
        assert!(a.bytes().all(|b| ALPHABET.contains(&b)));
        let b = device_prefix("0190a7e2-1111-7000-8000-000000000002");
        assert_ne!(
            a, b,
            "ids differing in one character get different prefixes"
        );
        assert_eq!(participant_code("K7Q2", 7), "K7Q2-0007");
        assert_eq!(participant_code("K7Q2", 12345), "K7Q2-12345");
    }
}
