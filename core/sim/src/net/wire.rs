//! klog's real server and client over turmoil's simulated TCP: a [`Listener`]
//! the broker's server loop accepts on, and a [`Connector`] that dials a broker
//! host by name and runs the client's pipelined transport over the stream.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use klog_broker::server::{Copying, Listener};
use klog_client::{Connector, TcpTransport, Transport};
use klog_protocol::{BoxFuture, Error, ErrorKind, Result};

/// turmoil's TCP listener, accepting streams the server serves as copied bytes.
pub struct SimListener(turmoil::net::TcpListener);

impl SimListener {
    /// Binds `addr` on the current simulated host.
    pub async fn bind(addr: SocketAddr) -> io::Result<SimListener> {
        Ok(SimListener(turmoil::net::TcpListener::bind(addr).await?))
    }
}

impl Listener for SimListener {
    type Connection = Copying<turmoil::net::TcpStream>;

    async fn accept(&self) -> io::Result<(Self::Connection, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((Copying(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// Opens klog's TCP transport over turmoil streams; `host:port` names a host of
/// the simulation.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimTcpConnector;

impl Connector for SimTcpConnector {
    fn connect<'a>(
        &'a self,
        address: &'a str,
        client_id: &'a str,
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Arc<dyn Transport>>> {
        Box::pin(async move {
            let stream = tokio::time::timeout(timeout, turmoil::net::TcpStream::connect(address))
                .await
                .map_err(|_| Error::new(ErrorKind::Timeout, format!("connecting to {address} timed out")))?
                .map_err(|e| {
                    Error::new(ErrorKind::Unavailable, format!("cannot connect to {address}")).with_source(e)
                })?;
            let (read, write) = stream.into_split();
            Ok(TcpTransport::over(read, write, address, client_id, timeout) as Arc<dyn Transport>)
        })
    }
}
