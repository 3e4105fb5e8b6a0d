//! Request memory bounded across all connections (`queued_max_request_bytes`, Kafka's
//! `queued.max.request.bytes`): a connection takes a frame's bytes from one broker-wide pool
//! when its size prefix arrives, before reading the body, and gives them back once a Produce
//! is answered (for `acks=-1`, after its group-commit fsync), or once any other request's
//! handler first waits (`Service::holds_memory_until_answered`: a JoinGroup waiting for the
//! other members must not hold the bytes their JoinGroups need to be read).
//! While the pool is empty no socket is read, so producers that outrun the disk are blocked
//! by TCP, not dropped, and the broker's memory for requests stays within the pool plus one
//! frame per connection's read buffer.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use weir_storage::config::Bounds;

/// The default pool, bytes (256 MiB). Kafka's default is unbounded; weir bounds it so
/// memory under overload is bounded: 2.5 default frames (`frame_bytes_max`, 100 MiB), so
/// one largest request never waits for another alone, and at disk speeds of a few hundred
/// MB/s about a second of fsync'd writes, enough to keep group-commit rounds full.
pub const QUEUED_MAX_REQUEST_BYTES_DEFAULT: i64 = 256 * 1024 * 1024;
/// Bounds of `queued_max_request_bytes` (the pool counts in `u32` permits).
pub const QUEUED_MAX_REQUEST_BYTES_BOUNDS: Bounds = Bounds::new(64 * 1024, u32::MAX as i64);

/// The broker-wide pool of request bytes.
#[derive(Debug)]
pub struct RequestMemory {
    pool: Arc<Semaphore>,
    capacity: u32,
}

/// Bytes taken from the pool for one request; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
}

impl RequestMemory {
    /// A pool of `bytes`.
    pub fn new(bytes: u32) -> Self {
        let capacity = bytes.max(1);
        Self {
            pool: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
        }
    }

    /// Waits until `bytes` are free and takes them. A frame larger than the whole pool takes
    /// the whole pool (it waits until every other request has given its bytes back).
    pub async fn reserve(&self, bytes: usize) -> Reservation {
        let n = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .min(self.capacity)
            .max(1);
        // Fails only on a closed semaphore, and nothing closes the pool.
        Reservation {
            _permit: Arc::clone(&self.pool).acquire_many_owned(n).await.ok(),
        }
    }

    /// Bytes held by requests now (`weir_bytes_in_queued`).
    pub fn queued(&self) -> u64 {
        u64::from(self.capacity).saturating_sub(self.pool.available_permits() as u64)
    }

    /// The pool's size, bytes.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_full_pool_waits_until_bytes_are_released() {
        let m = Arc::new(RequestMemory::new(1000));
        let a = m.reserve(600).await;
        assert_eq!(m.queued(), 600);
        let m2 = Arc::clone(&m);
        let waiting = tokio::spawn(async move { m2.reserve(600).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "reserved past the pool");
        drop(a);
        let b = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.queued(), 600);
        drop(b);
        // Larger than the pool: takes all of it.
        let all = m.reserve(5000).await;
        assert_eq!(m.queued(), 1000);
        drop(all);
        assert_eq!(m.queued(), 0);
    }
}
