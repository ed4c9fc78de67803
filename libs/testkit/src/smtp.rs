//! An SMTP server for tests: it listens on a free local port, speaks the SMTP of RFC 5321
//! (HELO/EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) to whatever client
//! connects, and keeps every message it accepts. The code under test sends through its real
//! SMTP transport; nothing in it is replaced.
//!
//! `fail_next(n)` makes the next `n` transactions end with `451` at the end of DATA, the
//! transient failure a busy relay gives, so retries can be tested.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed, lines joined with `\r\n`.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(found) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    found.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':')
                && key.eq_ignore_ascii_case(name)
            {
                value = Some(rest.trim().to_owned());
            }
        }
        value
    }

    /// The body, after the blank line that ends the headers.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }

    /// The body as its reader sees it: quoted-printable decoded when it was sent so.
    pub fn text(&self) -> String {
        let quoted = self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if !quoted {
            return self.body().to_owned();
        }
        let joined = self.body().replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(byte)) => {
                    decoded.push(byte);
                    i += 3;
                }
                (byte, _) => {
                    decoded.push(byte);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&decoded).into_owned()
    }
}

#[derive(Debug, Default)]
struct State {
    received: Mutex<Vec<ReceivedMail>>,
    fail_next: AtomicUsize,
    refused: AtomicUsize,
}

/// A running SMTP server; stops when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl SmtpServer {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let serving = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = serving.clone();
                tokio::spawn(async move {
                    if let Err(err) = session(stream, &state).await {
                        tracing::debug!(error = %err, "smtp test server: session ended");
                    }
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// `smtp://127.0.0.1:<port>`: plain SMTP, no TLS.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The next `n` transactions fail with `451` after their data.
    pub fn fail_next(&self, n: usize) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// How many transactions were refused by `fail_next`.
    pub fn refused(&self) -> usize {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// Waits until `check` holds for the received messages, or fails after `within`.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        check: impl Fn(&[ReceivedMail]) -> bool,
    ) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if check(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "gave up waiting for mail: {what}; received {received:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address inside `MAIL FROM:<a>` or `RCPT TO:<a>`.
fn path_of(argument: &str) -> String {
    let argument = argument.trim();
    match (argument.find('<'), argument.find('>')) {
        (Some(open), Some(close)) if open < close => argument[open + 1..close].to_owned(),
        _ => argument.to_owned(),
    }
}

async fn session(stream: TcpStream, state: &State) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 shop-testkit ESMTP ready\r\n").await?;
    let (mut from, mut to) = (None::<String>, Vec::<String>::new());
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or(&line).to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-shop-testkit\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                (from, to) = (None, Vec::new());
                b"250 OK\r\n"
            }
            "MAIL" => {
                from = line.split_once(':').map(|(_, rest)| path_of(rest));
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" if from.is_some() => {
                to.extend(line.split_once(':').map(|(_, rest)| path_of(rest)));
                b"250 OK\r\n"
            }
            "RCPT" => b"503 MAIL first\r\n",
            "DATA" if to.is_empty() => b"503 RCPT first\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = Vec::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    data.push(line.strip_prefix('.').map_or(line.clone(), str::to_owned));
                }
                let failing = state
                    .fail_next
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let mail = ReceivedMail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data: data.join("\r\n"),
                };
                if failing {
                    state.refused.fetch_add(1, Ordering::SeqCst);
                    b"451 4.3.0 Try again later\r\n"
                } else {
                    if let Ok(mut received) = state.received.lock() {
                        received.push(mail);
                    }
                    b"250 OK: queued\r\n"
                }
            }
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
