//! The admin client. Every method takes `aio`: false blocks (GIL released),
//! true returns an asyncio future. Results are plain tuples and dicts that the
//! Python layer turns into dataclasses.

use std::collections::HashMap;

use klog::binding::Unknown;
use klog::client::admin::{ConfigEntry, GroupDescription, GroupOffset};
use klog::client::{Admin as CoreAdmin, NewTopic, OffsetSpec, TopicInfo};
use pyo3::prelude::*;

use crate::common::{tp_in, tp_out, Target, Tp};
use crate::error::to_py;
use crate::runtime::{into_py, run};

type PyTopicInfo = (String, String, Vec<(i32, i32, i32)>);

fn topic_out(t: TopicInfo) -> PyTopicInfo {
    (t.name, t.id.to_string(), t.partitions.into_iter().map(|p| (p.partition, p.leader, p.leader_epoch)).collect())
}

/// (member_id, group_instance_id, client_id, client_host, assignment).
type PyMember = (String, Option<String>, String, String, Vec<Tp>);

fn group_out(g: GroupDescription) -> (String, String, String, String, Vec<PyMember>) {
    let members = g
        .members
        .into_iter()
        .map(|m| {
            (
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.assignment.into_iter().map(tp_out).collect(),
            )
        })
        .collect();
    (g.group_id, g.state, g.protocol_type, g.protocol, members)
}

/// Admin client (native handle; use `klog.Admin`).
#[pyclass(module = "klog._native", frozen)]
pub struct Admin {
    inner: klog::Handle<CoreAdmin>,
}

impl Admin {
    fn admin(&self) -> PyResult<std::sync::Arc<CoreAdmin>> {
        self.inner.get().map_err(to_py)
    }
}

#[pymethods]
impl Admin {
    /// Connects to `target` (bootstrap servers or an embedded broker).
    #[staticmethod]
    #[pyo3(signature = (target, options, aio = false))]
    fn connect<'py>(
        py: Python<'py>,
        target: Target,
        options: Vec<(String, String)>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (target, options) = target.with(options);
        let config = options.admin(target, Unknown::Refuse).map_err(to_py)?;
        run(py, aio, CoreAdmin::connect(config), |py, admin| {
            Ok(Py::new(py, Admin { inner: klog::Handle::new(admin, "admin client") })?.into_any())
        })
    }

    fn close(&self) {
        self.inner.take();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner.is_closed()
    }

    #[pyo3(signature = (topics, aio = false))]
    fn create_topics<'py>(
        &self,
        py: Python<'py>,
        topics: Vec<(String, i32, i16, HashMap<String, String>)>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        let topics: Vec<NewTopic> = topics
            .into_iter()
            .map(|(name, partitions, rf, configs)| {
                let mut t = NewTopic::new(name, partitions);
                t.replication_factor = rf;
                t.configs = configs.into_iter().collect();
                t
            })
            .collect();
        run(py, aio, async move { admin.create_topics(&topics).await }, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (topics, aio = false))]
    fn delete_topics<'py>(&self, py: Python<'py>, topics: Vec<String>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(
            py,
            aio,
            async move {
                let names: Vec<&str> = topics.iter().map(String::as_str).collect();
                admin.delete_topics(&names).await
            },
            |py, ()| Ok(py.None()),
        )
    }

    #[pyo3(signature = (aio = false))]
    fn list_topics<'py>(&self, py: Python<'py>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.list_topics().await }, |py, topics| {
            into_py(py, topics.into_iter().map(topic_out).collect::<Vec<_>>())
        })
    }

    #[pyo3(signature = (topic, aio = false))]
    fn describe_topic<'py>(&self, py: Python<'py>, topic: String, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.describe_topic(&topic).await }, |py, t| into_py(py, topic_out(t)))
    }

    #[pyo3(signature = (topic, total, aio = false))]
    fn create_partitions<'py>(
        &self,
        py: Python<'py>,
        topic: String,
        total: i32,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.create_partitions(&topic, total).await }, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (topic, aio = false))]
    fn describe_configs<'py>(&self, py: Python<'py>, topic: String, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.describe_configs(&topic).await }, |py, configs| {
            let out: Vec<(String, Option<String>, bool, bool)> = configs
                .into_iter()
                .map(|(k, ConfigEntry { value, is_default, read_only, .. })| (k, value, is_default, read_only))
                .collect();
            into_py(py, out)
        })
    }

    #[pyo3(signature = (topic, set, delete, aio = false))]
    fn alter_configs<'py>(
        &self,
        py: Python<'py>,
        topic: String,
        set: Vec<(String, String)>,
        delete: Vec<String>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(
            py,
            aio,
            async move {
                let set: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let delete: Vec<&str> = delete.iter().map(String::as_str).collect();
                admin.alter_configs(&topic, &set, &delete).await
            },
            |py, ()| Ok(py.None()),
        )
    }

    /// `spec`: "earliest", "latest" or a timestamp in ms.
    #[pyo3(signature = (partitions, spec, aio = false))]
    fn list_offsets<'py>(
        &self,
        py: Python<'py>,
        partitions: Vec<Tp>,
        spec: &Bound<'py, PyAny>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = if let Ok(ts) = spec.extract::<i64>() {
            OffsetSpec::Timestamp(ts)
        } else {
            match spec.extract::<String>()?.as_str() {
                "earliest" => OffsetSpec::Earliest,
                "latest" => OffsetSpec::Latest,
                other => {
                    return Err(to_py(klog::Error::invalid(format!(
                        "offset spec must be 'earliest', 'latest' or a timestamp in ms, got {other:?}"
                    ))))
                }
            }
        };
        let admin = self.admin()?;
        let partitions: Vec<_> = partitions.into_iter().map(tp_in).collect();
        run(py, aio, async move { admin.list_offsets(&partitions, spec).await }, |py, offsets| {
            let out: HashMap<Tp, Option<i64>> = offsets.into_iter().map(|(k, v)| (tp_out(k), v)).collect();
            into_py(py, out)
        })
    }

    #[pyo3(signature = (partition, offset, aio = false))]
    fn delete_records<'py>(
        &self,
        py: Python<'py>,
        partition: Tp,
        offset: i64,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        let tp = tp_in(partition);
        run(py, aio, async move { admin.delete_records(&tp, offset).await }, into_py)
    }

    #[pyo3(signature = (aio = false))]
    fn list_groups<'py>(&self, py: Python<'py>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.list_groups().await }, into_py)
    }

    #[pyo3(signature = (group, aio = false))]
    fn describe_group<'py>(&self, py: Python<'py>, group: String, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.describe_group(&group).await }, |py, g| into_py(py, group_out(g)))
    }

    #[pyo3(signature = (group, aio = false))]
    fn delete_group<'py>(&self, py: Python<'py>, group: String, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.delete_group(&group).await }, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (group, aio = false))]
    fn group_offsets<'py>(&self, py: Python<'py>, group: String, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.group_offsets(&group).await }, |py, offsets| {
            let out: Vec<(Tp, i64, i64, i64)> = offsets
                .into_iter()
                .map(|GroupOffset { partition, committed, end, lag, .. }| (tp_out(partition), committed, end, lag))
                .collect();
            into_py(py, out)
        })
    }

    #[pyo3(signature = (group, offsets, aio = false))]
    fn set_group_offsets<'py>(
        &self,
        py: Python<'py>,
        group: String,
        offsets: Vec<(Tp, i64)>,
        aio: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        let offsets: Vec<_> = offsets.into_iter().map(|(tp, o)| (tp_in(tp), o)).collect();
        run(py, aio, async move { admin.set_group_offsets(&group, &offsets).await }, |py, ()| Ok(py.None()))
    }

    #[pyo3(signature = (aio = false))]
    fn describe_cluster<'py>(&self, py: Python<'py>, aio: bool) -> PyResult<Bound<'py, PyAny>> {
        let admin = self.admin()?;
        run(py, aio, async move { admin.describe_cluster().await }, |py, c| {
            into_py(py, (c.cluster_id, c.controller, c.brokers))
        })
    }
}
