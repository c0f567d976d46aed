//! Evidence that outlives its batch.
//!
//! A hit keeps its event's original JSON as a range of the batch's raw
//! buffer ([`RawRef`]), so storing it copies nothing. But one partial match
//! that lives on then keeps that whole buffer alive, and the state budget
//! counts only the event's own bytes. With long windows, or event time that
//! goes back (a file replayed), the buffers held grow far past the state
//! counted, without bound.
//!
//! So after each batch a matcher looks at the buffers of its earlier
//! batches that are still alive. Once they outweigh its own state several
//! times over, it copies the evidence it holds in them into buffers of their
//! own, and lets them go. The walk and the copies cost a fraction of the
//! bytes they free, and a matcher whose evidence fills its buffers (so that
//! copying would free nothing) never starts them.

use std::sync::{Arc, Weak};

use ahash::AHashMap;

use crate::matcher::RawRef;

/// Earlier buffers smaller than this in all are not worth a walk.
const MIN_RELEASE_BYTES: usize = 1 << 20;
/// Earlier buffers are released once they hold this many times the
/// matcher's own state.
const RELEASE_RATIO: usize = 4;

/// The raw buffers of the batches a matcher has seen that may still hold
/// its evidence: a superset (another rule may be what keeps one alive).
#[derive(Debug, Default)]
pub(crate) struct Pinned {
    buffers: Vec<Weak<Vec<u8>>>,
}

impl Pinned {
    /// `current`'s batch has been processed, and the matcher holds
    /// `state_bytes`: whether the evidence held in earlier buffers should
    /// be copied out now (the caller then does it, with [`Copies`]).
    pub(crate) fn after_batch(&mut self, current: &Arc<Vec<u8>>, state_bytes: usize) -> bool {
        let now = Arc::as_ptr(current);
        self.buffers
            .retain(|b| b.strong_count() > 0 && !std::ptr::eq(b.as_ptr(), now));
        let earlier: usize = self
            .buffers
            .iter()
            .filter_map(Weak::upgrade)
            .map(|b| b.capacity())
            .sum();
        let release =
            earlier >= MIN_RELEASE_BYTES && earlier > state_bytes.saturating_mul(RELEASE_RATIO);
        if release {
            self.buffers.clear();
        }
        self.buffers.push(Arc::downgrade(current));
        release
    }
}

/// Copies of evidence out of every buffer but the current batch's, one per
/// event however many partial matches share it.
pub(crate) struct Copies {
    keep: *const Vec<u8>,
    made: AHashMap<(usize, u32), RawRef>,
}

impl Copies {
    pub(crate) fn keeping(current: &Arc<Vec<u8>>) -> Copies {
        Copies {
            keep: Arc::as_ptr(current),
            made: AHashMap::new(),
        }
    }

    /// Point `raw` at a buffer of its own, unless it is in the current
    /// batch's buffer or has one already.
    pub(crate) fn rehome(&mut self, raw: &mut RawRef) {
        let (buffer, off) = (raw.buffer().0, raw.offset());
        if std::ptr::eq(buffer, self.keep) || raw.is_private() {
            return;
        }
        let copy = self
            .made
            .entry((buffer as usize, off))
            .or_insert_with(|| RawRef::owned(raw.bytes()));
        *raw = copy.clone();
    }
}
