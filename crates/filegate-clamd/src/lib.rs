//! The `Scanner` port over ClamAV's clamd, speaking its INSTREAM protocol on TCP
//! (`tcp://host:port`) or a unix socket (`unix:///run/clamav/clamd.ctl`).
//!
//! One connection per scan (clamd's own threads do the work; a connection costs less than a
//! file). The bytes go in chunks of at most [`CHUNK`] bytes, each prefixed by its length, so
//! nothing bigger than one chunk is ever held here. While sending, the reply side is read at
//! the same time: clamd answers *before* the end of the stream when the stream passes its
//! `StreamMaxLength`, then closes, and reading concurrently catches that answer before our
//! next write meets the closed socket.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use filegate_core::ports::{ByteStream, ScanError, ScanVerdict, Scanner};

/// Largest chunk sent in one INSTREAM frame.
pub const CHUNK: usize = 64 * 1024;
/// Longest reply we read: clamd's answers are one short line.
const MAX_REPLY: usize = 4096;

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `host:port`.
    Tcp(String),
    Unix(PathBuf),
}

impl Address {
    /// `tcp://host:port` or `unix:///absolute/path`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if let Some(rest) = url.strip_prefix("tcp://") {
            let host_port = rest.trim_end_matches('/');
            let (host, port) = host_port
                .rsplit_once(':')
                .ok_or_else(|| anyhow!("scanner URL {url:?}: expected tcp://host:port"))?;
            anyhow::ensure!(!host.is_empty(), "scanner URL {url:?}: the host is missing");
            port.parse::<u16>()
                .with_context(|| format!("scanner URL {url:?}: {port:?} is not a port"))?;
            Ok(Self::Tcp(host_port.to_owned()))
        } else if let Some(path) = url.strip_prefix("unix://") {
            anyhow::ensure!(
                path.starts_with('/'),
                "scanner URL {url:?}: expected unix:///absolute/path"
            );
            Ok(Self::Unix(PathBuf::from(path)))
        } else {
            anyhow::bail!("scanner URL {url:?}: expected tcp://host:port or unix:///path")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClamdSettings {
    pub connect_timeout: Duration,
    /// Longest wait for one write, and for the verdict once the stream is sent (clamd scans
    /// after receiving everything; big archives take a while).
    pub io_timeout: Duration,
}

impl Default for ClamdSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(120),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClamdScanner {
    address: Address,
    settings: ClamdSettings,
}

trait Connection: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Connection for T {}

impl ClamdScanner {
    pub fn new(address: Address, settings: ClamdSettings) -> Self {
        Self { address, settings }
    }

    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Ok(Self::new(Address::parse(url)?, ClamdSettings::default()))
    }

    async fn connect(&self) -> Result<Box<dyn Connection>, ScanError> {
        let connecting = async {
            Ok::<Box<dyn Connection>, std::io::Error>(match &self.address {
                Address::Tcp(host_port) => Box::new(tokio::net::TcpStream::connect(host_port).await?),
                Address::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            })
        };
        match tokio::time::timeout(self.settings.connect_timeout, connecting).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(unavailable(
                anyhow!(e).context(format!("connecting to clamd at {:?}", self.address)),
            )),
            Err(_) => Err(unavailable(anyhow!(
                "connecting to clamd at {:?} timed out",
                self.address
            ))),
        }
    }

    /// Sends the whole INSTREAM request: command, length-prefixed chunks, terminator.
    async fn send(&self, writer: &mut (impl AsyncWrite + Unpin), mut body: ByteStream) -> Result<(), SendError> {
        self.write(writer, b"zINSTREAM\0").await?;
        while let Some(item) = body.next().await {
            let bytes: Bytes = item.map_err(SendError::Body)?;
            let mut rest = bytes;
            while !rest.is_empty() {
                let chunk = rest.split_to(rest.len().min(CHUNK));
                let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                self.write(writer, &len.to_be_bytes()).await?;
                self.write(writer, &chunk).await?;
            }
        }
        self.write(writer, &0u32.to_be_bytes()).await?;
        tokio::time::timeout(self.settings.io_timeout, writer.flush())
            .await
            .map_err(|_| SendError::Timeout)?
            .map_err(SendError::Connection)
    }

    async fn write(&self, writer: &mut (impl AsyncWrite + Unpin), bytes: &[u8]) -> Result<(), SendError> {
        tokio::time::timeout(self.settings.io_timeout, writer.write_all(bytes))
            .await
            .map_err(|_| SendError::Timeout)?
            .map_err(SendError::Connection)
    }
}

enum SendError {
    /// The connection broke (clamd may have answered and closed first).
    Connection(std::io::Error),
    Timeout,
    /// The file's bytes could not be read from storage.
    Body(std::io::Error),
}

fn unavailable(e: anyhow::Error) -> ScanError {
    ScanError::Unavailable(e)
}

/// Reads one `\0`-terminated reply (the `z` command form), bounded.
async fn read_reply(reader: &mut (impl AsyncRead + Unpin)) -> std::io::Result<String> {
    let mut reply = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if reply.contains(&0) || reply.len() >= MAX_REPLY {
            break;
        }
    }
    let end = reply.iter().position(|&b| b == 0).unwrap_or(reply.len());
    reply.truncate(end.min(MAX_REPLY));
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// clamd's INSTREAM answers: `stream: OK`, `stream: <signature> FOUND`,
/// `INSTREAM size limit exceeded. ERROR`, or some other `... ERROR`.
pub fn parse_reply(reply: &str) -> Result<ScanVerdict, ScanError> {
    let reply = reply.trim();
    if reply == "stream: OK" {
        return Ok(ScanVerdict::Clean);
    }
    if let Some(found) = reply.strip_suffix(" FOUND") {
        let signature = found.strip_prefix("stream:").unwrap_or(found).trim();
        return Ok(ScanVerdict::Infected {
            signature: if signature.is_empty() {
                "unknown".into()
            } else {
                signature.into()
            },
        });
    }
    if reply.contains("size limit exceeded") {
        return Err(ScanError::TooLarge { limit: None });
    }
    if reply.is_empty() {
        return Err(unavailable(anyhow!("clamd closed the connection without a verdict")));
    }
    Err(unavailable(anyhow!("clamd answered {reply:?}")))
}

#[async_trait]
impl Scanner for ClamdScanner {
    async fn ping(&self) -> Result<(), ScanError> {
        let mut conn = self.connect().await?;
        let exchange = async {
            conn.write_all(b"zPING\0").await?;
            read_reply(&mut conn).await
        };
        match tokio::time::timeout(self.settings.connect_timeout, exchange).await {
            Ok(Ok(reply)) if reply == "PONG" => Ok(()),
            Ok(Ok(reply)) => Err(unavailable(anyhow!("clamd answered {reply:?} to PING"))),
            Ok(Err(e)) => Err(unavailable(anyhow!(e).context("clamd PING"))),
            Err(_) => Err(unavailable(anyhow!("clamd did not answer PING in time"))),
        }
    }

    async fn scan(&self, body: ByteStream) -> Result<ScanVerdict, ScanError> {
        let conn = self.connect().await?;
        let (mut reader, mut writer) = tokio::io::split(conn);
        let reply = read_reply(&mut reader);
        tokio::pin!(reply);
        let sent = {
            let send = self.send(&mut writer, body);
            tokio::select! {
                // clamd speaks before the end only to refuse (the size limit): stop sending.
                early = &mut reply => return verdict(early),
                sent = send => sent,
            }
        };
        // How long to wait for the verdict: the whole scan when everything was sent, a
        // moment when the connection broke (clamd's reason may already be on its way).
        let wait = match &sent {
            Ok(()) => self.settings.io_timeout,
            Err(SendError::Connection(_)) => Duration::from_secs(2),
            Err(SendError::Timeout) => return Err(unavailable(anyhow!("writing to clamd timed out"))),
            Err(SendError::Body(_)) => Duration::ZERO,
        };
        let answer = if wait.is_zero() {
            None
        } else {
            tokio::time::timeout(wait, &mut reply).await.ok()
        };
        match (sent, answer) {
            (Ok(()), Some(answer)) => verdict(answer),
            (Ok(()), None) => Err(unavailable(anyhow!("clamd did not answer in time"))),
            (Err(SendError::Body(e)), _) => Err(unavailable(anyhow!(e).context("reading the file to scan"))),
            // The connection broke: clamd's own answer says why, when it gave one.
            (Err(SendError::Connection(e)), Some(Ok(text))) if !text.is_empty() => {
                verdict(Ok(text)).and_then(|v| match v {
                    // A verdict cannot come before the stream ended; do not trust it.
                    ScanVerdict::Clean => Err(unavailable(anyhow!(e).context("clamd closed mid-stream"))),
                    infected => Ok(infected),
                })
            }
            (Err(SendError::Connection(e)), _) => Err(unavailable(anyhow!(e).context("sending the file to clamd"))),
            (Err(SendError::Timeout), _) => Err(unavailable(anyhow!("writing to clamd timed out"))),
        }
    }
}

fn verdict(reply: std::io::Result<String>) -> Result<ScanVerdict, ScanError> {
    match reply {
        Ok(text) => parse_reply(&text),
        Err(e) => Err(unavailable(anyhow!(e).context("reading clamd's answer"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_replies() {
        assert_eq!(
            Address::parse("tcp://127.0.0.1:3310").unwrap(),
            Address::Tcp("127.0.0.1:3310".into())
        );
        assert_eq!(
            Address::parse("unix:///run/clamd.sock").unwrap(),
            Address::Unix("/run/clamd.sock".into())
        );
        assert!(Address::parse("tcp://nohost").is_err());
        assert!(Address::parse("unix://relative").is_err());
        assert!(Address::parse("http://x:1").is_err());
        assert_eq!(parse_reply("stream: OK").unwrap(), ScanVerdict::Clean);
        assert_eq!(
            parse_reply("stream: Eicar-Signature FOUND").unwrap(),
            ScanVerdict::Infected {
                signature: "Eicar-Signature".into()
            }
        );
        assert!(matches!(
            parse_reply("INSTREAM size limit exceeded. ERROR"),
            Err(ScanError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_reply("lstat() failed. ERROR"),
            Err(ScanError::Unavailable(_))
        ));
        assert!(matches!(parse_reply(""), Err(ScanError::Unavailable(_))));
    }
}
