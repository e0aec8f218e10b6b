//! What one connection is doing, for its timeouts: idle (no request on it), reading a request's
//! head (bytes arrived while idle), or busy (a request is being handled or its response is being
//! sent, which covers long polls and Server-Sent Events streams). The socket reports reads, the
//! service reports requests and response ends, and [`ConnectionActivity::expired`] says when to close.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::reset::ResetSwitch;
use super::ServerLimits;

/// The state of one connection, shared by its socket, its service and its watchdog.
pub(super) struct ConnectionActivity {
    started: Instant,
    /// Requests handled or responses being sent.
    busy: AtomicUsize,
    /// Whether bytes of a new request head arrived while idle.
    reading_head: AtomicBool,
    /// When the connection became idle, or started reading a head (ms since `started`).
    since_ms: AtomicU64,
}

/// Why a connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expired {
    /// The request head did not arrive within the header-read timeout.
    Header,
    /// No request came within the idle timeout.
    Idle,
}

impl ConnectionActivity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            busy: AtomicUsize::new(0),
            reading_head: AtomicBool::new(false),
            since_ms: AtomicU64::new(0),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn read(&self) {
        if self.busy.load(Ordering::Acquire) == 0 && !self.reading_head.swap(true, Ordering::AcqRel)
        {
            self.since_ms.store(self.now_ms(), Ordering::Release);
        }
    }

    /// A request's head has been read: the connection is busy until the guard is dropped (when
    /// the response has been sent, or the request abandoned).
    pub(super) fn request(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::AcqRel);
        self.reading_head.store(false, Ordering::Release);
        Busy(Arc::clone(self))
    }

    /// Resolves when the connection has been idle, or reading a head, for too long.
    pub(super) async fn expired(&self, limits: &ServerLimits) -> Expired {
        let mut tick = tokio::time::interval(limits.check_interval());
        loop {
            tick.tick().await;
            if self.busy.load(Ordering::Acquire) > 0 {
                continue;
            }
            let since = Duration::from_millis(self.since_ms.load(Ordering::Acquire));
            let elapsed = self.started.elapsed().saturating_sub(since);
            if self.reading_head.load(Ordering::Acquire) {
                if elapsed >= limits.header_read_timeout {
                    return Expired::Header;
                }
            } else if elapsed >= limits.idle_timeout {
                return Expired::Idle;
            }
        }
    }
}

/// Keeps a connection busy while alive.
pub(super) struct Busy(Arc<ConnectionActivity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        activity
            .since_ms
            .store(activity.now_ms(), Ordering::Release);
        activity.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it has been sent (or dropped).
pub(super) struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl BusyBody {
    pub(super) fn new(inner: Body, busy: Busy) -> Self {
        Self { inner, _busy: busy }
    }
}

impl http_body::Body for BusyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that reports reads to its [`ConnectionActivity`] and holds its slot under the connection cap
/// for as long as it is open, also after an upgrade to WebSocket. When a reset was asked for
/// ([`super::ConnectionReset`]) it closes with `SO_LINGER` 0, i.e. with a TCP reset.
pub(super) struct Tracked {
    io: TcpStream,
    peer: SocketAddr,
    activity: Arc<ConnectionActivity>,
    reset: Arc<ResetSwitch>,
    _permit: OwnedSemaphorePermit,
}

impl Tracked {
    pub(super) fn new(
        io: TcpStream,
        peer: SocketAddr,
        activity: Arc<ConnectionActivity>,
        reset: Arc<ResetSwitch>,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            io,
            peer,
            activity,
            reset,
            _permit: permit,
        }
    }

    /// The peer's address.
    pub(super) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The switch that resets this connection.
    pub(super) fn reset_switch(&self) -> Arc<ResetSwitch> {
        Arc::clone(&self.reset)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.reset.is_requested() {
            if let Err(e) = self.io.set_zero_linger() {
                tracing::debug!("cannot reset a connection (SO_LINGER 0): {e}");
            }
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        result
    }
}

impl AsyncWrite for Tracked {
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
