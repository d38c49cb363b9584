//! One HTTP/1.1 connection: hyper's connection driver with a header-read timeout,
//! and a watchdog that closes the connection once it has been idle too long.
//!
//! axum's own `serve` sets no timer on hyper, so a client that opens a socket and
//! sends half a request head (or nothing) holds it, and a file descriptor, forever.
//! Idle means no byte moving and no request being computed; a request counts as
//! computed only once its body has arrived (or the handler has stopped reading it),
//! so a client that announces a body and stops sending it is cut off too, instead of
//! holding its connection slot until the request deadline.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::config::Config;

/// The per-connection limits, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct ConnectionLimits {
    /// Time to send a complete request head (`None`: no limit).
    pub header_read: Option<Duration>,
    /// Time with no request being computed and no byte moving (`None`: no limit);
    /// a request whose body is still arriving is not being computed.
    pub idle: Option<Duration>,
}

impl ConnectionLimits {
    /// The limits `config` sets (0 turns one off).
    pub fn of(config: &Config) -> Self {
        let positive = |d: Duration| (!d.is_zero()).then_some(d);
        ConnectionLimits {
            header_read: positive(Duration::from_millis(config.header_read_timeout_ms)),
            idle: positive(Duration::from_secs(config.idle_timeout_secs)),
        }
    }
}

/// Serve one accepted connection on its own task until the client closes it, a
/// timeout closes it, or a graceful shutdown finishes it. `permit` is the slot of
/// the connection limit this connection holds until then.
pub(super) fn spawn(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    graceful: &GracefulShutdown,
    permit: OwnedSemaphorePermit,
) {
    // Answers are written whole; waiting to coalesce small writes only adds latency.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: Arc::clone(&activity),
    });
    let busy = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let computing = Busy::enter(Arc::clone(&busy));
        let request = request.map(|body| Arriving::new(body, &busy));
        let answer = tower::ServiceExt::oneshot(app.clone(), request);
        async move {
            let response = answer.await;
            drop(computing);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(limits.header_read);
    let connection = graceful.watch(builder.serve_connection(io, service));
    tokio::spawn(async move {
        let _permit = permit;
        tokio::select! {
            result = connection => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed with an error");
                }
            }
            () = idle_watch(activity, limits.idle) => {
                tracing::debug!("closing an idle connection");
            }
        }
    });
}

/// Resolves once the connection has had no request being computed and no byte
/// moving for `idle`; never, without a limit.
async fn idle_watch(activity: Arc<Activity>, idle: Option<Duration>) {
    let Some(idle) = idle else {
        return std::future::pending().await;
    };
    loop {
        let quiet = activity.quiet_for();
        // Check again when the connection could first have been idle long enough
        // (the end of a computation counts as activity). A request waiting for its
        // body is not computing: the client owes the next byte.
        let computing = activity.busy.load(Ordering::SeqCst) > 0
            && activity.arriving.load(Ordering::SeqCst) == 0;
        let wait = if computing {
            idle
        } else if quiet >= idle {
            return;
        } else {
            idle - quiet
        };
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// When bytes last moved on a connection, and how many of its requests are being
/// computed. Atomics: the I/O wrapper, the service and the watchdog share it.
struct Activity {
    /// The connection's start, the origin of `last`.
    start: Instant,
    /// Milliseconds from `start` to the last read, write or end of a computation.
    last: AtomicU64,
    /// Requests whose answer is being computed (or whose body is arriving).
    busy: AtomicUsize,
    /// Requests whose body is still arriving (a subset of `busy`).
    arriving: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            arriving: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Counts a request as being computed for as long as it lives; its end counts as
/// activity, so the answer it is about to write is not taken for idleness.
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::SeqCst);
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request body that counts as arriving (see [`Activity::arriving`]) until its
/// end, an error, or the handler dropping it.
struct Arriving {
    inner: Incoming,
    /// `Some` while counted.
    activity: Option<Arc<Activity>>,
}

impl Arriving {
    fn new(inner: Incoming, activity: &Arc<Activity>) -> Self {
        let activity = (!hyper::body::Body::is_end_stream(&inner)).then(|| {
            activity.arriving.fetch_add(1, Ordering::SeqCst);
            Arc::clone(activity)
        });
        Arriving { inner, activity }
    }

    fn arrived(&mut self) {
        if let Some(activity) = self.activity.take() {
            activity.touch();
            activity.arriving.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Arriving {
    fn drop(&mut self) {
        self.arrived();
    }
}

impl hyper::body::Body for Arriving {
    type Data = <Incoming as hyper::body::Body>::Data;
    type Error = <Incoming as hyper::body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || self.inner.is_end_stream() {
            self.arrived();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that records when bytes move through it.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
