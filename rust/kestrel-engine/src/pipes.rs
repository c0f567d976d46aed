//! A rule's result pipes (`| head N`, `| tail N`) and its `size`, over a
//! stream.
//!
//! Elasticsearch applies pipes to a query's whole, sorted result list. The
//! engine sees results arrive batch by batch, so each pipe is a stage the
//! rule's alerts stream through, in query order:
//!
//! * `head N` passes the first N alerts that reach it and drops the rest.
//!   Once a head is full nothing the rule produces can come out again: the
//!   rule is *exhausted* and is no longer evaluated.
//! * `tail N` holds the N last alerts that reach it, in Elasticsearch order,
//!   and releases them in that order to the stages after it at the end of
//!   the input ([`Pipes::flush`]).
//!
//! `size` (Elasticsearch's request size) is one more head stage after the
//! query's own pipes. "First" for a head is the order alerts are emitted
//! in: a rule's results of one batch in Elasticsearch order, batches in
//! arrival order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::render::Alert;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipeOp {
    Head,
    Tail,
}

impl PipeOp {
    pub fn parse(name: &str) -> Option<PipeOp> {
        match name {
            "head" => Some(PipeOp::Head),
            "tail" => Some(PipeOp::Tail),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PipeOp::Head => "head",
            PipeOp::Tail => "tail",
        }
    }
}

/// An alert a tail stage holds, ordered by Elasticsearch order, then arrival.
#[derive(Debug)]
pub(crate) struct Held {
    pub arrival: u64,
    pub alert: Alert,
}

impl Held {
    fn key(&self) -> (crate::render::Order, u64) {
        (self.alert.order, self.arrival)
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[derive(Debug)]
pub(crate) enum Stage {
    Head {
        count: u64,
        passed: u64,
        dropped: u64,
    },
    // A min-heap of the `count` greatest alerts seen: a newer one pushes the
    // oldest out, so a tail holds at most `count` alerts.
    Tail {
        count: u64,
        held: BinaryHeap<Reverse<Held>>,
        arrivals: u64,
        dropped: u64,
    },
}

/// One stage's figures, for `stats()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageStats {
    pub op: PipeOp,
    pub count: u64,
    pub passed: u64,
    pub held: u64,
    pub dropped: u64,
}

/// The stages of one rule, with their counts and buffers.
#[derive(Debug, Default)]
pub struct Pipes {
    pub(crate) stages: Vec<Stage>,
    pub emitted: u64,
}

impl Pipes {
    pub fn new(stages: &[(PipeOp, u64)]) -> Pipes {
        let stages = stages
            .iter()
            .map(|&(op, count)| match op {
                PipeOp::Head => Stage::Head {
                    count,
                    passed: 0,
                    dropped: 0,
                },
                PipeOp::Tail => Stage::Tail {
                    count,
                    held: BinaryHeap::new(),
                    arrivals: 0,
                    dropped: 0,
                },
            })
            .collect();
        Pipes { stages, emitted: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// A full head drops everything that reaches it, and whatever the rule
    /// produces from now on would have to pass it.
    pub fn exhausted(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s, Stage::Head { count, passed, .. } if passed >= count))
    }

    /// Stream a batch's alerts (in Elasticsearch order) through the stages;
    /// returns those that come out now.
    pub fn admit(&mut self, alerts: Vec<Alert>) -> Vec<Alert> {
        let out = self.run(0, alerts);
        self.emitted += out.len() as u64;
        out
    }

    /// End of input: each tail, in order, releases what it holds to the
    /// stages after it; returns what comes out of the last one.
    pub fn flush(&mut self) -> Vec<Alert> {
        let mut out = Vec::new();
        for position in 0..self.stages.len() {
            let released = match &mut self.stages[position] {
                Stage::Tail { held, .. } => {
                    let mut items: Vec<Held> = std::mem::take(held)
                        .into_iter()
                        .map(|Reverse(h)| h)
                        .collect();
                    items.sort();
                    items.into_iter().map(|h| h.alert).collect()
                }
                Stage::Head { .. } => Vec::new(),
            };
            if !released.is_empty() {
                out.extend(self.run(position + 1, released));
            }
        }
        self.emitted += out.len() as u64;
        out
    }

    fn run(&mut self, start: usize, mut alerts: Vec<Alert>) -> Vec<Alert> {
        for stage in &mut self.stages[start..] {
            if alerts.is_empty() {
                break;
            }
            alerts = match stage {
                Stage::Head {
                    count,
                    passed,
                    dropped,
                } => {
                    let room = count.saturating_sub(*passed) as usize;
                    if alerts.len() > room {
                        *dropped += (alerts.len() - room) as u64;
                        alerts.truncate(room);
                    }
                    *passed += alerts.len() as u64;
                    alerts
                }
                Stage::Tail {
                    count,
                    held,
                    arrivals,
                    dropped,
                } => {
                    for alert in alerts {
                        *arrivals += 1;
                        held.push(Reverse(Held {
                            arrival: *arrivals,
                            alert,
                        }));
                        if held.len() as u64 > *count {
                            held.pop();
                            *dropped += 1;
                        }
                    }
                    Vec::new()
                }
            };
        }
        alerts
    }

    pub fn stats(&self) -> Vec<StageStats> {
        self.stages
            .iter()
            .map(|stage| match stage {
                Stage::Head {
                    count,
                    passed,
                    dropped,
                } => StageStats {
                    op: PipeOp::Head,
                    count: *count,
                    passed: *passed,
                    held: 0,
                    dropped: *dropped,
                },
                Stage::Tail {
                    count,
                    held,
                    dropped,
                    ..
                } => StageStats {
                    op: PipeOp::Tail,
                    count: *count,
                    passed: 0,
                    held: held.len() as u64,
                    dropped: *dropped,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(ts: i64) -> Alert {
        Alert {
            order: (ts, 0, ts as u64),
            timestamp: Some(ts),
            identity: [0; 16],
            line: ts.to_string().into_bytes(),
        }
    }

    fn times(alerts: &[Alert]) -> Vec<i64> {
        alerts.iter().map(|a| a.order.0).collect()
    }

    #[test]
    fn head_passes_the_first_and_then_exhausts() {
        let mut pipes = Pipes::new(&[(PipeOp::Head, 3)]);
        assert_eq!(times(&pipes.admit(vec![alert(1), alert(2)])), [1, 2]);
        assert!(!pipes.exhausted());
        assert_eq!(times(&pipes.admit(vec![alert(3), alert(4)])), [3]);
        assert!(pipes.exhausted());
    }

    #[test]
    fn tail_then_head_emits_at_flush() {
        let mut pipes = Pipes::new(&[(PipeOp::Tail, 5), (PipeOp::Head, 2)]);
        assert!(pipes.admit((1..=9).map(alert).collect()).is_empty());
        assert_eq!(times(&pipes.flush()), [5, 6]);
        assert_eq!(pipes.emitted, 2);
    }

    #[test]
    fn head_then_tail_gives_the_nth() {
        let mut pipes = Pipes::new(&[(PipeOp::Head, 3), (PipeOp::Tail, 1)]);
        pipes.admit((1..=2).map(alert).collect());
        pipes.admit((3..=6).map(alert).collect());
        assert_eq!(times(&pipes.flush()), [3]);
    }
}
