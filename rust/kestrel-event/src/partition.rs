//! Splitting a batch by entity, for parallel evaluation.
//!
//! Every event of one entity (the decoder's entity key, `host.id` by
//! default) belongs to the same partition, so state kept per entity (a
//! sequence joined on the entity) lives in one partition and sees that
//! entity's events in arrival order. A batch is not copied: a partition is
//! the ascending list of its events' indices, which rule evaluation and the
//! sequence matcher take as their candidate lists.

use crate::EventBatch;

/// The partition of an entity key among `partitions`: CRC-32 (IEEE) of the
/// key's UTF-8 bytes, modulo the count. Events without a key go to 0.
///
/// This is Kestrel's partition function everywhere (the engine's workers,
/// a distributed runner's shards), so one runner is an exact reference for
/// another with the same count.
pub fn partition_of(key: Option<&str>, partitions: usize) -> usize {
    match key {
        Some(key) if partitions > 1 => (crc32(key.as_bytes()) as usize) % partitions,
        _ => 0,
    }
}

/// Per partition, the ascending indices of the batch's events it owns.
pub fn partition_rows(batch: &EventBatch, partitions: usize) -> Vec<Vec<u32>> {
    let partitions = partitions.max(1);
    let mut rows = vec![Vec::with_capacity(batch.len() / partitions + 1); partitions];
    for ev in 0..batch.len() {
        rows[partition_of(batch.entity_key(ev), partitions)].push(ev as u32);
    }
    rows
}

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 as zlib computes it (`zlib.crc32` in Python gives the same value).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
    }
    c ^ 0xFFFF_FFFF
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        // zlib.crc32(b"host-1") and zlib.crc32(b"")
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn no_key_and_one_partition_go_to_zero() {
        assert_eq!(partition_of(None, 4), 0);
        assert_eq!(partition_of(Some("a"), 1), 0);
        assert!(partition_of(Some("a"), 4) < 4);
    }
}
