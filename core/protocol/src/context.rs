//! Who sent a request and how it arrived.

/// What a transport knows about the sender of a request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The authenticated principal (`User:ANONYMOUS` until a listener authenticates).
    pub principal: String,
    /// The name of the listener the request came through (`in-process` for embedded clients).
    pub listener: String,
    /// The client id from the request header.
    pub client_id: String,
    /// The client's address (`/ip` like Kafka), or empty in process.
    pub host: String,
}

impl RequestContext {
    /// The principal of unauthenticated connections.
    pub const ANONYMOUS: &'static str = "User:ANONYMOUS";

    /// An anonymous sender on `listener`.
    pub fn anonymous(listener: &str, client_id: impl Into<String>, host: impl Into<String>) -> RequestContext {
        RequestContext {
            principal: Self::ANONYMOUS.to_string(),
            listener: listener.to_string(),
            client_id: client_id.into(),
            host: host.into(),
        }
    }
}

impl Default for RequestContext {
    fn default() -> Self {
        RequestContext::anonymous("in-process", "", "")
    }
}
