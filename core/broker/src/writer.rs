//! Writes response chunks to a connection: encoded bytes with vectored writes,
//! log file slices as the connection's [`ChunkSink`] sends them. On a real TCP
//! socket that is `sendfile` (the kernel copies from the page cache), so stored
//! batches are never copied in user space; any other stream (a simulated
//! network, see [`Copying`]) gets the slice's bytes read from the file.
//!
//! A file slice was checked against the log when it was read. If the file is
//! shorter by the time it is sent (it cannot be after a deletion, since the open
//! handle keeps the data, but could be after an outside truncation), the frame
//! can no longer be completed truthfully: the write fails and the connection is
//! closed, never padded with other bytes.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use klog_protocol::wire::{Chunk, FileSlice};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

/// At most this many buffers per vectored write.
const MAX_IOV: usize = 64;

/// The write side of a connection: a byte stream that can also send a slice of
/// a log file.
pub trait ChunkSink: AsyncWrite + Unpin + Send {
    /// Writes the bytes of `slice`. By default they are read from the file and
    /// written like any others.
    fn write_file_slice(&mut self, slice: &FileSlice) -> impl Future<Output = io::Result<()>> + Send {
        copy_file_slice(self, slice)
    }
}

/// A real socket sends file slices with `sendfile` (where there is one).
impl ChunkSink for OwnedWriteHalf {
    fn write_file_slice(&mut self, slice: &FileSlice) -> impl Future<Output = io::Result<()>> + Send {
        send_file(self, slice)
    }
}

/// Any byte stream, sending file slices as copied bytes (for streams without a
/// kernel socket behind them, such as a simulated network).
#[derive(Debug)]
pub struct Copying<S>(pub S);

impl<S: AsyncWrite + Unpin + Send> ChunkSink for Copying<S> {}

impl<S: AsyncWrite + Unpin> AsyncWrite for Copying<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Writes `chunks` in order.
pub(crate) async fn write_chunks<W: ChunkSink>(out: &mut W, chunks: Vec<Chunk>) -> io::Result<()> {
    let mut pending: Vec<Bytes> = Vec::new();
    for chunk in chunks {
        match chunk {
            Chunk::Bytes(b) => pending.push(b),
            Chunk::File(slice) => {
                write_all_vectored(out, &mut pending).await?;
                out.write_file_slice(&slice).await?;
            }
        }
    }
    write_all_vectored(out, &mut pending).await
}

/// Writes and empties `bufs`, as few system calls as the socket allows.
async fn write_all_vectored<W: AsyncWrite + Unpin>(out: &mut W, bufs: &mut Vec<Bytes>) -> io::Result<()> {
    let mut first = 0;
    while first < bufs.len() {
        let iov: Vec<IoSlice<'_>> = bufs[first..].iter().take(MAX_IOV).map(|b| IoSlice::new(b)).collect();
        let mut n = out.write_vectored(&iov).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let b = &mut bufs[first];
            let step = n.min(b.len());
            b.advance(step);
            n -= step;
            if b.is_empty() {
                first += 1;
            }
        }
        while first < bufs.len() && bufs[first].is_empty() {
            first += 1;
        }
    }
    bufs.clear();
    Ok(())
}

/// Sends a file slice with `sendfile`, waiting for the socket as needed.
#[cfg(target_os = "linux")]
async fn send_file(out: &mut OwnedWriteHalf, slice: &FileSlice) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;

    let stream: &tokio::net::TcpStream = out.as_ref();
    let (socket, file) = (stream.as_raw_fd(), slice.file.as_raw_fd());
    let mut pos = slice.pos as libc::off_t;
    let end = pos + slice.len as libc::off_t;
    while pos < end {
        stream.writable().await?;
        let count = ((end - pos) as usize).min(1 << 30);
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors belong to objects borrowed for this call (the
            // socket through `out`, the file through `slice`'s `Arc<File>`), and
            // `pos` is a live local the kernel updates.
            let n = unsafe { libc::sendfile(socket, file, &mut pos, count) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => return Err(vanished()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Elsewhere: the bytes, copied.
#[cfg(not(target_os = "linux"))]
async fn send_file(out: &mut OwnedWriteHalf, slice: &FileSlice) -> io::Result<()> {
    copy_file_slice(out, slice).await
}

/// Reads `slice` from its file in pieces and writes them.
async fn copy_file_slice<W: AsyncWrite + Unpin + ?Sized>(out: &mut W, slice: &FileSlice) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; slice.len.min(256 * 1024)];
    let mut done = 0;
    while done < slice.len {
        let n = (slice.len - done).min(buf.len());
        slice.file.read_exact_at(&mut buf[..n], slice.pos + done as u64).map_err(|_| vanished())?;
        out.write_all(&buf[..n]).await?;
        done += n;
    }
    Ok(())
}

fn vanished() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "log data vanished while a fetch response was being sent")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    async fn pair() -> (OwnedWriteHalf, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (server.into_split().1, client)
    }

    fn file(data: &[u8]) -> Arc<std::fs::File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        Arc::new(f)
    }

    #[tokio::test]
    async fn bytes_and_file_slices_arrive_in_order() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let f = file(&data);
        let (mut out, mut client) = pair().await;
        let chunks = vec![
            Chunk::Bytes(Bytes::from_static(b"head")),
            Chunk::File(FileSlice { file: f.clone(), pos: 10, len: 2_000_000 }),
            Chunk::Bytes(Bytes::from_static(b"mid")),
            Chunk::Bytes(Bytes::from_static(b"dle")),
            Chunk::File(FileSlice { file: f, pos: 5, len: 7 }),
        ];
        let writer = tokio::spawn(async move { write_chunks(&mut out, chunks).await });
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap().unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[10..2_000_010]);
        want.extend_from_slice(b"middle");
        want.extend_from_slice(&data[5..12]);
        assert!(got == want, "stream differs from the chunks");
    }

    #[tokio::test]
    async fn a_file_truncated_before_sending_fails_instead_of_sending_other_bytes() {
        let f = file(&[7u8; 100_000]);
        f.set_len(50_000).unwrap();
        let (mut out, mut client) = pair().await;
        let chunks = vec![Chunk::File(FileSlice { file: f, pos: 0, len: 100_000 })];
        let err = write_chunks(&mut out, chunks).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        drop(out);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got.len() <= 50_000 && got.iter().all(|&b| b == 7));
    }

    #[tokio::test]
    async fn any_stream_gets_file_slices_as_copied_bytes_in_order() {
        let data: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let f = file(&data);
        let (server, mut client) = tokio::io::duplex(4096);
        let mut out = Copying(server);
        let chunks = vec![
            Chunk::Bytes(Bytes::from_static(b"head")),
            Chunk::File(FileSlice { file: f.clone(), pos: 3, len: 500_000 }),
            Chunk::Bytes(Bytes::from_static(b"tail")),
        ];
        let writer = tokio::spawn(async move {
            write_chunks(&mut out, chunks).await?;
            out.shutdown().await
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap().unwrap();
        let mut want = b"head".to_vec();
        want.extend_from_slice(&data[3..500_003]);
        want.extend_from_slice(b"tail");
        assert!(got == want, "stream differs from the chunks");
    }

    #[tokio::test]
    async fn a_copied_slice_of_a_truncated_file_fails_instead_of_sending_other_bytes() {
        let f = file(&[7u8; 10_000]);
        f.set_len(5_000).unwrap();
        let (server, _client) = tokio::io::duplex(1 << 20);
        let mut out = Copying(server);
        let chunks = vec![Chunk::File(FileSlice { file: f, pos: 0, len: 10_000 })];
        let err = write_chunks(&mut out, chunks).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
