//! Rust futures as JavaScript Promises, run on napi's tokio runtime.
//!
//! The future runs on a runtime thread; only `convert` runs on the JavaScript
//! thread, to build the resolved value. The event loop is kept alive only
//! while a Promise is pending.

use std::future::Future;

use napi::bindgen_prelude::{PromiseRaw, ToNapiValue};
use napi::Env;

use crate::error::to_js;

/// Spawns `fut` and returns a Promise resolved with `convert(value)` or
/// rejected with the klog error.
pub fn promise<'env, T, V, F, C>(env: &'env Env, fut: F, convert: C) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = klog::Result<T>> + Send + 'static,
    C: FnOnce(&'env Env, T) -> napi::Result<V> + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, result| match result {
        Ok(value) => convert(env, value),
        Err(e) => Err(to_js(env, &e)),
    })
}

/// [`promise`] for values that convert themselves.
pub fn promise_of<T, F>(env: &Env, fut: F) -> napi::Result<PromiseRaw<'_, T>>
where
    T: Send + ToNapiValue + 'static,
    F: Future<Output = klog::Result<T>> + Send + 'static,
{
    promise(env, fut, |_, value| Ok(value))
}
