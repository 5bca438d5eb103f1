//! Kafka request frames to typed requests and typed responses to frames.
//! Frames arrive without their 4-byte length prefix; responses are written with it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, FetchResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::ResponseError;

use crate::{api, legacy};

/// Why a frame could not be turned into a request. The connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Shorter than a request header.
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    /// An API key Kafka does not define.
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    /// An API or version this broker does not implement (and did not advertise).
    #[error("{0:?} v{1} is not supported")]
    UnsupportedVersion(ApiKey, i16),
    /// The bytes do not decode as the announced request.
    #[error("malformed {0:?} v{1} request: {2}")]
    Malformed(ApiKey, i16, String),
    /// A response could not be encoded (a bug).
    #[error("cannot encode {0:?} v{1} response: {2}")]
    Encode(ApiKey, i16, String),
}

/// A decoded request frame.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // the small variant is rare; boxing would cost every request
pub enum DecodedRequest {
    /// A request the broker implements.
    Request {
        /// The request header (correlation id, client id, version on the wire).
        header: RequestHeader,
        /// Which API.
        api_key: ApiKey,
        /// The version `body` was decoded as (above the wire version for legacy requests).
        version: i16,
        /// The typed body.
        body: RequestKind,
    },
    /// ApiVersions at a version we lack: answer with error 35 and a v0 body (KIP-511).
    UnsupportedApiVersions {
        /// Correlation id to answer with.
        correlation_id: i32,
    },
}

/// Decodes one frame. Never panics on arbitrary input.
pub fn decode_request(mut frame: Bytes) -> Result<DecodedRequest, CodecError> {
    if frame.len() < 8 {
        return Err(CodecError::TooShort(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api_key = ApiKey::try_from(raw_key).map_err(|_| CodecError::UnknownApi(raw_key))?;
    if !api::is_supported(api_key, version) {
        if api_key == ApiKey::ApiVersions {
            let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            return Ok(DecodedRequest::UnsupportedApiVersions { correlation_id });
        }
        return Err(CodecError::UnsupportedVersion(api_key, version));
    }
    let malformed = |e: String| CodecError::Malformed(api_key, version, e);
    let decoded = catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
        let header =
            RequestHeader::decode(&mut frame, api_key.request_header_version(version)).map_err(|e| e.to_string())?;
        let (mut body, body_version) = if legacy::is_legacy(api_key, version) {
            legacy::upgrade_request(api_key, version, frame)?
        } else {
            (frame, version)
        };
        let request = RequestKind::decode(api_key, &mut body, body_version).map_err(|e| e.to_string())?;
        Ok((header, body_version, request))
    }))
    .map_err(|_| malformed("decoder panicked".into()))?
    .map_err(malformed)?;
    let (header, version, body) = decoded;
    Ok(DecodedRequest::Request { header, api_key, version, body })
}

/// Encodes a response frame (length prefix, header, body) into `out`.
pub fn encode_response(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    response: &ResponseKind,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = out.len();
    out.put_i32(0);
    encode_response_into(correlation_id, api_key, version, response, out)?;
    let len = i32::try_from(out.len() - start - 4)
        .map_err(|_| CodecError::Encode(api_key, version, "response larger than 2 GiB".into()))?;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Encodes the response header and body (no length prefix).
fn encode_response_into(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    response: &ResponseKind,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let fail = |e: String| CodecError::Encode(api_key, version, e);
    encode_header(correlation_id, api_key, version, out)?;
    if legacy::is_legacy(api_key, version) {
        legacy::encode_response_body(version, response, out).map_err(fail)
    } else {
        response.encode(out, version).map_err(|e| fail(e.to_string()))
    }
}

/// Encodes a Fetch response's header and body (no length prefix) into any buffer.
pub(crate) fn encode_fetch_into<B: ByteBufMut>(
    correlation_id: i32,
    version: i16,
    response: &FetchResponse,
    out: &mut B,
) -> Result<(), CodecError> {
    encode_header(correlation_id, ApiKey::Fetch, version, out)?;
    if legacy::is_legacy(ApiKey::Fetch, version) {
        legacy::encode_fetch_v2(response, out);
        Ok(())
    } else {
        response.encode(out, version).map_err(|e| CodecError::Encode(ApiKey::Fetch, version, e.to_string()))
    }
}

fn encode_header<B: ByteBufMut>(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    out: &mut B,
) -> Result<(), CodecError> {
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(out, api_key.response_header_version(version))
        .map_err(|e| CodecError::Encode(api_key, version, e.to_string()))
}

/// The ApiVersions v0 answer to a client that asked for a version we lack.
pub fn encode_unsupported_api_versions(correlation_id: i32, out: &mut BytesMut) -> Result<(), CodecError> {
    let response = ResponseKind::ApiVersions(api::api_versions(Some(ResponseError::UnsupportedVersion)));
    encode_response(correlation_id, ApiKey::ApiVersions, 0, &response, out)
}
