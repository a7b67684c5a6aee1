//! A controllable HTTP backend for tests and the demo: healthy, failing, hanging, slow,
//! refusing, talking garbage or resetting, switched at run time.
//!
//! Each failure is produced for real on the socket (the listener is really closed for
//! `Refuse`, the RST is a real `SO_LINGER 0` close), so the health checks are exercised
//! against what a broken server does on the wire rather than against mocks.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

/// What the backend does with the next request (or, for the socket-level modes, with the
/// next connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 200 "ok".
    Healthy,
    /// This status, body "status N".
    Status(u16),
    /// Reads the request and never answers.
    Hang,
    /// Answers 200 "ok" after this delay.
    Slow(Duration),
    /// Listening socket closed: connections are refused.
    Refuse,
    /// Reads the request, answers with bytes that are not HTTP, closes.
    Garbage,
    /// Reads the request, closes with an RST.
    Reset,
    /// Reads the request, answers 200 with a body of this many bytes (no "ok" in it),
    /// trickled in [`HUGE_CHUNK`] pieces every [`HUGE_PACE`], so reading all of it takes
    /// `len / HUGE_CHUNK * HUGE_PACE`: seconds for a few megabytes.
    HugeBody(usize),
}

/// `HugeBody` sends this much at a time...
pub const HUGE_CHUNK: usize = 64 * 1024;
/// ...this often: 6.4 MB/s, so a multi-megabyte body takes seconds to send.
pub const HUGE_PACE: Duration = Duration::from_millis(10);

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Healthy => f.write_str("healthy"),
            Mode::Status(code) => write!(f, "status {code}"),
            Mode::Hang => f.write_str("hang"),
            Mode::Slow(d) => write!(f, "slow {}ms", d.as_millis()),
            Mode::Refuse => f.write_str("refuse"),
            Mode::Garbage => f.write_str("garbage"),
            Mode::Reset => f.write_str("reset"),
            Mode::HugeBody(len) => write!(f, "huge body {len} bytes"),
        }
    }
}

/// What a `Garbage` backend says: a plausible wrong service on the port.
const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.6 switchyard-demo\r\n\x00\x01\x02\xff";

/// Namespace for [`Backend::start`].
pub struct Backend;

/// Controls a running backend. Clones share it; it stops when the last clone is dropped.
#[derive(Clone)]
pub struct BackendHandle {
    shared: Arc<Shared>,
    _stop: Arc<DropGuard>,
}

struct Shared {
    addr: SocketAddr,
    /// Read by request handlers; written only by the accept loop, so it always matches the
    /// state of the listening socket. Never held across an await.
    mode: Mutex<Mode>,
    hits: AtomicU64,
    commands: mpsc::UnboundedSender<Command>,
    stop: CancellationToken,
}

struct Command {
    mode: Mode,
    done: oneshot::Sender<io::Result<()>>,
}

impl Backend {
    /// Binds `addr` (port 0 picks one) and serves in the background, `Healthy`.
    pub async fn start(addr: SocketAddr) -> io::Result<BackendHandle> {
        let listener = bind(addr)?;
        let addr = listener.local_addr()?;
        let (commands, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            addr,
            mode: Mutex::new(Mode::Healthy),
            hits: AtomicU64::new(0),
            commands,
            stop: stop.clone(),
        });
        let listener = ModeListener {
            listener: Some(listener),
            addr,
            mode: Mode::Healthy,
            commands: rx,
            shared: shared.clone(),
        };
        let app = Router::new()
            .fallback(serve_probe)
            .with_state(shared.clone());
        let server =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::warn!(error = %e, "demo backend stopped");
            }
        });
        Ok(BackendHandle {
            shared,
            _stop: Arc::new(stop.drop_guard()),
        })
    }
}

impl BackendHandle {
    /// The bound address (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn mode(&self) -> Mode {
        self.shared.mode.lock().unwrap().clone()
    }

    /// Requests (and, in `Garbage`/`Reset`, connections) received since start, in any mode.
    pub fn hits(&self) -> u64 {
        self.shared.hits.load(Ordering::Relaxed)
    }

    /// Switches mode; returns once the socket is in the new state (closed for `Refuse`,
    /// listening again otherwise), so a probe right after sees the new behaviour. Fails when
    /// the address cannot be bound again (another process took the port) or after `stop`.
    pub async fn set_mode(&self, mode: Mode) -> io::Result<()> {
        let (done, result) = oneshot::channel();
        let stopped = || io::Error::other("backend stopped");
        self.shared
            .commands
            .send(Command { mode, done })
            .map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    /// Stops serving now, whatever other clones exist; hanging requests are released.
    pub fn stop(&self) {
        self.shared.stop.cancel();
    }

    fn status_text(&self) -> String {
        format!(
            "mode: {}\naddr: {}\nhits: {}\n",
            self.mode(),
            self.addr(),
            self.hits()
        )
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Rebinding after `Refuse` must not trip over the TIME_WAIT sockets of past probes.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The socket side of the modes, fed to axum as its listener: it owns the listening socket
/// so it can close and reopen it, and takes the connections that must never reach HTTP.
struct ModeListener {
    listener: Option<TcpListener>,
    addr: SocketAddr,
    mode: Mode,
    commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
}

enum Event {
    Command(Option<Command>),
    Conn(io::Result<(TcpStream, SocketAddr)>),
}

impl ModeListener {
    fn apply(&mut self, cmd: Command) {
        let result = match (&cmd.mode, &self.listener) {
            // Dropping the socket closes it: the kernel answers new SYNs with RST.
            (Mode::Refuse, Some(_)) => {
                self.listener = None;
                Ok(())
            }
            (_, None) if cmd.mode != Mode::Refuse => bind(self.addr).map(|l| {
                self.listener = Some(l);
            }),
            _ => Ok(()),
        };
        if result.is_ok() {
            self.mode = cmd.mode.clone();
            *self.shared.mode.lock().unwrap() = cmd.mode;
        }
        let _ = cmd.done.send(result);
    }
}

impl axum::serve::Listener for ModeListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    // Cancel safe, as axum requires: every await is on a cancel-safe call, and state is
    // only changed between awaits.
    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let event = match &self.listener {
                None => Event::Command(self.commands.recv().await),
                Some(listener) => tokio::select! {
                    cmd = self.commands.recv() => Event::Command(cmd),
                    conn = listener.accept() => Event::Conn(conn),
                },
            };
            match event {
                Event::Command(Some(cmd)) => self.apply(cmd),
                // Every handle is gone; the graceful shutdown is about to drop us.
                Event::Command(None) => std::future::pending().await,
                Event::Conn(Err(e)) => {
                    // Typically EMFILE: back off rather than spin.
                    tracing::debug!(error = %e, "demo backend accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Event::Conn(Ok((stream, peer))) => match self.mode {
                    Mode::Garbage | Mode::Reset | Mode::HugeBody(_) => {
                        self.shared.hits.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(misbehave(stream, self.mode.clone()));
                    }
                    _ => return (stream, peer),
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

async fn misbehave(mut stream: TcpStream, mode: Mode) {
    // Closing with unread input makes the kernel send RST, so the request is read first
    // for `Garbage`, whose peer must see our bytes and a clean FIN.
    read_request(&mut stream).await;
    if mode == Mode::Reset {
        let _ = stream.set_zero_linger();
        return;
    }
    if let Mode::HugeBody(len) = mode {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; HUGE_CHUNK];
        let mut left = len;
        // Ends early when the peer closes (a probe that has seen enough).
        while left > 0 {
            let n = left.min(HUGE_CHUNK);
            if stream.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            left -= n;
            tokio::time::sleep(HUGE_PACE).await;
        }
        let _ = stream.shutdown().await;
        return;
    }
    let _ = stream.write_all(GARBAGE).await;
    let _ = stream.shutdown().await;
}

/// Reads until the end of the request head, EOF, or a short silence (a TCP check that
/// connects and says nothing).
async fn read_request(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while seen.len() < 64 * 1024 {
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            _ => break,
        }
    }
}

async fn serve_probe(State(shared): State<Arc<Shared>>) -> Response {
    shared.hits.fetch_add(1, Ordering::Relaxed);
    let mode = shared.mode.lock().unwrap().clone();
    match mode {
        Mode::Healthy => (StatusCode::OK, "ok").into_response(),
        Mode::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, format!("status {code}")).into_response()
        }
        Mode::Hang => {
            shared.stop.cancelled().await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Mode::Slow(delay) => {
            tokio::select! {
                _ = tokio::time::sleep(delay) => (StatusCode::OK, "ok").into_response(),
                _ = shared.stop.cancelled() => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            }
        }
        // Only a connection kept alive from before the switch gets here; new ones never do.
        Mode::Refuse | Mode::Garbage | Mode::Reset | Mode::HugeBody(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONNECTION, "close")],
            mode.to_string(),
        )
            .into_response(),
    }
}

/// Routes to flip a backend with curl: `POST /fail` (503), `/recover`, `/hang`, `/refuse`,
/// `/garbage`, `/reset`, `/slow?ms=N`, and `GET /` for the current state.
pub fn control_router(handle: BackendHandle) -> Router {
    async fn switch(handle: BackendHandle, mode: Mode) -> Response {
        match handle.set_mode(mode).await {
            Ok(()) => handle.status_text().into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        }
    }
    async fn slow(
        State(handle): State<BackendHandle>,
        Query(query): Query<HashMap<String, String>>,
    ) -> Response {
        let ms = query.get("ms").map(|v| v.parse::<u64>());
        match ms {
            Some(Ok(ms)) => switch(handle, Mode::Slow(Duration::from_millis(ms))).await,
            _ => (StatusCode::BAD_REQUEST, "want ?ms=N\n").into_response(),
        }
    }
    Router::new()
        .route(
            "/",
            get(|State(h): State<BackendHandle>| async move { h.status_text() }),
        )
        .route(
            "/fail",
            post(|State(h): State<BackendHandle>| switch(h, Mode::Status(503))),
        )
        .route(
            "/recover",
            post(|State(h): State<BackendHandle>| switch(h, Mode::Healthy)),
        )
        .route(
            "/hang",
            post(|State(h): State<BackendHandle>| switch(h, Mode::Hang)),
        )
        .route(
            "/refuse",
            post(|State(h): State<BackendHandle>| switch(h, Mode::Refuse)),
        )
        .route(
            "/garbage",
            post(|State(h): State<BackendHandle>| switch(h, Mode::Garbage)),
        )
        .route(
            "/reset",
            post(|State(h): State<BackendHandle>| switch(h, Mode::Reset)),
        )
        .route("/slow", post(slow))
        .with_state(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn local() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    /// One raw HTTP/1.1 exchange; `Err` carries the io error kind, `Ok` every byte until EOF.
    async fn exchange(addr: SocketAddr, wait: Duration) -> Result<Vec<u8>, io::ErrorKind> {
        let attempt = async {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .await?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).await?;
            Ok::<_, io::Error>(out)
        };
        match tokio::time::timeout(wait, attempt).await {
            Ok(r) => r.map_err(|e| e.kind()),
            Err(_) => Err(io::ErrorKind::TimedOut),
        }
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn healthy_answers_200_ok_on_any_path_and_counts_hits() {
        let b = Backend::start(local()).await.unwrap();
        assert_eq!(b.mode(), Mode::Healthy);
        assert_ne!(b.addr().port(), 0);
        let reply = text(&exchange(b.addr(), WAIT).await.unwrap());
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.ends_with("\r\n\r\nok"), "{reply}");
        assert_eq!(b.hits(), 1);
    }

    #[tokio::test]
    async fn status_mode_answers_that_status() {
        let b = Backend::start(local()).await.unwrap();
        b.set_mode(Mode::Status(503)).await.unwrap();
        assert_eq!(b.mode(), Mode::Status(503));
        let reply = text(&exchange(b.addr(), WAIT).await.unwrap());
        assert!(reply.starts_with("HTTP/1.1 503 "), "{reply}");
    }

    #[tokio::test]
    async fn hang_reads_and_never_answers_until_stopped() {
        let b = Backend::start(local()).await.unwrap();
        b.set_mode(Mode::Hang).await.unwrap();
        let waiting = tokio::spawn(exchange(b.addr(), WAIT));
        // The request must have reached the handler, then no byte comes back.
        let deadline = Instant::now() + WAIT;
        while b.hits() == 0 {
            assert!(Instant::now() < deadline, "request never arrived");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            exchange(b.addr(), Duration::from_millis(300)).await,
            Err(io::ErrorKind::TimedOut)
        );
        // Stopping releases the hung request instead of leaving it for ever.
        b.stop();
        assert!(waiting.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn slow_answers_after_the_delay() {
        let b = Backend::start(local()).await.unwrap();
        b.set_mode(Mode::Slow(Duration::from_millis(300)))
            .await
            .unwrap();
        let start = Instant::now();
        let reply = text(&exchange(b.addr(), WAIT).await.unwrap());
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    }

    #[tokio::test]
    async fn refuse_closes_the_listener_and_recovery_rebinds_the_same_port() {
        let b = Backend::start(local()).await.unwrap();
        let addr = b.addr();
        assert!(exchange(addr, WAIT).await.is_ok());
        b.set_mode(Mode::Refuse).await.unwrap();
        assert_eq!(
            exchange(addr, WAIT).await,
            Err(io::ErrorKind::ConnectionRefused)
        );
        // Refuse twice is harmless.
        b.set_mode(Mode::Refuse).await.unwrap();
        b.set_mode(Mode::Healthy).await.unwrap();
        assert_eq!(b.addr(), addr);
        let reply = text(&exchange(addr, WAIT).await.unwrap());
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    }

    #[tokio::test]
    async fn garbage_writes_non_http_and_closes() {
        let b = Backend::start(local()).await.unwrap();
        b.set_mode(Mode::Garbage).await.unwrap();
        let reply = exchange(b.addr(), WAIT).await.unwrap();
        assert_eq!(reply, GARBAGE);
        assert_eq!(b.hits(), 1);
    }

    #[tokio::test]
    async fn reset_closes_with_rst() {
        let b = Backend::start(local()).await.unwrap();
        b.set_mode(Mode::Reset).await.unwrap();
        assert_eq!(
            exchange(b.addr(), WAIT).await,
            Err(io::ErrorKind::ConnectionReset)
        );
        assert_eq!(b.hits(), 1);
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_the_backend() {
        let b = Backend::start(local()).await.unwrap();
        let addr = b.addr();
        let clone = b.clone();
        drop(b);
        assert!(exchange(addr, WAIT).await.is_ok(), "a clone keeps it alive");
        drop(clone);
        let deadline = Instant::now() + WAIT;
        while exchange(addr, WAIT).await != Err(io::ErrorKind::ConnectionRefused) {
            assert!(
                Instant::now() < deadline,
                "still serving after the last drop"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn control_router_flips_the_backend() {
        let b = Backend::start(local()).await.unwrap();
        let ctl = TcpListener::bind(local()).await.unwrap();
        let ctl_addr = ctl.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = axum::serve(ctl, control_router(b.clone()))
            .with_graceful_shutdown(stop.clone().cancelled_owned());
        let server = tokio::spawn(std::future::IntoFuture::into_future(server));
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let post = |path: &str| client.post(format!("http://{ctl_addr}{path}")).send();

        let r = post("/fail").await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("mode: status 503"));
        assert_eq!(b.mode(), Mode::Status(503));
        post("/hang").await.unwrap();
        assert_eq!(b.mode(), Mode::Hang);
        post("/slow?ms=250").await.unwrap();
        assert_eq!(b.mode(), Mode::Slow(Duration::from_millis(250)));
        assert_eq!(post("/slow?ms=x").await.unwrap().status(), 400);
        post("/garbage").await.unwrap();
        assert_eq!(b.mode(), Mode::Garbage);
        post("/reset").await.unwrap();
        assert_eq!(b.mode(), Mode::Reset);
        post("/refuse").await.unwrap();
        assert_eq!(b.mode(), Mode::Refuse);
        assert_eq!(
            exchange(b.addr(), WAIT).await,
            Err(io::ErrorKind::ConnectionRefused)
        );
        post("/recover").await.unwrap();
        assert_eq!(b.mode(), Mode::Healthy);
        let state = client
            .get(format!("http://{ctl_addr}/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(state.starts_with("mode: healthy\n"), "{state}");
        assert!(state.contains(&format!("addr: {}\n", b.addr())), "{state}");
        stop.cancel();
        server.await.unwrap().unwrap();
    }
}
