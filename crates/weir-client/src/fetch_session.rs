//! Incremental fetch sessions (KIP-227), the client side (Kafka's `FetchSessionHandler`):
//! per broker, the session id and epoch the broker gave and the offsets last sent, so the
//! next request names only the partitions added or moved and forgets those dropped. The
//! first request is full (epoch 0, every partition); a broker that gives no session (id 0)
//! gets full requests again; any failure (an error answer, a lost connection) starts over
//! with a full request, which closes the old session on the broker.

use std::collections::BTreeMap;

use crate::fetch::SessionRequest;

/// A full fetch that asks for a session.
const INITIAL_EPOCH: i32 = 0;

/// One broker's fetch session as this client knows it.
#[derive(Debug, Default, Clone)]
pub(crate) struct FetchSession {
    /// 0 until the broker gives one.
    id: i32,
    /// A session given up after a failure: the next full request names it, so the broker
    /// closes it (Kafka's `nextCloseExisting`).
    close_id: i32,
    /// The epoch the next incremental request gives.
    epoch: i32,
    /// Each partition in the session, at the offset last sent.
    sent: BTreeMap<(String, i32), i64>,
}

impl FetchSession {
    /// The next request for `asked` (every partition to read from this broker, with its
    /// offset): full without a session, else the partitions added or moved, and the ones to
    /// forget.
    pub(crate) fn next(&self, asked: &[(String, i32, i64)]) -> SessionRequest {
        if self.id == 0 {
            // A full fetch (closing the session the id names, if any) asking for one.
            return SessionRequest {
                id: self.close_id,
                epoch: INITIAL_EPOCH,
                to_send: asked.to_vec(),
                forgotten: Vec::new(),
            };
        }
        let to_send = asked
            .iter()
            .filter(|(t, p, o)| self.sent.get(&(t.clone(), *p)) != Some(o))
            .cloned()
            .collect();
        let forgotten = self
            .sent
            .keys()
            .filter(|(t, p)| !asked.iter().any(|(at, ap, _)| at == t && ap == p))
            .cloned()
            .collect();
        SessionRequest {
            id: self.id,
            epoch: self.epoch,
            to_send,
            forgotten,
        }
    }

    /// After the answer to [`FetchSession::next`]`(asked)`: `Some(session id)` it gave, or
    /// `None` when it failed (the next request is full).
    pub(crate) fn answered(&mut self, asked: &[(String, i32, i64)], session_id: Option<i32>) {
        let Some(id) = session_id.filter(|&id| id != 0) else {
            // No session given (or a failure): full requests, closing the one we had.
            let close_id = if session_id.is_none() { self.id } else { 0 };
            *self = Self {
                close_id,
                ..Self::default()
            };
            return;
        };
        self.close_id = 0;
        if self.id == 0 {
            self.epoch = 1;
        } else {
            self.epoch = if self.epoch == i32::MAX {
                1
            } else {
                self.epoch + 1
            };
        }
        self.id = id;
        self.sent = asked
            .iter()
            .map(|(t, p, o)| ((t.clone(), *p), *o))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(offsets: &[(i32, i64)]) -> Vec<(String, i32, i64)> {
        offsets
            .iter()
            .map(|&(p, o)| ("t".to_string(), p, o))
            .collect()
    }

    #[test]
    fn full_then_incremental_with_only_what_moved() {
        let mut s = FetchSession::default();
        let a = asked(&[(0, 0), (1, 0), (2, 0)]);
        let r = s.next(&a);
        assert_eq!((r.id, r.epoch, r.to_send.len()), (0, 0, 3));
        s.answered(&a, Some(77));
        // Partition 1 moved on, partition 2 dropped, partition 3 added.
        let b = asked(&[(0, 0), (1, 5), (3, 0)]);
        let r = s.next(&b);
        assert_eq!((r.id, r.epoch), (77, 1));
        assert_eq!(r.to_send, asked(&[(1, 5), (3, 0)]));
        assert_eq!(r.forgotten, [("t".to_string(), 2)]);
        s.answered(&b, Some(77));
        let r = s.next(&b);
        assert_eq!((r.epoch, r.to_send.len(), r.forgotten.len()), (2, 0, 0));
    }

    #[test]
    fn no_session_or_a_failure_means_full_requests() {
        let mut s = FetchSession::default();
        let a = asked(&[(0, 0)]);
        s.answered(&a, Some(0)); // the broker gave none
        assert_eq!(s.next(&a).epoch, 0);
        s.answered(&a, Some(9));
        assert_eq!(s.next(&a).epoch, 1);
        s.answered(&a, None); // an error answer: a full request closing session 9
        let r = s.next(&a);
        assert_eq!((r.id, r.epoch, r.to_send.len()), (9, 0, 1));
        s.answered(&a, Some(10));
        assert_eq!((s.next(&a).id, s.next(&a).epoch), (10, 1));
    }
}
