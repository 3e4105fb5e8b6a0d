//! Dispatch by API key and version: whole requests and responses, both directions.
//!
//! The broker uses [`decode_request`] and [`encode_response`]; weir's own client, the
//! benchmark and the tests use [`encode_request`] and [`decode_response`].

use crate::decoder::Decoder;
use crate::encoder::{Encoded, Encoder};
use crate::error::{DecodeError, EncodeError};
use crate::frame::frame;
use crate::header::{
    RequestHeader, ResponseHeader, request_header_version, response_header_version,
};
use crate::messages::ApiVersionsRequest;
pub use crate::messages::{ApiKey, RequestBody, ResponseBody};
use bytes::Bytes;

/// The version ranges weir advertises in ApiVersions, `(key, min, max)`, in key order.
///
/// Hand-written from `VERSIONS.md`, not generated: the schemas' ranges are wider.
/// Produce 0–2 are advertised but the broker rejects them (librdkafka turns
/// compression off when a broker's lowest Produce version is 3; Kafka 4.0 does the same).
pub const ADVERTISED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 11),
    (ApiKey::Fetch, 4, 17),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 8),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 4),
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 0),
    (ApiKey::DescribeTopicPartitions, 0, 0),
];

/// Produce versions below this are advertised but refused by the broker.
pub const PRODUCE_VERSION_ACCEPTED_MIN: i16 = 3;

/// The advertised `(min, max)` of an API, or `None` when it is not advertised.
pub fn advertised(key: ApiKey) -> Option<(i16, i16)> {
    ADVERTISED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, min, max)| (min, max))
}

/// True when `version` of `key` is advertised.
pub fn is_advertised(key: ApiKey, version: i16) -> bool {
    advertised(key).is_some_and(|(min, max)| (min..=max).contains(&version))
}

/// A decoded request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The header as sent (`api_version` is the client's, even when unsupported).
    pub header: RequestHeader,
    /// The version the body was decoded at. Differs from `header.api_version` only for
    /// an ApiVersions request at a version above ours: its body is not parsed and this
    /// is 0, so the broker answers UNSUPPORTED_VERSION (35) with a v0 body.
    pub body_version: i16,
    /// The body.
    pub body: RequestBody,
    /// Bytes the frame held after the end of the body, ignored (as Kafka ignores them).
    pub trailing_bytes: usize,
}

impl Request {
    /// The API key.
    pub fn api_key(&self) -> ApiKey {
        self.body.api_key()
    }

    /// True for the ApiVersions-at-an-unknown-version case (answer with error 35 at v0).
    pub fn is_unsupported_api_versions(&self) -> bool {
        self.body_version != self.header.api_version
    }
}

/// Decodes one request frame body (the bytes after the size prefix).
///
/// Errors: [`DecodeError::UnsupportedApiKey`] for a key weir does not speak,
/// [`DecodeError::UnsupportedVersion`] for an unadvertised version (close the
/// connection, as Kafka does), [`DecodeError::Malformed`] otherwise. Bytes after the
/// end of the body are ignored, as Kafka's `RequestContext.parseRequest` ignores them
/// (librdkafka 2.16 leaves three stray bytes in its all-topics Metadata v9+ request:
/// [`Request::trailing_bytes`] counts them).
pub fn decode_request(frame: Bytes) -> Result<Request, DecodeError> {
    let mut d = Decoder::new(frame);
    let (key, version) = RequestHeader::peek_key_version(&d)?;
    let api_key = ApiKey::from_i16(key).ok_or(DecodeError::UnsupportedApiKey { api_key: key })?;
    let (min, max) = advertised(api_key).ok_or(DecodeError::UnsupportedApiKey { api_key: key })?;
    if api_key == ApiKey::ApiVersions && version > max {
        // KIP-511: parse the header (flexible from v3 on, as for any newer version)
        // and ignore the body, which may be in a format we do not know.
        let header = RequestHeader::decode(&mut d, request_header_version(api_key, version))?;
        return Ok(Request {
            header,
            body_version: 0,
            body: RequestBody::ApiVersions(ApiVersionsRequest::default()),
            trailing_bytes: 0,
        });
    }
    if !(min..=max).contains(&version) {
        return Err(DecodeError::UnsupportedVersion {
            api_key: key,
            version,
        });
    }
    let header = RequestHeader::decode(&mut d, request_header_version(api_key, version))?;
    let body = RequestBody::decode(api_key, &mut d, version).map_err(|e| with_key(e, key))?;
    Ok(Request {
        header,
        body_version: version,
        body,
        trailing_bytes: d.remaining(),
    })
}

fn with_key(e: DecodeError, api_key: i16) -> DecodeError {
    match e {
        DecodeError::UnsupportedVersion { version, .. } => {
            DecodeError::UnsupportedVersion { api_key, version }
        }
        other => other,
    }
}

/// Encodes a response frame (size prefix included) for a request of `api_key` at
/// `version`. The header version follows [`response_header_version`].
pub fn encode_response(
    correlation_id: i32,
    version: i16,
    body: &ResponseBody,
) -> Result<Encoded, EncodeError> {
    let api_key = body.api_key();
    let mut e = Encoder::new();
    let header = ResponseHeader {
        correlation_id,
        unknown_tagged_fields: Vec::new(),
    };
    header.encode(&mut e, response_header_version(api_key, version))?;
    body.encode(&mut e, version)?;
    frame(e)
}

/// Encodes a request frame (size prefix included); the body's key and
/// `header.api_version` decide the encoding.
pub fn encode_request(header: &RequestHeader, body: &RequestBody) -> Result<Encoded, EncodeError> {
    let api_key = body.api_key();
    let mut h = header.clone();
    h.api_key = api_key.as_i16();
    let mut e = Encoder::new();
    h.encode(&mut e, request_header_version(api_key, h.api_version))?;
    body.encode(&mut e, h.api_version)?;
    frame(e)
}

/// Decodes a response frame body (after the size prefix) to a request of `api_key`
/// sent at `version`.
pub fn decode_response(
    api_key: ApiKey,
    version: i16,
    frame: Bytes,
) -> Result<(ResponseHeader, ResponseBody), DecodeError> {
    let mut d = Decoder::new(frame);
    let header = ResponseHeader::decode(&mut d, response_header_version(api_key, version))?;
    // Bytes after the body are ignored, as Kafka's clients ignore them
    // (`AbstractResponse.parseResponse` reads the body and nothing more).
    let body = ResponseBody::decode(api_key, &mut d, version)
        .map_err(|e| with_key(e, api_key.as_i16()))?;
    Ok((header, body))
}

/// UNSUPPORTED_VERSION, the error of an ApiVersions request above our range.
pub const UNSUPPORTED_VERSION_ERROR_CODE: i16 = 35;

/// The ApiVersions answer: every advertised range, or, for
/// [`Request::is_unsupported_api_versions`], error 35 with only ApiVersions' own range
/// (KIP-511; the client retries at a version in it). Encode the latter at version 0.
pub fn api_versions_response(unsupported_version: bool) -> crate::messages::ApiVersionsResponse {
    use crate::messages::api_versions::ApiVersion;
    let api_keys = ADVERTISED
        .iter()
        .filter(|(k, _, _)| !unsupported_version || *k == ApiKey::ApiVersions)
        .map(|&(k, min, max)| ApiVersion {
            api_key: k.as_i16(),
            min_version: min,
            max_version: max,
            ..Default::default()
        })
        .collect();
    crate::messages::ApiVersionsResponse {
        error_code: if unsupported_version {
            UNSUPPORTED_VERSION_ERROR_CODE
        } else {
            0
        },
        api_keys,
        ..Default::default()
    }
}
