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

/// A batch split by entity: per partition the ascending indices of the
/// events it owns, and per event the partition that owns it.
#[derive(Clone, Debug, Default)]
pub struct Partitions {
    pub rows: Vec<Vec<u32>>,
    /// Event `ev`'s partition is `of[ev]`.
    pub of: Vec<u32>,
}

impl Partitions {
    /// The events of `events` that partition `p` owns, in their order.
    ///
    /// A filter over the events' owners, rather than a merge with the
    /// partition's rows: a rule's candidates are usually far fewer than a
    /// partition's events, and every sequence rule asks once per partition.
    pub fn restrict(&self, events: &[u32], p: usize) -> Vec<u32> {
        let p = p as u32;
        events
            .iter()
            .copied()
            .filter(|&ev| self.of.get(ev as usize) == Some(&p))
            .collect()
    }
}

/// Split `batch` among `partitions` by its events' entity keys.
pub fn partition_rows(batch: &EventBatch, partitions: usize) -> Partitions {
    let partitions = partitions.max(1);
    let mut rows = vec![Vec::with_capacity(batch.len() / partitions + 1); partitions];
    let mut of = Vec::with_capacity(batch.len());
    for ev in 0..batch.len() {
        let p = partition_of(batch.entity_key(ev), partitions);
        rows[p].push(ev as u32);
        of.push(p as u32);
    }
    Partitions { rows, of }
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
    fn restricting_a_list_keeps_the_partitions_events_in_order() {
        let parts = Partitions {
            rows: vec![vec![0, 2, 3], vec![1, 4]],
            of: vec![0, 1, 0, 0, 1],
        };
        assert_eq!(parts.restrict(&[0, 1, 3, 4], 0), [0, 3]);
        assert_eq!(parts.restrict(&[0, 1, 3, 4], 1), [1, 4]);
        // An index the split never saw belongs to no partition.
        assert!(parts.restrict(&[9], 0).is_empty());
    }

    #[test]
    fn no_key_and_one_partition_go_to_zero() {
        assert_eq!(partition_of(None, 4), 0);
        assert_eq!(partition_of(Some("a"), 1), 0);
        assert!(partition_of(Some("a"), 4) < 4);
    }
}
