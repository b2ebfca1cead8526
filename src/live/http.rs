//! The small HTTP/1.1 server behind `--metrics`: `GET /metrics`, `GET /summary`, nothing else.
//! One short-lived thread per request, `Connection: close`; loopback unless allowed otherwise;
//! an optional bearer token.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Live;

/// The longest request head read (request line and headers).
const MAX_HEAD: usize = 8 * 1024;

/// Why `--metrics` cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("expected HOST:PORT with an IP address, such as 127.0.0.1:9184, got {0:?}")]
    Address(String),
    #[error(
        "{0} is not a loopback address: metrics would be readable from the network \
         (add --metrics-allow-remote, ideally with --metrics-token)"
    )]
    Remote(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Serves until dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` (before anything else runs, so a taken port is an input error) and serves
    /// `live` from a background thread.
    pub fn start(
        addr: &str,
        allow_remote: bool,
        token: Option<String>,
        live: Arc<Live>,
    ) -> Result<Server, ServeError> {
        let parsed: SocketAddr = addr
            .parse()
            .map_err(|_| ServeError::Address(addr.to_string()))?;
        if !parsed.ip().is_loopback() && !allow_remote {
            return Err(ServeError::Remote(parsed));
        }
        let listener = TcpListener::bind(parsed).map_err(|source| ServeError::Bind {
            addr: parsed,
            source,
        })?;
        let bound = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: parsed,
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| ServeError::Bind {
                addr: parsed,
                source,
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let token = token.map(Arc::new);
            std::thread::Builder::new()
                .name("mb-metrics".into())
                .spawn(move || accept_loop(&listener, &stop, token, &live))
                .map_err(|source| ServeError::Bind {
                    addr: parsed,
                    source,
                })?
        };
        Ok(Server {
            addr: bound,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port chosen when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    stop: &AtomicBool,
    token: Option<Arc<String>>,
    live: &Arc<Live>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (token, live) = (token.clone(), Arc::clone(live));
                let _ = std::thread::Builder::new()
                    .name("mb-metrics-req".into())
                    .spawn(move || {
                        let _ = handle(stream, token.as_deref().map(String::as_str), &live);
                    });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// What a request asked for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    path: String,
    bearer: Option<String>,
}

/// Parses a request head; None when it is not HTTP.
fn parse_head(head: &str) -> Option<Request> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?;
    if !first.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let path = target.split('?').next().unwrap_or(target).to_string();
    let bearer = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("authorization") {
            return None;
        }
        let value = value.trim();
        let (scheme, cred) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| cred.trim().to_string())
    });
    Some(Request {
        method,
        path,
        bearer,
    })
}

fn handle(mut stream: TcpStream, token: Option<&str>, live: &Live) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            );
        }
    }
    let Some(req) = parse_head(&String::from_utf8_lossy(&head)) else {
        return respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            "not an HTTP request\n",
        );
    };
    if let Some(want) = token {
        if req.bearer.as_deref() != Some(want) {
            let body = "this endpoint needs Authorization: Bearer <token>\n";
            let head = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Type: \
                 text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes())?;
            return stream.write_all(body.as_bytes());
        }
    }
    if req.method != "GET" && req.method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        );
    }
    match req.path.as_str() {
        "/metrics" => respond(
            &mut stream,
            "200 OK",
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            &live.encode(),
        ),
        "/summary" | "/1/summary" | "/2/summary" => respond(
            &mut stream,
            "200 OK",
            "application/json",
            &format!("{}\n", live.summary()),
        ),
        _ => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            "minebench serves /metrics and /summary\n",
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: \
         close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::go::http_get;

    #[test]
    fn heads_parse_with_and_without_a_bearer_token() {
        let r = parse_head(
            "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3cret\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.path, "/metrics");
        assert_eq!(r.bearer.as_deref(), Some("s3cret"));
        assert_eq!(
            parse_head("GET /summary HTTP/1.0\r\n\r\n").unwrap().bearer,
            None
        );
        assert!(parse_head("hello\r\n\r\n").is_none());
    }

    #[test]
    fn serves_metrics_and_summary_guards_the_token_and_refuses_a_taken_or_remote_address() {
        let live = Arc::new(Live::new("run"));
        live.begin_case("c", "b", "s", 1);
        live.hashes("c", &[42]);
        let server = Server::start("127.0.0.1:0", false, None, Arc::clone(&live)).unwrap();
        let base = format!("http://{}", server.addr());
        let (status, body) = http_get(&base, "/metrics", Duration::from_secs(5)).unwrap();
        assert_eq!(status, 200);
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.contains("minebench_hashes_total{case=\"c\",worker=\"0\"} 42"),
            "{text}"
        );
        let (status, body) = http_get(&base, "/summary", Duration::from_secs(5)).unwrap();
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["results"]["hashes_total"], 42);
        let (status, _) = http_get(&base, "/nothing", Duration::from_secs(5)).unwrap();
        assert_eq!(status, 404);

        let taken =
            Server::start(&server.addr().to_string(), false, None, Arc::clone(&live)).unwrap_err();
        assert!(matches!(taken, ServeError::Bind { .. }), "{taken}");
        let remote = Server::start("0.0.0.0:0", false, None, Arc::clone(&live)).unwrap_err();
        assert!(
            remote.to_string().contains("--metrics-allow-remote"),
            "{remote}"
        );
        assert!(matches!(
            Server::start("localhost:9184", false, None, Arc::clone(&live)),
            Err(ServeError::Address(_))
        ));

        let guarded = Server::start("127.0.0.1:0", false, Some("tok".into()), live).unwrap();
        let url = format!("http://{}", guarded.addr());
        let (status, _) = http_get(&url, "/metrics", Duration::from_secs(5)).unwrap();
        assert_eq!(status, 401);
        let mut s = TcpStream::connect(guarded.addr()).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer tok\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
