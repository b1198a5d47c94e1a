//! A real HTTP proxy on 127.0.0.1 in front of a real server (the test
//! setup's Synapse, or an API server over https), which answers the first
//! requests to a path with a fault — a status of its own (a reverse proxy's
//! 502, a 429) or no answer at all — and forwards everything else. Plain
//! threads and blocking sockets, so it runs whatever the test's runtime does;
//! one request per connection (`Connection: close` both ways). An https
//! upstream is reached with reqwest (certificate not verified: a test
//! server's own), the client side stays plain http.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the proxy does with a request instead of forwarding it.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answers with this status and body itself.
    Status(u16, &'static str),
    /// Reads the request and never answers (the connection stays open).
    Stall,
}

/// A request the proxy saw, and whether it was faulted.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub at: Instant,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    /// Per path fragment, the faults for the next requests whose path contains it.
    rules: Vec<(String, VecDeque<Fault>)>,
    seen: Vec<Seen>,
    stalled: Vec<TcpStream>,
}

/// The proxy; stops accepting when dropped.
pub struct FaultyProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    port: u16,
}

impl FaultyProxy {
    /// Starts a proxy to `upstream` (`http://host:port` or
    /// `https://host:port`) that answers the first requests whose path
    /// contains each fragment with its faults, in order, then forwards.
    pub fn start(upstream: &str, rules: &[(&str, &[Fault])]) -> Self {
        let upstream = match upstream.strip_prefix("http://") {
            Some(plain) => Upstream::Plain(plain.trim_end_matches('/').to_string()),
            None => {
                assert!(upstream.starts_with("https://"), "an http(s):// upstream");
                Upstream::Tls(upstream.trim_end_matches('/').to_string())
            }
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            rules: rules
                .iter()
                .map(|(path, faults)| (path.to_string(), faults.iter().cloned().collect()))
                .collect(),
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (accept_state, accept_stop) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (state, upstream) = (accept_state.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &upstream, &state);
                });
            }
        });
        Self {
            url: format!("http://127.0.0.1:{port}"),
            state,
            stop,
            port,
        }
    }

    /// The requests whose path contains `fragment`, in order.
    pub fn seen(&self, fragment: &str) -> Vec<Seen> {
        let state = self.state.lock().unwrap();
        state
            .seen
            .iter()
            .filter(|s| s.path.contains(fragment))
            .cloned()
            .collect()
    }
}

impl Drop for FaultyProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.state.lock().unwrap().stalled.clear();
    }
}

/// Where requests are forwarded.
#[derive(Clone)]
enum Upstream {
    /// `host:port`, spoken to with the client's own bytes.
    Plain(String),
    /// `https://host:port`, spoken to with reqwest.
    Tls(String),
}

/// One request: read it, fault or forward it.
fn serve(mut client: TcpStream, upstream: &Upstream, state: &Mutex<State>) -> std::io::Result<()> {
    let (head, body) = read_request(&mut client)?;
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let fault = {
        let mut state = state.lock().unwrap();
        let fault = state
            .rules
            .iter_mut()
            .find(|(fragment, faults)| path.contains(fragment.as_str()) && !faults.is_empty())
            .and_then(|(_, faults)| faults.pop_front());
        state.seen.push(Seen {
            method,
            path,
            at: Instant::now(),
            fault: fault.clone(),
        });
        fault
    };
    match fault {
        Some(Fault::Status(status, text)) => {
            let response = format!(
                "HTTP/1.1 {status} Fault\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                if text.starts_with('{') {
                    "application/json"
                } else {
                    "text/html"
                },
                text.len()
            );
            client.write_all(response.as_bytes())
        }
        Some(Fault::Stall) => {
            state.lock().unwrap().stalled.push(client);
            Ok(())
        }
        None => match upstream {
            Upstream::Plain(upstream) => forward(client, upstream, &head, &body),
            Upstream::Tls(base) => forward_tls(client, base, &head, body),
        },
    }
}

/// Forwards the request's bytes to a plain http server and its answer back.
fn forward(mut client: TcpStream, upstream: &str, head: &str, body: &[u8]) -> std::io::Result<()> {
    let mut server = TcpStream::connect(upstream)?;
    let mut forwarded = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    server.write_all(forwarded.as_bytes())?;
    server.write_all(body)?;
    let mut response = Vec::new();
    server.read_to_end(&mut response)?;
    client.write_all(&response)
}

/// Sends the request to an https server and writes its answer back as
/// plain HTTP/1.1 with a `Content-Length`.
fn forward_tls(
    mut client: TcpStream,
    base: &str,
    head: &str,
    body: Vec<u8>,
) -> std::io::Result<()> {
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let path = request_line.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .filter(|(n, _)| {
            !["host", "connection", "content-length", "transfer-encoding"]
                .contains(&n.to_ascii_lowercase().as_str())
        })
        .collect();
    let url = format!("{base}{path}");
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async move {
            let http = reqwest::Client::builder()
                .tls_danger_accept_invalid_certs(true)
                .http1_only()
                .build()
                .map_err(std::io::Error::other)?;
            let method =
                reqwest::Method::from_bytes(method.as_bytes()).map_err(std::io::Error::other)?;
            let mut request = http.request(method, url).body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = request.send().await.map_err(std::io::Error::other)?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>((status, headers, bytes))
        });
    let (status, headers, bytes) = answer?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Status")
    );
    for (name, value) in &headers {
        if !["connection", "content-length", "transfer-encoding"].contains(&name.as_str()) {
            out.push_str(&format!(
                "{name}: {}\r\n",
                value.to_str().unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    ));
    client.write_all(out.as_bytes())?;
    client.write_all(&bytes)
}

/// The request's head (up to the blank line) and its body (`Content-Length`).
fn read_request(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((head, body))
}
