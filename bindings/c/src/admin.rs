//! `klog_admin`: creates, deletes and lists topics; `klog_topic_list` holds a listing.

use std::ffi::{c_char, CString};

use klog::client::{Admin, NewTopic, TopicInfo};

use crate::config::{klog_config, Target};
use crate::error::{Failure, Result};
use crate::ffi::{arg, arg_mut, arg_str, free_handle, free_handle_after, guard, into_handle, Slot};
use crate::runtime::OnRuntime;
use crate::status::klog_status;

/// An admin client. Create with `klog_admin_new` (or `klog_embedded_admin_new`),
/// free with `klog_admin_free`. Every function on it may be called from any
/// thread, concurrently (except `klog_admin_free`).
#[allow(non_camel_case_types)]
pub struct klog_admin {
    slot: Slot<OnRuntime<Admin>>,
}

impl klog_admin {
    /// Connects an admin client to `target` with the connection options of `config`.
    pub(crate) fn connect(config: &klog_config, target: Target) -> Result<klog_admin> {
        let config = config.admin(target)?;
        let admin = OnRuntime::start(async || Admin::connect(config).await)?;
        Ok(klog_admin { slot: Slot::new(admin, "admin client") })
    }

    fn run<T>(&self, call: impl AsyncFnOnce(&Admin) -> klog::Result<T>) -> Result<T> {
        self.slot.get()?.run(call)
    }
}

/// One listed topic.
struct Listed {
    name: CString,
    partitions: i32,
}

/// Topics listed by `klog_admin_list_topics`, sorted by name. Free with `klog_topic_list_free`.
#[allow(non_camel_case_types)]
pub struct klog_topic_list {
    topics: Vec<Listed>,
}

impl klog_topic_list {
    fn new(topics: Vec<TopicInfo>) -> Result<klog_topic_list> {
        let topics = topics
            .into_iter()
            .map(|t| {
                let partitions = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
                let name = CString::new(t.name)
                    .map_err(|_| Failure::new(klog_status::KLOG_INTERNAL, "a topic name contains NUL"))?;
                Ok(Listed { name, partitions })
            })
            .collect::<Result<_>>()?;
        Ok(klog_topic_list { topics })
    }
}

/// Connects an admin client to the brokers in `config`'s `bootstrap.servers`
/// (using its connection options; producer and consumer options are ignored).
///
/// Ownership: `config` is copied; on `KLOG_OK`, `*out` is a new admin client the
/// caller frees with `klog_admin_free`. Thread safety: any thread. Blocks until connected.
///
/// # Safety
/// `config` must be NULL or a live config; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_admin_new(config: *const klog_config, out: *mut *mut klog_admin) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (config, out) = unsafe { (arg(config, "config")?, arg_mut(out, "out")?) };
        *out = into_handle(klog_admin::connect(config, Target::Bootstrap)?);
        Ok(())
    })
}

/// Creates topic `name` with `partitions` partitions and `replication_factor`
/// replicas (-1 for either: the broker's default). Fails with
/// `KLOG_ALREADY_EXISTS` if it exists.
///
/// Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `admin` must be NULL or a live admin client; `name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn klog_admin_create_topic(
    admin: *const klog_admin,
    name: *const c_char,
    partitions: i32,
    replication_factor: i16,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live admin client and a NUL-terminated name.
        let (admin, name) = unsafe { (arg(admin, "admin")?, arg_str(name, "name")?) };
        let topic = NewTopic { replication_factor, ..NewTopic::new(name, partitions) };
        admin.run(async |a| a.create_topic(topic).await)
    })
}

/// Deletes topic `name`. Fails with `KLOG_NOT_FOUND` if there is none.
///
/// Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `admin` must be NULL or a live admin client; `name` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn klog_admin_delete_topic(admin: *const klog_admin, name: *const c_char) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live admin client and a NUL-terminated name.
        let (admin, name) = unsafe { (arg(admin, "admin")?, arg_str(name, "name")?) };
        admin.run(async |a| a.delete_topics(&[name]).await)
    })
}

/// Lists the topics (without internal ones such as `__consumer_offsets`), sorted by name.
///
/// Ownership: on `KLOG_OK`, `*out` is a new list the caller frees with
/// `klog_topic_list_free`. Thread safety: any thread. Blocks the calling thread.
///
/// # Safety
/// `admin` must be NULL or a live admin client; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn klog_admin_list_topics(
    admin: *const klog_admin,
    out: *mut *mut klog_topic_list,
) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or live, writable pointers.
        let (admin, out) = unsafe { (arg(admin, "admin")?, arg_mut(out, "out")?) };
        let topics = admin.run(async |a| a.list_topics().await)?;
        *out = into_handle(klog_topic_list::new(topics)?);
        Ok(())
    })
}

/// Closes the admin client's connections. Later calls fail with `KLOG_CLOSED`;
/// closing again does nothing.
///
/// Thread safety: any thread.
///
/// # Safety
/// `admin` must be NULL or a live admin client.
#[no_mangle]
pub unsafe extern "C" fn klog_admin_close(admin: *const klog_admin) -> klog_status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live admin client.
        let admin = unsafe { arg(admin, "admin") }?;
        drop(admin.slot.take());
        Ok(())
    })
}

/// Closes (if still open) and frees an admin client. NULL does nothing.
///
/// Ownership: takes `admin`, which must not be used afterwards.
///
/// # Safety
/// `admin` must be NULL or an admin client not freed yet, and no other thread may use it.
#[no_mangle]
pub unsafe extern "C" fn klog_admin_free(admin: *mut klog_admin) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle_after(admin, |a| drop(a.slot.take())) }
}

/// The number of topics in the list (0 for NULL).
///
/// Thread safety: any thread, concurrently (the list is read-only).
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_list_len(list: *const klog_topic_list) -> usize {
    // SAFETY: the caller passes NULL or a live list.
    unsafe { list.as_ref() }.map_or(0, |l| l.topics.len())
}

/// The name of topic `index`, NUL-terminated, or NULL when `list` is NULL or
/// `index` is out of range. Valid until `klog_topic_list_free`.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_list_name(list: *const klog_topic_list, index: usize) -> *const c_char {
    // SAFETY: the caller passes NULL or a live list.
    unsafe { list.as_ref() }.and_then(|l| l.topics.get(index)).map_or(std::ptr::null(), |t| t.name.as_ptr())
}

/// The partition count of topic `index`, or -1 when `list` is NULL or `index` is out of range.
///
/// # Safety
/// `list` must be NULL or a live list.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_list_partitions(list: *const klog_topic_list, index: usize) -> i32 {
    // SAFETY: the caller passes NULL or a live list.
    unsafe { list.as_ref() }.and_then(|l| l.topics.get(index)).map_or(-1, |t| t.partitions)
}

/// Frees a topic list. NULL does nothing.
///
/// Ownership: takes `list`; neither it nor its names may be used afterwards.
///
/// # Safety
/// `list` must be NULL or a list from `klog_admin_list_topics`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn klog_topic_list_free(list: *mut klog_topic_list) {
    // SAFETY: forwarded from the caller.
    unsafe { free_handle(list) }
}
