//! `drift-check run` with the webhook sink against a real HTTP server: a
//! small one on 127.0.0.1 that this test starts, records every request and
//! answers from a script (a 502, a hang, a 204 …). Needs no other service.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::notify::{config, fixture_repo, fixture_snapshot, run};

/// How the server answers one request.
#[derive(Clone, Copy)]
enum Reply {
    /// This status and body.
    Status(u16, &'static str),
    /// Nothing, for longer than the sink waits.
    Hang,
}

/// One request as the server read it.
#[derive(Debug)]
struct Request {
    /// `POST /path?query HTTP/1.1`.
    line: String,
    /// Header names lowercased, in order.
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A webhook receiver on 127.0.0.1: the n-th request gets `replies[n]` (the
/// last reply once they run out). Its thread ends with the test binary.
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start(replies: &[Reply]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (log, replies) = (requests.clone(), replies.to_vec());
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let reply = replies[n.min(replies.len() - 1)];
                let log = log.clone();
                // A thread per connection: a hanging reply does not hold the retry up.
                std::thread::spawn(move || serve(stream, reply, &log));
            }
        });
        Self { port, requests }
    }

    fn requests(&self) -> std::sync::MutexGuard<'_, Vec<Request>> {
        self.requests.lock().unwrap()
    }
}

/// Reads one HTTP/1.1 request (head, then `content-length` bytes), records
/// it, and answers it.
fn serve(stream: TcpStream, reply: Reply, log: &Mutex<Vec<Request>>) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    log.lock().unwrap().push(Request {
        line: line.trim_end().to_string(),
        headers,
        body: String::from_utf8(body).ok()?,
    });
    match reply {
        Reply::Hang => std::thread::sleep(Duration::from_secs(3)),
        Reply::Status(code, text) => {
            let reason = match code {
                204 => "No Content",
                400 => "Bad Request",
                500 => "Internal Server Error",
                502 => "Bad Gateway",
                _ => "Other",
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {code} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    }
    Some(())
}

#[test]
fn webhook_gets_the_exact_json_report_again_after_a_502() {
    let receiver = Receiver::start(&[Reply::Status(502, "bad gateway"), Reply::Status(204, "")]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "w-t0ken-9f2\n").unwrap();
    let port = receiver.port;
    let cfg = config(
        dir.path(),
        &format!(
            "  webhook:\n    url: http://127.0.0.1:{port}/hooks/drift?token=q-s3cr3t-77\n    headers:\n      X-Team: platform\n    bearerTokenFile: token\n    timeoutSeconds: 5\n    retries: 3\n"
        ),
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).expect("the JSON report is printed");
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "the 502 is retried once: {requests:?}");
    for request in requests.iter() {
        assert_eq!(request.line, "POST /hooks/drift?token=q-s3cr3t-77 HTTP/1.1");
        // Byte for byte what `-o json` prints: the drift-check/v1 report.
        assert_eq!(request.body, out.stdout);
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("authorization"), Some("Bearer w-t0ken-9f2"));
        assert_eq!(request.header("x-team"), Some("platform"));
        assert_eq!(
            request.header("idempotency-key"),
            report["run"]["id"].as_str()
        );
    }
    assert_eq!(report["schema"], "drift-check/v1");
    let retried = out
        .stderr
        .lines()
        .find(|l| l.contains("Webhook POST failed, retrying"))
        .unwrap_or_else(|| panic!("no retry logged: {}", out.stderr));
    assert!(
        retried.contains(&format!("http://127.0.0.1:{port}/hooks/drift?token=***"))
            && retried.contains("HTTP 502 Bad Gateway: bad gateway"),
        "{retried}"
    );
    assert!(
        !out.stderr.contains("q-s3cr3t-77") && !out.stderr.contains("w-t0ken-9f2"),
        "{}",
        out.stderr
    );
}

#[test]
fn webhook_that_keeps_failing_fails_the_sink_with_exit_3_and_a_redacted_url() {
    let receiver = Receiver::start(&[Reply::Status(500, "boom")]);
    let dir = tempfile::tempdir().unwrap();
    let port = receiver.port;
    let cfg = config(
        dir.path(),
        &format!(
            "  webhook:\n    url: http://127.0.0.1:{port}/x?sig=q-s3cr3t-78\n    retries: 2\n"
        ),
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(serde_json::from_str::<Value>(&out.stdout).is_ok());
    assert_eq!(receiver.requests().len(), 2);
    assert!(
        out.stderr.contains(&format!(
            "POST http://127.0.0.1:{port}/x?sig=*** failed after 2 attempts: HTTP 500 Internal Server Error: boom"
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("q-s3cr3t-78"), "{}", out.stderr);
}

#[test]
fn webhook_refusal_4xx_is_not_retried() {
    let receiver = Receiver::start(&[Reply::Status(400, "no such hook")]);
    let dir = tempfile::tempdir().unwrap();
    let port = receiver.port;
    let cfg = config(
        dir.path(),
        &format!("  webhook:\n    url: http://127.0.0.1:{port}/x\n    retries: 3\n"),
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(receiver.requests().len(), 1);
    assert!(
        out.stderr.contains(&format!(
            "POST http://127.0.0.1:{port}/x failed after 1 attempts: HTTP 400 Bad Request: no such hook"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn webhook_that_times_out_is_retried_with_the_same_body() {
    let receiver = Receiver::start(&[Reply::Hang, Reply::Status(204, "")]);
    let dir = tempfile::tempdir().unwrap();
    let port = receiver.port;
    let cfg = config(
        dir.path(),
        &format!(
            "  webhook:\n    url: http://127.0.0.1:{port}/x\n    timeoutSeconds: 1\n    retries: 2\n"
        ),
    );
    let out = run(&cfg, &fixture_repo(), &fixture_snapshot(), &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests.iter().all(|r| r.body == out.stdout));
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains("Webhook POST failed, retrying") && l.contains("timed out")),
        "{}",
        out.stderr
    );
}
