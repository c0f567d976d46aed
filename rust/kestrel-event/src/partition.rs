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

/// CRC-32 as zlib computes it (`zlib.crc32` in Python gives the same
/// value). Every event of a batch split over workers is hashed, so it
/// uses `crc32fast`, which reads several bytes per step, rather than a
/// byte-at-a-time table.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_zlibs() {
        // zlib.crc32(b""), and the CRC-32 check value of b"123456789"
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        // A host id, and a key long enough for the vector path.
        assert_eq!(crc32(b"349632c7d8d194b03b79bc2ba278fd67"), 0xB0E1_742C);
        let long: Vec<u8> = (0..768).map(|i| i as u8).collect();
        assert_eq!(crc32(&long), 0xB0C0_DF2A);
    }

    #[test]
    fn no_key_and_one_partition_go_to_zero() {
        assert_eq!(partition_of(None, 4), 0);
        assert_eq!(partition_of(Some("a"), 1), 0);
        assert!(partition_of(Some("a"), 4) < 4);
    }
}
