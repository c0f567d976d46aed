//! Suppressing an alert identical to one raised shortly before.

use ahash::AHashMap;

use crate::render::Alert;

/// Drops an alert identical to one seen within `window_ns` of event time.
///
/// Identical means the same rule, join keys, evidence (byte for byte) and
/// captures ([`Alert::identity`]). Entries older than the window are pruned
/// as time advances, so memory follows the alert rate.
#[derive(Debug, Default)]
pub struct Dedup {
    pub window_ns: i64,
    pub suppressed: u64,
    pub(crate) seen: AHashMap<[u8; 16], i64>,
    pub(crate) horizon: i64,
}

impl Dedup {
    pub fn new(window_ns: i64) -> Dedup {
        Dedup {
            window_ns,
            ..Default::default()
        }
    }

    pub fn admit(&mut self, alerts: Vec<Alert>) -> Vec<Alert> {
        if self.window_ns <= 0 {
            return alerts;
        }
        let mut kept = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let now = alert.timestamp.unwrap_or(0);
            if let Some(&last) = self.seen.get(&alert.identity) {
                if now.abs_diff(last) <= self.window_ns as u64 {
                    self.suppressed += 1;
                    continue;
                }
            }
            self.seen.insert(alert.identity, now);
            kept.push(alert);
            self.prune(now);
        }
        kept
    }

    fn prune(&mut self, now: i64) {
        if now.saturating_sub(self.horizon) < self.window_ns {
            return;
        }
        self.horizon = now;
        let window = self.window_ns;
        self.seen
            .retain(|_, &mut t| now.saturating_sub(t) <= window);
    }

    pub fn entries(&self) -> usize {
        self.seen.len()
    }
}
