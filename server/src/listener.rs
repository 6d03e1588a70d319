//! The HTTP listener: accepts connections and serves the router over HTTP/1.1 with the limits a
//! server on the open internet needs against slow or idle clients.
//!
//! A phone on a weak rural link is slow, but a client that trickles its headers, trickles its
//! body or holds an idle socket open forever is an attack on everyone else: with enough of them
//! the server runs out of connections and `/healthz` stops answering. So each connection gets:
//!
//! * a **header timeout**: a request's headers must arrive within it (hyper's own timer);
//! * a **body timeout**: a request's whole body must arrive within it, or the request is
//!   answered `408` and the connection closed;
//! * an **idle timeout**: a connection with no request in flight that sends nothing for this
//!   long is closed, and so is one whose client stops reading a response for this long;
//! * a **connection limit**: past it, a new connection is answered `503` at once and closed,
//!   so the clients already connected keep being served.
//!
//! Graceful shutdown stops accepting and waits for the requests in flight to finish.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// The limits applied to every connection (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time allowed for a request's headers to arrive.
    pub header_timeout: Duration,
    /// Time allowed for a request's whole body to arrive.
    pub body_timeout: Duration,
    /// How long a connection may stay silent with no request in flight, or stall a response.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Limits {
    /// The limits of a configuration.
    pub fn of(config: &crate::config::Config) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(config.header_timeout),
            body_timeout: Duration::from_secs(config.body_timeout),
            idle_timeout: Duration::from_secs(config.idle_timeout),
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then waits for the requests in
/// flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, addr) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted: wait a
                // moment rather than spin, and go on serving.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::warn!(
                client = %addr,
                limit = limits.max_connections,
                "connection limit reached: refusing a connection"
            );
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Watched::new(stream, activity.clone(), limits.idle_timeout));
        let service = connection_service(router.clone(), addr, activity, limits.body_timeout);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(io, service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(client = %addr, error = %e, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers a connection past the limit with `503` and closes it, without waiting long for a
/// client that does not read.
async fn refuse(mut stream: TcpStream) {
    let body = serde_json::json!({"error": {
        "code": "connection_limit",
        "message": "the server is at its connection limit: try again in a few seconds",
    }})
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// The per-connection service: the client's address for the handlers, the body deadline, and
/// the in-flight count the idle timeout reads.
fn connection_service(
    router: Router,
    addr: SocketAddr,
    activity: Arc<Activity>,
    body_timeout: Duration,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<Response<Body>, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        let in_flight = InFlight::start(activity.clone());
        let timed_out = Arc::new(AtomicBool::new(false));
        let req = req.map(|body| {
            Body::new(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(body_timeout)),
                timed_out: timed_out.clone(),
            })
        });
        let router = router.clone();
        async move {
            let response = tower::ServiceExt::oneshot(router, req).await?;
            let response = if timed_out.load(Ordering::Relaxed) {
                let mut refused = crate::error::ApiError::bad(
                    "body_timeout",
                    format!(
                        "the request body did not arrive within {} s: send it again on a \
                         better connection",
                        body_timeout.as_secs()
                    ),
                )
                .into_response();
                *refused.status_mut() = StatusCode::REQUEST_TIMEOUT;
                refused.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                refused
            } else {
                response
            };
            Ok(response.map(|body| {
                Body::new(Tracked {
                    inner: body,
                    _in_flight: in_flight,
                })
            }))
        }
    })
}

/// What a connection is doing, shared by its IO and its requests.
#[derive(Default)]
struct Activity {
    /// Requests whose response has not been sent in full.
    in_flight: AtomicUsize,
    /// Set when a response finishes, so the idle clock starts again from then.
    finished: AtomicBool,
}

/// One request in flight on a connection; dropped when its response body is done.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.finished.store(true, Ordering::SeqCst);
    }
}

/// A response body that marks its request finished when it is dropped.
struct Tracked {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The reason a request body stopped arriving.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

/// A request body that must arrive in full before its deadline.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(axum::Error::new)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A TCP stream with the idle timeout: reading with no request in flight, or writing to a
/// client that does not read, fails once nothing has moved for the timeout.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    timeout: Duration,
    idle: Pin<Box<Sleep>>,
}

impl Watched {
    fn new(stream: TcpStream, activity: Arc<Activity>, timeout: Duration) -> Watched {
        Watched {
            stream,
            activity,
            timeout,
            idle: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Something moved: the idle clock starts again.
    fn progressed(&mut self) {
        self.idle.as_mut().reset(Instant::now() + self.timeout);
    }

    /// Nothing moved: an error once the idle clock has run out.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.idle.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Watched {
    /// A write that moved bytes restarts the idle clock; one the client has left waiting
    /// fails once the clock runs out.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.stalled(cx).map(Err),
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                // A request being handled is not idleness (the body has its own deadline); the
                // idle clock runs from the end of the last response.
                if self.activity.in_flight.load(Ordering::SeqCst) > 0
                    || self.activity.finished.swap(false, Ordering::SeqCst)
                {
                    self.progressed();
                }
                self.stalled(cx).map(Err)
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, data);
        self.wrote(cx, written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
