//! ApiVersions (key 18): the protocol crate's `ADVERTISED` table is the broker's answer — every
//! API in it has a handler here (the broker's API sweep test fails on one without).

use weir_protocol::api::api_versions_response;
use weir_protocol::messages::api_versions::ApiVersionsResponse;

pub(crate) fn handle(unsupported_version: bool) -> ApiVersionsResponse {
    api_versions_response(unsupported_version)
}
