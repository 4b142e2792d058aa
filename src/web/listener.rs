//! The web listener's bound on connections (issue 12: memory stays bounded
//! under a flood from many clients): without it, every connection accepted
//! got its own hyper connection and task, whatever their number.
//!
//! A connection takes a place before it is accepted. Up to
//! [`Limits::served`] connections are served by the router. Past that, up
//! to [`Limits::refused`] more are answered by a small task of their own,
//! without the router: the request head is read into a fixed buffer, the
//! answer is `503 Service Unavailable` with `Retry-After` and `Connection:
//! close` (which the OTel Collector, Vector and Fluent Bit retry with
//! backoff), and the body is read and thrown away so that the client reads
//! the answer rather than a reset. Past both, nothing is accepted: new
//! connections wait in the kernel's backlog until a place frees.
//!
//! Invariants: a place is given back when its connection's socket is
//! dropped; a refused connection holds one [`REFUSE_BUF`]-byte buffer,
//! never reaches the router (its body is never kept) and is closed after
//! [`REFUSE_LINGER`] at the latest.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The buffer a refused connection reads its request into.
pub const REFUSE_BUF: usize = 2048;

/// How long a refused connection is kept at most (reading its head, then
/// its body to throw away).
pub const REFUSE_LINGER: Duration = Duration::from_secs(5);

/// The longest request head a refused connection reads before it is
/// answered anyway.
const MAX_HEAD: usize = 16 * 1024;

/// How many connections the listener takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served by the router at once (kept-alive ones and
    /// `/api/events` streams included).
    pub served: usize,
    /// Connections answered 503 at once beyond `served`.
    pub refused: usize,
}

impl Default for Limits {
    /// 256 served: the live fan-out bench holds 100 `/api/events` streams,
    /// and the receivers read at most 32 bodies at once anyway
    /// ([`crate::fleet::FleetOptions::max_bodies`]), so more connections
    /// would only wait for their 503 inside the router. 512 refused: each
    /// costs a task and [`REFUSE_BUF`] bytes.
    fn default() -> Self {
        Limits {
            served: 256,
            refused: 512,
        }
    }
}

/// Connections accepted and served, accepted and answered 503 at once, and
/// served now, of this process (`grantwatch_http_connections_*` on
/// `/metrics`).
static SERVED: AtomicU64 = AtomicU64::new(0);
static REFUSED: AtomicU64 = AtomicU64::new(0);
static OPEN: AtomicU64 = AtomicU64::new(0);

/// The listener's samples in the exposition format.
pub fn metrics() -> String {
    format!(
        "# HELP grantwatch_http_connections_total Connections accepted, by outcome: served, or answered 503 before reading (over the bound).\n\
         # TYPE grantwatch_http_connections_total counter\n\
         grantwatch_http_connections_total{{outcome=\"served\"}} {}\n\
         grantwatch_http_connections_total{{outcome=\"refused\"}} {}\n\
         # HELP grantwatch_http_connections_open Connections served now.\n\
         # TYPE grantwatch_http_connections_open gauge\n\
         grantwatch_http_connections_open {}\n",
        SERVED.load(Ordering::Relaxed),
        REFUSED.load(Ordering::Relaxed),
        OPEN.load(Ordering::Relaxed),
    )
}

/// A TCP listener that accepts only while a place is free.
pub struct Bounded {
    tcp: TcpListener,
    served: Arc<Semaphore>,
    refused: Arc<Semaphore>,
}

impl Bounded {
    /// Bounds `tcp` by `limits` (each at least 1).
    pub fn new(tcp: TcpListener, limits: Limits) -> Bounded {
        Bounded {
            tcp,
            served: Arc::new(Semaphore::new(limits.served.max(1))),
            refused: Arc::new(Semaphore::new(limits.refused.max(1))),
        }
    }
}

enum Place {
    Serve(OwnedSemaphorePermit),
    Refuse(OwnedSemaphorePermit),
}

impl axum::serve::Listener for Bounded {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            // A place first: while none is free, connections wait in the
            // kernel's backlog. The semaphores are never closed.
            let place = match Arc::clone(&self.served).try_acquire_owned() {
                Ok(p) => Place::Serve(p),
                Err(_) => tokio::select! {
                    biased;
                    Ok(p) = Arc::clone(&self.served).acquire_owned() => Place::Serve(p),
                    Ok(p) = Arc::clone(&self.refused).acquire_owned() => Place::Refuse(p),
                    else => continue,
                },
            };
            let (stream, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
            let place = match place {
                // A served place may have freed while this one waited.
                Place::Refuse(r) => match Arc::clone(&self.served).try_acquire_owned() {
                    Ok(p) => Place::Serve(p),
                    Err(_) => Place::Refuse(r),
                },
                serve => serve,
            };
            match place {
                Place::Serve(permit) => {
                    SERVED.fetch_add(1, Ordering::Relaxed);
                    OPEN.fetch_add(1, Ordering::Relaxed);
                    return (
                        Conn {
                            io: stream,
                            _place: permit,
                        },
                        addr,
                    );
                }
                Place::Refuse(permit) => {
                    REFUSED.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(REFUSE_LINGER, refuse(stream)).await;
                        drop(permit);
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The answer to a connection over the bound.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 45\r\n\
\r\n\
{\"error\":\"too many connections; retry later\"}";

/// Reads the request head, answers 503, then reads what the client still
/// sends (its body) until it closes: closing with unread bytes would reset
/// the connection, and a client may then report the reset, not the 503.
async fn refuse(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; REFUSE_BUF];
    // The end of the head ("\r\n\r\n") may straddle two reads: `matched`
    // counts the bytes of it already seen.
    let (mut matched, mut head) = (0usize, 0usize);
    'head: while head < MAX_HEAD {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head += n;
        for &b in &buf[..n] {
            matched = match (matched, b) {
                (0 | 2, b'\r') => matched + 1,
                (1 | 3, b'\n') => matched + 1,
                (_, b'\r') => 1,
                _ => 0,
            };
            if matched == 4 {
                break 'head;
            }
        }
    }
    conn.write_all(BUSY).await?;
    conn.shutdown().await?;
    while conn.read(&mut buf).await? > 0 {}
    Ok(())
}

/// A served connection: the socket and its place.
pub struct Conn {
    io: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl Drop for Conn {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    // hyper writes head and body in one vectored write: keep it one.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canned_answer_declares_its_body_length() {
        let text = std::str::from_utf8(BUSY).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|v| v.parse().ok())
            .expect("content-length");
        assert_eq!(declared, body.len());
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
