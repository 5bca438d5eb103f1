//! A broker inside the application, like SQLite: open a directory, then use the
//! same producer, consumer and admin clients as against a remote cluster. They
//! call the broker directly (no socket, no codec) with the same semantics.
//! The broker can also listen on TCP so other processes and languages connect.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::broker::{Broker, BrokerConfig, Endpoint};
use crate::client::{Admin, ClientConfig, Consumer, ConsumerConfig, Producer, ProducerConfig};
use crate::error::{Error, Result};
use crate::net::{Server, ServerConfig};

/// A TCP listener serving the embedded broker.
struct Listener {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// An embedded broker and the clients that reach it in process.
pub struct Embedded {
    broker: Arc<Broker>,
    listeners: Mutex<Vec<Listener>>,
}

impl Embedded {
    /// Opens (or creates) a broker in `dir` with single-process defaults: new groups
    /// rebalance at once (no `group.initial.rebalance.delay.ms`). Two processes cannot
    /// open the same directory. Must be called inside a tokio runtime.
    pub fn open(dir: impl AsRef<Path>) -> Result<Embedded> {
        let mut config = BrokerConfig::new(dir.as_ref());
        config.group.initial_rebalance_delay_ms = 0;
        Self::open_with(config)
    }

    /// Opens a broker with explicit settings.
    pub fn open_with(config: BrokerConfig) -> Result<Embedded> {
        Ok(Embedded { broker: Broker::open(config)?, listeners: Mutex::new(Vec::new()) })
    }

    /// The broker itself.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// Client settings that reach this broker in process.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::in_process(self.broker.clone())
    }

    /// A producer with default settings.
    pub async fn producer(&self) -> Result<Producer> {
        Producer::connect(ProducerConfig::new(self.client_config())).await
    }

    /// A consumer, in `group` if given.
    pub async fn consumer(&self, group: Option<&str>) -> Result<Consumer> {
        Consumer::connect(ConsumerConfig::new(self.client_config(), group)).await
    }

    /// An admin client.
    pub async fn admin(&self) -> Result<Admin> {
        Admin::connect(self.client_config()).await
    }

    /// Serves the broker on `addr` (port 0 picks one) and advertises that address;
    /// returns the address bound.
    pub async fn listen(&self, addr: SocketAddr) -> Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        self.broker.set_advertised(Endpoint { host: bound.ip().to_string(), port: bound.port() })?;
        let server = Server::from_listener(listener, self.broker.clone(), ServerConfig::default());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            if let Err(e) = server
                .serve(async {
                    let _ = stopped.await;
                })
                .await
            {
                tracing::error!(error = %e, "embedded listener failed");
            }
        });
        self.listeners.lock().push(Listener { stop, task });
        Ok(bound)
    }

    /// Stops listening, flushes every log and releases the directory. Clients of
    /// this broker then fail with [`ErrorKind::Closed`](crate::ErrorKind::Closed);
    /// closing twice is fine.
    pub async fn close(&self) -> Result<()> {
        let listeners: Vec<Listener> = std::mem::take(&mut *self.listeners.lock());
        for listener in listeners {
            let _ = listener.stop.send(());
            listener.task.await.map_err(|e| Error::internal(format!("listener task failed: {e}")))?;
        }
        self.broker.shutdown()
    }
}
