//! `--post URL`: sends each status update to a webhook as an HTTP/1.1 `POST` with a
//! JSON body, one request per message, in order, waiting for each answer (a 2xx status)
//! before the next, with bounded connect, write and read timeouts. `http://` URLs go
//! over plain TCP; `https://` URLs (a Slack webhook) over TLS by rustls (ring provider),
//! verifying the server's certificate and name against the machine's trust store, or
//! against the certificates of a `--cacert FILE` (PEM) instead. Verification is never
//! turned off.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// Why a message could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error(
        "--post `{0}`: not an http:// or https:// URL such as https://hooks.example/x or http://127.0.0.1:8080/hook"
    )]
    Url(String),
    #[error(
        "--cacert {}: it only applies to an https:// webhook, and --post `{url}` is plain http", path.display()
    )]
    CacertWithoutTls { path: PathBuf, url: String },
    #[error(
        "--cacert {}: {problem} (give a PEM file of CA certificates, `-----BEGIN CERTIFICATE-----` blocks)", path.display()
    )]
    Cacert { path: PathBuf, problem: String },
    #[error(
        "--post {0}: no trusted root certificate was found on this machine (install the `ca-certificates` package, or give the webhook's CA with --cacert FILE)"
    )]
    NoRoots(String),
    #[error("--post {url}: cannot connect: {cause}")]
    Connect { url: String, cause: std::io::Error },
    #[error(
        "--post {url}: message {n}: TLS with the webhook failed: {cause} (a certificate the machine does not trust? give its CA with --cacert FILE)"
    )]
    Tls {
        url: String,
        n: usize,
        cause: std::io::Error,
    },
    #[error("--post {url}: message {n}: {cause}")]
    Io {
        url: String,
        n: usize,
        cause: std::io::Error,
    },
    #[error("--post {url}: message {n} was refused: {status}")]
    Status {
        url: String,
        n: usize,
        status: String,
    },
}

/// A webhook's address: whether it is TLS, its host, port and path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Parses an `http://` or `https://` URL (no user info; port 80 or 443 by default).
pub fn parse_url(url: &str) -> Result<Url, PostError> {
    let bad = || PostError::Url(url.to_string());
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad());
    };
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
        _ => (authority.to_string(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Url {
        tls,
        host,
        port,
        path: path.to_string(),
    })
}

/// A webhook ready to post to: its parsed URL and, for `https://`, the TLS client
/// configuration (the trusted roots).
pub struct Webhook {
    url: String,
    parsed: Url,
    tls: Option<Arc<ClientConfig>>,
}

impl Webhook {
    /// Checks the URL and loads the trusted roots: the certificates of `cacert` (PEM)
    /// when given, else the machine's trust store.
    pub fn new(url: &str, cacert: Option<&Path>) -> Result<Self, PostError> {
        let parsed = parse_url(url)?;
        let tls = match (parsed.tls, cacert) {
            (false, Some(path)) => {
                return Err(PostError::CacertWithoutTls {
                    path: path.to_path_buf(),
                    url: url.to_string(),
                });
            }
            (false, None) => None,
            (true, _) => Some(Arc::new(client_config(url, cacert)?)),
        };
        Ok(Webhook {
            url: url.to_string(),
            parsed,
            tls,
        })
    }
}

/// The roots of a `--cacert` PEM file: every certificate in it, at least one.
fn roots_of_file(path: &Path) -> Result<RootCertStore, PostError> {
    let bad = |problem: String| PostError::Cacert {
        path: path.to_path_buf(),
        problem,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot read it: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad("it holds no certificate".into()));
    }
    let mut roots = RootCertStore::empty();
    for (i, c) in certs.into_iter().enumerate() {
        roots
            .add(c)
            .map_err(|e| bad(format!("certificate {} is not usable: {e}", i + 1)))?;
    }
    Ok(roots)
}

fn client_config(url: &str, cacert: Option<&Path>) -> Result<ClientConfig, PostError> {
    let roots = match cacert {
        Some(path) => roots_of_file(path)?,
        None => {
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err(PostError::NoRoots(url.to_string()));
            }
            roots
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PostError::Tls {
            url: url.to_string(),
            n: 0,
            cause: std::io::Error::other(e),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// Writes the request and reads the answer's status line (at most 64 KiB are read, and
/// no more than needed: the first line).
fn exchange<S: Read + Write>(s: &mut S, head: &str, body: &str) -> std::io::Result<String> {
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    s.flush()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while answer.len() < 64 * 1024 && !answer.windows(2).any(|w| w == b"\r\n") {
        let n = match s.read(&mut buf) {
            Ok(n) => n,
            // A TLS server that closes without close_notify after its answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// Whether an I/O error came from TLS (a handshake or certificate failure).
fn is_tls(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

/// Posts every message (JSON text) to the webhook, in order.
pub fn post_all(hook: &Webhook, messages: &[String]) -> Result<(), PostError> {
    let Url {
        host, port, path, ..
    } = &hook.parsed;
    let url = &hook.url;
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    for (i, body) in messages.iter().enumerate() {
        let n = i + 1;
        let io = |cause: std::io::Error| {
            if hook.tls.is_some() && is_tls(&cause) {
                PostError::Tls {
                    url: url.to_string(),
                    n,
                    cause,
                }
            } else {
                PostError::Io {
                    url: url.to_string(),
                    n,
                    cause,
                }
            }
        };
        let connect = |cause| PostError::Connect {
            url: url.to_string(),
            cause,
        };
        let addr = (bare_host, *port)
            .to_socket_addrs()
            .and_then(|mut a| {
                a.next()
                    .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
            })
            .map_err(connect)?;
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(connect)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: rehearse/{}\r\n\r\n",
            body.len(),
            env!("CARGO_PKG_VERSION")
        );
        let status = match &hook.tls {
            None => {
                let mut stream = stream;
                exchange(&mut stream, &head, body).map_err(io)?
            }
            Some(config) => {
                let name = ServerName::try_from(bare_host.to_string())
                    .map_err(|_| PostError::Url(url.to_string()))?;
                let conn = ClientConnection::new(config.clone(), name)
                    .map_err(|e| io(std::io::Error::other(e)))?;
                let mut tls = StreamOwned::new(conn, stream);
                let status = exchange(&mut tls, &head, body).map_err(io)?;
                tls.conn.send_close_notify();
                // The server may already have closed: a failed goodbye is no failure.
                let _ = tls.conn.complete_io(&mut tls.sock);
                status
            }
        };
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
    fn urls_are_http_or_https_with_an_optional_port_and_path() {
        assert_eq!(
            parse_url("http://127.0.0.1:8080/hook/x").unwrap(),
            Url {
                tls: false,
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/hook/x".into()
            }
        );
        assert_eq!(
            parse_url("http://relay").unwrap(),
            Url {
                tls: false,
                host: "relay".into(),
                port: 80,
                path: "/".into()
            }
        );
        assert_eq!(
            parse_url("https://hooks.example/services/T/B/x").unwrap(),
            Url {
                tls: true,
                host: "hooks.example".into(),
                port: 443,
                path: "/services/T/B/x".into()
            }
        );
        for bad in [
            "ftp://a",
            "http://",
            "https://",
            "http://h:port/",
            "https://u@h/",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cacert_needs_an_https_webhook_and_a_pem_certificate() {
        let d = tempfile::tempdir().unwrap();
        let pem = d.path().join("ca.pem");
        std::fs::write(&pem, "not a certificate\n").unwrap();
        let e = Webhook::new("http://127.0.0.1:9/x", Some(&pem))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("only applies to an https:// webhook"), "{e}");
        let e = Webhook::new("https://127.0.0.1:9/x", Some(&pem))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("holds no certificate"), "{e}");
        assert!(e.contains(&pem.display().to_string()), "{e}");
        let missing = d.path().join("missing.pem");
        let e = Webhook::new("https://127.0.0.1:9/x", Some(&missing))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("cannot read it"), "{e}");
    }
}
