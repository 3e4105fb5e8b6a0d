//! Client quotas, Kafka's way: `producer_byte_rate`, `consumer_byte_rate` and
//! `request_percentage` for user, client-id and (user, client-id) entities, each name either
//! given or `<default>`; a request's principal and client id pick one entity by Kafka's eight
//! precedence levels (`ClientQuotaManager`'s default callback):
//!
//! 1. `/users/<user>/clients/<client-id>`   2. `/users/<user>/clients/<default>`
//! 3. `/users/<user>`                       4. `/users/<default>/clients/<client-id>`
//! 5. `/users/<default>/clients/<default>`  6. `/users/<default>`
//! 7. `/clients/<client-id>`                8. `/clients/<default>`
//!
//! The level also says which clients share one measured rate (Kafka's metric tags): at
//! levels 1, 2, 4, 5 each (user, client id) has its own; at 3 and 6 every client of the user
//! shares the user's; at 7 and 8 every user of a client id shares the client id's.
//!
//! Rates are Kafka's sampled rates ([`rate`]); the throttle time is Kafka's
//! `QuotaUtils.throttleTime`, capped at one sample's length for `request_percentage` (as
//! `ClientRequestQuotaManager` caps it) and not capped for the byte rates (as Kafka does not).
//! The entities' values live in [`store`] (`__weir_meta/client_quotas.json`).

pub mod rate;
pub(crate) mod response;
pub mod store;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use weir_storage::config::Bounds;

pub use rate::{Rate, Violation, Window};
pub use store::{Entity, EntityName, QuotaStore, QuotaStoreError};

/// Kafka's default `quota.window.num`.
pub const QUOTA_WINDOW_NUM_DEFAULT: i64 = 11;
/// Bounds of `quota_window_num` (Kafka: at least 1).
pub const QUOTA_WINDOW_NUM_BOUNDS: Bounds = Bounds::new(1, 1000);
/// Kafka's default `quota.window.size.seconds`.
pub const QUOTA_WINDOW_SIZE_SECONDS_DEFAULT: i64 = 1;
/// Bounds of `quota_window_size_seconds` (Kafka: at least 1).
pub const QUOTA_WINDOW_SIZE_SECONDS_BOUNDS: Bounds = Bounds::new(1, 3600);
/// Measured rates kept at most; past it idle ones are dropped first, then the least recently
/// used (a dropped rate starts again from nothing, as Kafka's expired sensors do).
pub const QUOTA_SENSORS_MAX: usize = 100_000;

/// What a quota limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaKind {
    /// `producer_byte_rate`: produce request bytes per second.
    Produce,
    /// `consumer_byte_rate`: fetch response bytes per second.
    Fetch,
    /// `request_percentage`: percent of one handler thread's time per second.
    Request,
}

impl QuotaKind {
    /// Every kind, in `index` order.
    pub const ALL: [QuotaKind; 3] = [QuotaKind::Produce, QuotaKind::Fetch, QuotaKind::Request];

    /// Kafka's config key.
    pub fn key(self) -> &'static str {
        match self {
            QuotaKind::Produce => "producer_byte_rate",
            QuotaKind::Fetch => "consumer_byte_rate",
            QuotaKind::Request => "request_percentage",
        }
    }

    /// The kind of a config key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }

    /// The `quota` label value of `weir_throttle_time_seconds_total`.
    pub fn label(self) -> &'static str {
        match self {
            QuotaKind::Produce => "produce",
            QuotaKind::Fetch => "fetch",
            QuotaKind::Request => "request",
        }
    }

    /// Position in [`QuotaKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The rate a request is measured in: Kafka's metric tags, (user, client id), either empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tags {
    /// The user's name, or empty.
    pub user: String,
    /// The client id, or empty.
    pub client_id: String,
}

/// Which rate a (user, client id) is measured in for a kind of quota, by the eight levels
/// (Kafka's `DefaultQuotaCallback.quotaMetricTags`).
pub fn metric_tags(store: &QuotaStore, kind: QuotaKind, user: &str, client_id: &str) -> Tags {
    use EntityName::{Default as D, Name as N};
    let has = |u: Option<EntityName>, c: Option<EntityName>| store.has(kind, &Entity::new(u, c));
    let u = || Some(N(user.to_string()));
    let c = || Some(N(client_id.to_string()));
    let both = Tags {
        user: user.to_string(),
        client_id: client_id.to_string(),
    };
    let user_only = Tags {
        user: user.to_string(),
        client_id: String::new(),
    };
    if has(u(), c()) || has(u(), Some(D)) {
        both
    } else if has(u(), None) {
        user_only
    } else if has(Some(D), c()) || has(Some(D), Some(D)) {
        both
    } else if has(Some(D), None) {
        user_only
    } else {
        Tags {
            user: String::new(),
            client_id: client_id.to_string(),
        }
    }
}

/// The bound of the rate `tags` names (Kafka's `DefaultQuotaCallback.quotaLimit`).
pub fn quota_limit(store: &QuotaStore, kind: QuotaKind, tags: &Tags) -> Option<f64> {
    use EntityName::{Default as D, Name as N};
    let get = |u: Option<EntityName>, c: Option<EntityName>| store.get(kind, &Entity::new(u, c));
    let u = || Some(N(tags.user.clone()));
    let c = || Some(N(tags.client_id.clone()));
    match (tags.user.is_empty(), tags.client_id.is_empty()) {
        (false, false) => get(u(), c())
            .or_else(|| get(u(), Some(D)))
            .or_else(|| get(Some(D), c()))
            .or_else(|| get(Some(D), Some(D))),
        (false, true) => get(u(), None).or_else(|| get(Some(D), None)),
        (true, false) => get(None, c()).or_else(|| get(None, Some(D))),
        (true, true) => None,
    }
}

#[derive(Debug)]
struct Sensor {
    rate: Rate,
    last_used_ms: u64,
}

/// The quotas and the rates measured against them: one per broker, shared by every
/// connection.
#[derive(Debug)]
pub struct ClientQuotas {
    store: QuotaStore,
    window: Window,
    sensors: Mutex<HashMap<(QuotaKind, Tags), Sensor>>,
    /// Per IP address: new connections (`connection_creation_rate`).
    connection_sensors: Mutex<HashMap<IpAddr, Sensor>>,
}

impl ClientQuotas {
    /// Quotas from `store`, measured over `window`.
    pub fn new(store: QuotaStore, window: Window) -> Self {
        Self {
            store,
            window,
            sensors: Mutex::new(HashMap::new()),
            connection_sensors: Mutex::new(HashMap::new()),
        }
    }

    /// The entities' values (DescribeClientQuotas, AlterClientQuotas).
    pub fn store(&self) -> &QuotaStore {
        &self.store
    }

    /// Records `value` for `user`/`client_id` at `now_ms` and returns the throttle time in ms
    /// (0 within the quota, or when no quota of the kind exists: Kafka's `quotasEnabled`).
    pub fn record(
        &self,
        kind: QuotaKind,
        user: &str,
        client_id: &str,
        value: f64,
        now_ms: u64,
    ) -> u64 {
        if !self.store.enabled(kind) {
            return 0;
        }
        let tags = metric_tags(&self.store, kind, user, client_id);
        let bound = quota_limit(&self.store, kind, &tags);
        let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        let sensor = sensor(&mut sensors, self.window, (kind, tags), now_ms);
        let Some(bound) = bound else {
            sensor.rate.record(value, now_ms);
            return 0;
        };
        match sensor.rate.record_and_check(value, now_ms, bound) {
            None => 0,
            Some(v) => {
                let ms = v.throttle_ms();
                match kind {
                    QuotaKind::Request => ms.min(self.window.sample_ms),
                    QuotaKind::Produce | QuotaKind::Fetch => ms,
                }
            }
        }
    }

    /// Takes back a recorded `value` (a throttled fetch sends no data, as Kafka's
    /// `unrecordQuotaSensor`).
    pub fn unrecord(&self, kind: QuotaKind, user: &str, client_id: &str, value: f64, now_ms: u64) {
        if !self.store.enabled(kind) {
            return;
        }
        let tags = metric_tags(&self.store, kind, user, client_id);
        let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        sensor(&mut sensors, self.window, (kind, tags), now_ms)
            .rate
            .record(-value, now_ms);
    }

    /// Records a new connection from `ip` at `now_ms` against its `connection_creation_rate`
    /// (the address's entity, else the `<default>` IP's; none: unlimited) and returns how long
    /// to hold it before closing it unserved (0: serve it). Kafka's `ConnectionQuotas`: the
    /// throttle is capped at one sample, and a refused connection is not counted.
    pub fn record_connection(&self, ip: IpAddr, now_ms: u64) -> u64 {
        if !self.store.connection_rates_enabled() {
            return 0;
        }
        let bound = self
            .store
            .connection_rate(&EntityName::Name(ip.to_string()))
            .or_else(|| self.store.connection_rate(&EntityName::Default));
        let Some(bound) = bound else {
            return 0;
        };
        let mut sensors = self
            .connection_sensors
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let s = sensor(&mut sensors, self.window, ip, now_ms);
        match s.rate.record_and_check(1.0, now_ms, bound) {
            None => 0,
            Some(v) => {
                s.rate.record(-1.0, now_ms);
                v.throttle_ms().min(self.window.sample_ms)
            }
        }
    }
}

fn sensor<K: std::hash::Hash + Eq + Clone>(
    sensors: &mut HashMap<K, Sensor>,
    window: Window,
    key: K,
    now_ms: u64,
) -> &mut Sensor {
    if !sensors.contains_key(&key) && sensors.len() >= QUOTA_SENSORS_MAX {
        sensors.retain(|_, s| !s.rate.is_idle(now_ms));
        if sensors.len() >= QUOTA_SENSORS_MAX
            && let Some(oldest) = sensors
                .iter()
                .min_by_key(|(_, s)| s.last_used_ms)
                .map(|(k, _)| k.clone())
        {
            sensors.remove(&oldest);
        }
    }
    let s = sensors.entry(key).or_insert_with(|| Sensor {
        rate: Rate::new(window),
        last_used_ms: now_ms,
    });
    s.last_used_ms = now_ms;
    s
}

#[cfg(test)]
mod tests;
