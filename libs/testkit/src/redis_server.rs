//! A Redis server of the test's own, for tests that must restart Redis without disturbing any
//! other test: a `redis-server` child process on a free port, without persistence, so a
//! restart loses everything, as a production Redis without persistence (or a failover) would.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A running private Redis; killed when dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts `redis-server` (it must be on the PATH: it is wherever the local services run)
    /// on a free port and waits until it accepts connections.
    ///
    /// # Panics
    /// When `redis-server` cannot be started: the test needs it and says so.
    pub async fn start() -> Self {
        let port = free_port();
        let mut redis = Self { port, child: None };
        redis.spawn().await;
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: nothing is saved) and starts an empty one on the same port.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.spawn().await;
    }

    /// Kills the server (SIGKILL): Redis is down until [`PrivateRedis::resume`].
    pub async fn stop(&mut self) {
        self.kill().await;
    }

    /// Starts an empty server on the same port after [`PrivateRedis::stop`].
    pub async fn resume(&mut self) {
        if self.child.is_none() {
            self.spawn().await;
        }
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    #[allow(clippy::panic)] // A test that cannot get its Redis must fail loudly.
    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "this test runs a Redis of its own and could not start `redis-server`: {err}"
                )
            });
        self.child = Some(child);
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not start on port {}", self.port);
    }
}

/// A port nobody listens on right now.
#[allow(clippy::expect_used)]
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener
        .local_addr()
        .expect("reading the ephemeral port")
        .port()
}
