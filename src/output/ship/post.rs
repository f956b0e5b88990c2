//! `--post URL`: sends each status update to a webhook as an HTTP/1.1 `POST` with a
//! JSON body, one request per message, in order, waiting for each answer (a 2xx status)
//! before the next. Plain `http://` only, with bounded connect, write and read timeouts:
//! an `https://` webhook (Slack's) is reached through a local relay or proxy.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Why a message could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error(
        "--post `{0}`: not an http:// URL such as http://127.0.0.1:8080/hook (https webhooks need a local relay)"
    )]
    Url(String),
    #[error("--post {url}: cannot connect: {source}")]
    Connect { url: String, source: std::io::Error },
    #[error("--post {url}: message {n}: {source}")]
    Io {
        url: String,
        n: usize,
        source: std::io::Error,
    },
    #[error("--post {url}: message {n} was refused: {status}")]
    Status {
        url: String,
        n: usize,
        status: String,
    },
}

/// Host, port and path of an `http://` URL.
pub fn parse_url(url: &str) -> Result<(String, u16, String), PostError> {
    let bad = || PostError::Url(url.to_string());
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
            (h.to_string(), p.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (authority.to_string(), 80),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port, path.to_string()))
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Posts every message (JSON text) to `url`, in order.
pub fn post_all(url: &str, messages: &[String]) -> Result<(), PostError> {
    let (host, port, path) = parse_url(url)?;
    for (i, body) in messages.iter().enumerate() {
        let n = i + 1;
        let io = |source| PostError::Io {
            url: url.to_string(),
            n,
            source,
        };
        let addr = (host.trim_start_matches('[').trim_end_matches(']'), port)
            .to_socket_addrs()
            .and_then(|mut a| {
                a.next()
                    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
            })
            .map_err(|source| PostError::Connect {
                url: url.to_string(),
                source,
            })?;
        let mut stream =
            TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|source| PostError::Connect {
                url: url.to_string(),
                source,
            })?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: rehearse/{}\r\n\r\n",
            body.len(),
            env!("CARGO_PKG_VERSION")
        );
        stream.write_all(head.as_bytes()).map_err(io)?;
        stream.write_all(body.as_bytes()).map_err(io)?;
        stream.flush().map_err(io)?;
        // The status line is enough; read at most 64 KiB of the answer.
        let mut answer = Vec::new();
        stream
            .take(64 * 1024)
            .read_to_end(&mut answer)
            .map_err(io)?;
        let text = String::from_utf8_lossy(&answer);
        let status = text.lines().next().unwrap_or("").to_string();
        let code = status.split_whitespace().nth(1).unwrap_or("");
        if !code.starts_with('2') || code.len() != 3 {
            return Err(PostError::Status {
                url: url.to_string(),
                n,
                status: if status.is_empty() {
                    "no answer".into()
                } else {
                    status
                },
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_plain_http_with_an_optional_port_and_path() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/hook/x").unwrap(),
            ("127.0.0.1".into(), 8080, "/hook/x".into())
        );
        assert_eq!(
            parse_url("http://relay").unwrap(),
            ("relay".into(), 80, "/".into())
        );
        for bad in [
            "https://hooks.slack.com/x",
            "ftp://a",
            "http://",
            "http://h:port/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
