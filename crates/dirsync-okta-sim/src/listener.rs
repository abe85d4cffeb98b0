//! A TCP listener whose connections can be killed from a handler.
//!
//! Faults such as "the connection resets before any response" cannot be
//! expressed as an HTTP response. Each accepted stream carries a kill
//! switch that the request can reach (through axum's connect info); once
//! set, the next read or write fails, hyper drops the connection, and the
//! socket closes with `SO_LINGER 0`, i.e. a TCP RST, which is what a client
//! sees when a load balancer gives up on it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

pub(crate) struct SimListener(pub(crate) TcpListener);

pub(crate) struct SimStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

/// Per-connection handle available to every request on the connection.
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    kill: Arc<AtomicBool>,
}

impl Conn {
    /// Makes the connection drop (RST) instead of sending the response.
    pub(crate) fn reset(&self) {
        self.kill.store(true, Ordering::SeqCst);
    }
}

impl Listener for SimListener {
    type Io = SimStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (SimStream, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(AtomicBool::new(false));
                    return (SimStream { inner: stream, kill }, addr);
                }
                // Out of file descriptors and the like: back off, as axum's
                // own listener does.
                Err(error) => {
                    tracing::warn!(%error, "okta-sim accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, SimListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        stream.io().conn()
    }
}

impl SimStream {
    /// The handle requests on this connection get (for a listener that
    /// wraps this stream, such as TLS's).
    pub(crate) fn conn(&self) -> Conn {
        Conn {
            kill: self.kill.clone(),
        }
    }

    fn killed(&mut self) -> Option<io::Error> {
        if !self.kill.load(Ordering::SeqCst) {
            return None;
        }
        // A zero linger turns close into an RST; it cannot block because
        // there is nothing to wait for, which is why the deprecation (about
        // blocking on drop with a non-zero linger) does not apply.
        #[allow(deprecated)]
        let _ = self.inner.set_linger(Some(Duration::ZERO));
        Some(io::Error::new(io::ErrorKind::ConnectionReset, "okta-sim fault: reset"))
    }
}

impl AsyncRead for SimStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(error) = self.killed() {
            return Poll::Ready(Err(error));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
