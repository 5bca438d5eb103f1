//! The TCP front end of the broker: Kafka frames in, responses out in order.

mod codec;
mod legacy;
mod server;

pub use codec::{decode_request, encode_response, encode_unsupported_api_versions, CodecError, DecodedRequest};
pub use server::{Server, ServerConfig};
