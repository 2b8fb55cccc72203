//! `hash_64` and consumer-group membership.

use crate::error::Error;
use crate::stream_name::cardinal_id;
use md5::{Digest, Md5};

/// The first 8 bytes of MD5(value), read big-endian as a signed 64-bit
/// integer. Consumer-group partitions depend on it, so it must equal Message
/// DB's `left('x' || md5(value), 17)::bit(64)::bigint` for every input.
pub fn hash_64(value: &[u8]) -> i64 {
    let digest = Md5::digest(value);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Whether `stream_name` belongs to `member` of a consumer group of `size`:
/// `mod(abs(hash_64(cardinal_id(stream_name))), size) = member`.
///
/// A name with no id has no cardinal id and belongs to no member. `abs` of
/// the one hash that has no positive twin fails as Postgres' `abs(bigint)`
/// does. A group needs at least one member.
pub fn is_consumer_group_member(stream_name: &[u8], member: i64, size: i64) -> Result<bool, Error> {
    if size < 1 {
        return Err(Error::ConsumerGroupSizeTooSmall { member, size });
    }
    let Some(cardinal) = cardinal_id(stream_name) else {
        return Ok(false);
    };
    let hash = hash_64(cardinal);
    let magnitude = hash.checked_abs().ok_or(Error::BigintOutOfRange)?;
    Ok(magnitude % size == member)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn contract_vectors() {
        assert_eq!(hash_64(b"someStream"), 2053039834977696644);
        assert_eq!(hash_64(b"someStream-123"), -6897031765186548867);
        assert_eq!(hash_64(b"123"), 2318431741638412123);
        assert_eq!(hash_64(b"abc"), -8070080442485551184);
    }

    #[test]
    fn cardinal_id_123_is_member_1_of_3() {
        assert_eq!(is_consumer_group_member(b"account-123", 1, 3), Ok(true));
        assert_eq!(is_consumer_group_member(b"account-123", 0, 3), Ok(false));
        assert_eq!(is_consumer_group_member(b"account-123+x", 1, 3), Ok(true));
    }

    #[test]
    fn a_group_without_members_is_refused() {
        assert_eq!(
            is_consumer_group_member(b"account-123", 0, 0),
            Err(Error::ConsumerGroupSizeTooSmall { member: 0, size: 0 })
        );
    }

    #[test]
    fn a_category_name_belongs_to_no_member() {
        for member in 0..4 {
            assert_eq!(is_consumer_group_member(b"account", member, 4), Ok(false));
        }
    }

    /// MD5 as RFC 1321 describes it, written plainly and independently of the
    /// crate `hash_64` uses, so the property below compares two implementations.
    fn reference_md5(input: &[u8]) -> [u8; 16] {
        let s: [u32; 64] = [
            7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20,
            5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
        ];
        let k: Vec<u32> = (0..64)
            .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
            .collect();
        let mut message = input.to_vec();
        let bit_len = (input.len() as u64).wrapping_mul(8);
        message.push(0x80);
        while message.len() % 64 != 56 {
            message.push(0);
        }
        message.extend_from_slice(&bit_len.to_le_bytes());
        let (mut a0, mut b0, mut c0, mut d0) =
            (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
        for chunk in message.chunks(64) {
            let m: Vec<u32> = chunk
                .chunks(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect();
            let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
            for i in 0..64 {
                let (f, g) = match i / 16 {
                    0 => ((b & c) | (!b & d), i),
                    1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                    2 => (b ^ c ^ d, (3 * i + 5) % 16),
                    _ => (c ^ (b | !d), (7 * i) % 16),
                };
                let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
                a = d;
                d = c;
                c = b;
                b = b.wrapping_add(f.rotate_left(s[i]));
            }
            a0 = a0.wrapping_add(a);
            b0 = b0.wrapping_add(b);
            c0 = c0.wrapping_add(c);
            d0 = d0.wrapping_add(d);
        }
        let mut out = [0u8; 16];
        for (i, word) in [a0, b0, c0, d0].iter().enumerate() {
            out[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    #[test]
    fn reference_md5_matches_rfc_1321() {
        let hex = |d: [u8; 16]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(reference_md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            hex(reference_md5(b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    proptest! {
        #[test]
        fn hash_64_is_the_first_8_md5_bytes(value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let digest = reference_md5(&value);
            let expected = i64::from_be_bytes(digest[..8].try_into().unwrap());
            prop_assert_eq!(hash_64(&value), expected);
        }

        #[test]
        fn every_stream_lands_on_exactly_one_member(name in "[a-z]{1,8}-[a-z0-9+]{1,12}", size in 1i64..64) {
            let members: Vec<i64> = (0..size)
                .filter(|m| is_consumer_group_member(name.as_bytes(), *m, size).unwrap())
                .collect();
            prop_assert_eq!(members.len(), 1);
        }
    }
}
