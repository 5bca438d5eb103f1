//! klog errors as JavaScript `Error` objects, mapped once here.
//!
//! Every error a klog call throws or rejects with is an `Error` carrying
//! `code` (`KLOG_<KIND>`, stable), `kafkaCode` (the Kafka error code a broker
//! answered with, when there was one) and `retriable`.

use klog::ErrorKind;
use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{Env, JsValue, Status};

/// The stable `code` string of an error kind.
pub fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "KLOG_INVALID",
        ErrorKind::NotFound => "KLOG_NOT_FOUND",
        ErrorKind::AlreadyExists => "KLOG_ALREADY_EXISTS",
        ErrorKind::Unavailable => "KLOG_UNAVAILABLE",
        ErrorKind::NotLeader => "KLOG_NOT_LEADER",
        ErrorKind::Timeout => "KLOG_TIMEOUT",
        ErrorKind::Fenced => "KLOG_FENCED",
        ErrorKind::Closed => "KLOG_CLOSED",
        ErrorKind::Corrupt => "KLOG_CORRUPT",
        ErrorKind::Io => "KLOG_IO",
        _ => "KLOG_INTERNAL",
    }
}

fn build<'env>(env: &'env Env, err: &klog::Error) -> napi::Result<Object<'env>> {
    let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, err.to_string()))?;
    obj.set_named_property("code", code_of(err.kind()))?;
    obj.set_named_property("retriable", err.kind().is_retriable())?;
    if let Some(code) = err.kafka_code() {
        obj.set_named_property("kafkaCode", i32::from(code))?;
    }
    Ok(obj)
}

/// The JavaScript error for `err`, ready to throw or reject with.
pub fn to_js(env: &Env, err: &klog::Error) -> napi::Error {
    match build(env, err) {
        Ok(obj) => napi::Error::from(obj.to_unknown()),
        Err(e) => e,
    }
}
