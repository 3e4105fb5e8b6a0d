//! Property tests: every message at every version, request and response.
//!
//! A random value valid for the version (generated `arbitrary`) must encode, decode
//! to an equal value, and re-encode to identical bytes.

use crate::api::{ADVERTISED, decode_request, encode_request, is_advertised};
use crate::arbitrary::Gen;
use crate::decoder::Decoder;
use crate::encoder::Encoder;
use crate::header::RequestHeader;
use crate::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, RequestBody, ResponseBody,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per message and version: small, so the whole suite stays fast.
const CASES_PER_VERSION: u32 = 24;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES_PER_VERSION,
        failure_persistence: None,
        ..Config::default()
    })
}

fn every_version(f: impl Fn(ApiKey, i16, u64) -> Result<(), TestCaseError>) {
    for key in ApiKey::ALL {
        let (min, max) = key.schema_versions();
        for version in min..=max {
            let result = runner().run(&any::<u64>(), |seed| f(key, version, seed));
            if let Err(e) = result {
                panic!("{key:?} v{version}: {e}");
            }
        }
    }
}

#[test]
fn requests_round_trip_at_every_version() {
    every_version(|key, version, seed| {
        let value = RequestBody::arbitrary(key, &mut Gen::new(seed), version);
        let mut e = Encoder::new();
        value
            .encode(&mut e, version)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        let bytes = e.finish().to_bytes();
        let mut d = Decoder::new(bytes.clone());
        let back = RequestBody::decode(key, &mut d, version)
            .map_err(|err| TestCaseError::fail(format!("{err} decoding {bytes:?}")))?;
        prop_assert_eq!(d.remaining(), 0);
        prop_assert_eq!(&back, &value);
        let mut e2 = Encoder::new();
        back.encode(&mut e2, version)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(e2.finish().to_bytes(), bytes);
        Ok(())
    });
}

#[test]
fn responses_round_trip_at_every_version() {
    every_version(|key, version, seed| {
        let value = ResponseBody::arbitrary(key, &mut Gen::new(seed), version);
        let mut e = Encoder::new();
        value
            .encode(&mut e, version)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        let bytes = e.finish().to_bytes();
        let mut d = Decoder::new(bytes.clone());
        let back = ResponseBody::decode(key, &mut d, version)
            .map_err(|err| TestCaseError::fail(format!("{err} decoding {bytes:?}")))?;
        prop_assert_eq!(d.remaining(), 0);
        prop_assert_eq!(&back, &value);
        let mut e2 = Encoder::new();
        back.encode(&mut e2, version)
            .map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(e2.finish().to_bytes(), bytes);
        Ok(())
    });
}

#[test]
fn whole_requests_round_trip_at_every_advertised_version() {
    for &(key, min, max) in ADVERTISED {
        for version in min..=max {
            assert!(is_advertised(key, version));
            runner()
                .run(
                    &(
                        any::<u64>(),
                        any::<i32>(),
                        proptest::option::of("[a-z0-9-]{0,12}"),
                    ),
                    |(seed, cid, client)| {
                        let body = RequestBody::arbitrary(key, &mut Gen::new(seed), version);
                        let header = RequestHeader {
                            api_key: key.as_i16(),
                            api_version: version,
                            correlation_id: cid,
                            client_id: client,
                            unknown_tagged_fields: Vec::new(),
                        };
                        let frame = encode_request(&header, &body)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        let bytes = frame.to_bytes();
                        let req = decode_request(bytes.slice(4..))
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(req.header, header);
                        prop_assert_eq!(req.body_version, version);
                        prop_assert_eq!(req.body, body);
                        Ok(())
                    },
                )
                .unwrap_or_else(|e| panic!("{key:?} v{version}: {e}"));
        }
    }
}

#[test]
fn consumer_protocol_round_trips() {
    for version in 0..=ConsumerProtocolSubscription::VERSION_MAX {
        runner()
            .run(&any::<u64>(), |seed| {
                let s = ConsumerProtocolSubscription::arbitrary(&mut Gen::new(seed), version);
                let mut e = Encoder::new();
                s.encode(&mut e, version)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let bytes = e.finish().to_bytes();
                let back = ConsumerProtocolSubscription::decode(&mut Decoder::new(bytes), version)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(back, s);
                Ok(())
            })
            .unwrap();
    }
    for version in 0..=ConsumerProtocolAssignment::VERSION_MAX {
        runner()
            .run(&any::<u64>(), |seed| {
                let s = ConsumerProtocolAssignment::arbitrary(&mut Gen::new(seed), version);
                let mut e = Encoder::new();
                s.encode(&mut e, version)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let bytes = e.finish().to_bytes();
                let back = ConsumerProtocolAssignment::decode(&mut Decoder::new(bytes), version)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(back, s);
                Ok(())
            })
            .unwrap();
    }
}

proptest! {
    #![proptest_config(Config { cases: 2048, failure_persistence: None, ..Config::default() })]

    /// Random bodies for random keys and versions never panic, and whatever decodes
    /// round-trips (the fuzz property, run briefly here).
    #[test]
    fn random_bodies_never_panic(key in proptest::sample::select(ApiKey::ALL.map(ApiKey::as_i16).to_vec()), version in -1i16..19, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut input = key.to_be_bytes().to_vec();
        input.extend_from_slice(&version.to_be_bytes());
        input.extend_from_slice(&body);
        prop_assert_eq!(crate::check::request_roundtrip(&input), Ok(()));
        prop_assert_eq!(crate::check::response_roundtrip(&input), Ok(()));
    }
}
