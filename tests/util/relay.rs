//! A TCP relay on 127.0.0.1 in front of a real server (the test setup's
//! API server): bytes pass through untouched (TLS end to end), and the
//! relay can be stopped — connection refused, every open connection cut,
//! as when the server is killed — and started again on the same port.

use std::io::ErrorKind;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The relay; stopped when dropped.
pub struct Relay {
    pub port: u16,
    upstream: String,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: std::thread::JoinHandle<()>,
}

impl Relay {
    /// A running relay to `upstream` (`host:port`) on a free port.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut relay = Relay {
            port: listener.local_addr().unwrap().port(),
            upstream: upstream.to_string(),
            running: None,
        };
        relay.run(listener);
        relay
    }

    /// Listens again on the same port.
    pub fn resume(&mut self) {
        assert!(self.running.is_none(), "already running");
        let listener = TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        self.run(listener);
    }

    /// Refuses new connections and cuts the open ones.
    pub fn kill(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.stop.store(true, Ordering::SeqCst);
        running.acceptor.join().unwrap();
        for s in running.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn run(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (upstream, stop2, open2) = (self.upstream.clone(), stop.clone(), open.clone());
        let acceptor = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        let mut open = open2.lock().unwrap();
                        for s in [&client, &server] {
                            open.push(s.try_clone().unwrap());
                        }
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(server, client);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("relay accept: {e}"),
                }
            }
        });
        self.running = Some(Running {
            stop,
            open,
            acceptor,
        });
    }
}

/// Copies `from` to `to` until either end closes.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.kill();
    }
}
