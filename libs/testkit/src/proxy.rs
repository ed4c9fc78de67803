//! A TCP proxy a test can cut, stall and restore: how tests make Redis, RabbitMQ or a peer
//! service "go away" without stopping the real thing that other tests share.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Forward,
    /// Connections are dropped and new ones refused: the target went down.
    Cut,
    /// Connections stay open but nothing passes, in either direction: a network partition.
    Stall,
}

/// Forwards connections from a local port to a target until cut or stalled.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// A proxy to the Postgres server the tests use; give the code under test its databases'
    /// URLs through [`TcpProxy::url_through`].
    ///
    /// # Panics
    /// When the server's URL has no host.
    pub async fn to_postgres() -> Self {
        let server = crate::infra::postgres_server_url().await;
        let url = url::Url::parse(&server).unwrap_or_else(|err| panic!("{server}: {err}"));
        let host = url
            .host_str()
            .unwrap_or_else(|| panic!("no host in {server}"));
        Self::start(format!("{host}:{}", url.port().unwrap_or(5432))).await
    }

    /// Starts forwarding 127.0.0.1:<free port> to `target` (`host:port`).
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start(target: impl Into<String>) -> Self {
        let target = target.into();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|err| panic!("cannot bind the proxy: {err}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("proxy address: {err}"));
        let (mode, mode_rx) = watch::channel(Mode::Forward);
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let target = target.clone();
                let mut mode_rx = mode_rx.clone();
                tokio::spawn(async move {
                    let opened_in = *mode_rx.borrow();
                    match opened_in {
                        Mode::Cut => return,
                        // Accepted, never answered; dropped when the partition heals.
                        Mode::Stall => {
                            let _ = mode_rx.wait_for(|mode| *mode != Mode::Stall).await;
                            return;
                        }
                        Mode::Forward => {}
                    }
                    let Ok(outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let (mut inbound, mut outbound) = (inbound, outbound);
                    let stopped = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => return,
                        stopped = mode_rx.wait_for(|mode| *mode != Mode::Forward) => stopped.map(|m| *m),
                    };
                    if matches!(stopped, Ok(Mode::Stall)) {
                        // Hold both ends silently; once the partition heals, the connection
                        // is gone, as a real one would be after its peer timed it out.
                        let _ = mode_rx.wait_for(|mode| *mode != Mode::Stall).await;
                    }
                });
            }
        });
        Self { addr, mode, task }
    }

    /// The address to give the code under test instead of the target's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (e.g. a database URL) with its host and port replaced by the proxy's, so the code
    /// under test connects through it.
    ///
    /// # Panics
    /// When `url` is not a URL with a host.
    pub fn url_through(&self, url: &str) -> String {
        url_via(self.addr, url)
    }

    /// Drops every open connection and refuses new ones, as if the target went down.
    pub fn cut(&self) {
        let _ = self.mode.send(Mode::Cut);
    }

    /// Keeps every connection open but lets nothing through, and leaves new connections
    /// unanswered, as in a network partition: only timeouts notice.
    pub fn stall(&self) {
        let _ = self.mode.send(Mode::Stall);
    }

    /// Lets connections through again (those opened before a cut or stall stay gone).
    pub fn restore(&self) {
        let _ = self.mode.send(Mode::Forward);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `url` with its host and port replaced by `addr`'s.
///
/// # Panics
/// When `url` is not a URL with a host.
pub fn url_via(addr: SocketAddr, url: &str) -> String {
    let mut through = url::Url::parse(url).unwrap_or_else(|err| panic!("not a URL: {url}: {err}"));
    through
        .set_host(Some(&addr.ip().to_string()))
        .unwrap_or_else(|err| panic!("{url}: {err}"));
    through
        .set_port(Some(addr.port()))
        .unwrap_or_else(|()| panic!("{url} cannot have a port"));
    through.into()
}
