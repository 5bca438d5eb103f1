//! What the server serves on: a [`Listener`] accepting [`Connection`]s. Real TCP
//! implements both; a simulated network implements them for its own types, and
//! any byte stream can be served through [`Copying`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite, ReadHalf, WriteHalf};
use tokio::net::{tcp, TcpListener, TcpStream};

use crate::writer::{ChunkSink, Copying};

/// An accepted connection, split into the half requests are read from and the
/// half responses are written to (by a task of its own).
pub trait Connection: Send + 'static {
    /// The half requests arrive on.
    type Reader: AsyncRead + Unpin + Send + 'static;
    /// The half responses leave on.
    type Writer: ChunkSink + 'static;

    /// Splits the connection into its two halves.
    fn into_halves(self) -> (Self::Reader, Self::Writer);
}

/// A bound socket that accepts connections.
pub trait Listener: Send + 'static {
    /// The connections it accepts.
    type Connection: Connection;

    /// Waits for the next connection and the peer's address.
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Connection, SocketAddr)>> + Send;

    /// The address it is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Connection for TcpStream {
    type Reader = tcp::OwnedReadHalf;
    type Writer = tcp::OwnedWriteHalf;

    fn into_halves(self) -> (Self::Reader, Self::Writer) {
        self.into_split()
    }
}

impl Listener for TcpListener {
    type Connection = TcpStream;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Responses are written whole; waiting to coalesce them only adds latency.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpListener::local_addr(self)
    }
}

/// Any byte stream is a connection whose file slices are sent as copied bytes.
impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Connection for Copying<S> {
    type Reader = ReadHalf<S>;
    type Writer = Copying<WriteHalf<S>>;

    fn into_halves(self) -> (Self::Reader, Self::Writer) {
        let (read, write) = tokio::io::split(self.0);
        (read, Copying(write))
    }
}
