//! Raw HTTP/1.1 over a plain socket, for what a polite client cannot send: chunked bodies of a
//! chosen size, slow bodies, garbage bytes.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends `request` as is (it should say `Connection: close`), reads the whole answer.
/// Runs on a blocking thread.
pub async fn send(addr: SocketAddr, request: Vec<u8>) -> std::io::Result<RawResponse> {
    tokio::task::spawn_blocking(move || send_blocking(addr, &request))
        .await
        .unwrap()
}

pub fn send_blocking(addr: SocketAddr, request: &[u8]) -> std::io::Result<RawResponse> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.set_write_timeout(Some(Duration::from_secs(20)))?;
    // The server may answer (413) and close before reading everything: keep what we read.
    let write_result = s.write_all(request);
    let mut buf = Vec::new();
    let read_result = s.read_to_end(&mut buf);
    if buf.is_empty() {
        write_result?;
        read_result?;
    }
    parse(&buf).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unparseable response: {:?}", String::from_utf8_lossy(&buf)),
        )
    })
}

/// Parses one HTTP/1.1 response (content-length, chunked or read-to-close body).
pub fn parse(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &buf[end + 4..];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        let mut r = rest;
        loop {
            let nl = r.windows(2).position(|w| w == b"\r\n")?;
            let size_str = std::str::from_utf8(&r[..nl]).ok()?;
            let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
            r = &r[nl + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(r.get(..size)?);
            r = r.get(size + 2..)?;
        }
        out
    } else if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest.get(..n)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(RawResponse {
        status,
        headers,
        body,
    })
}

/// A request with a chunked body, split into chunks of `chunk` bytes.
pub fn chunked_request(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for c in body.chunks(chunk) {
        req.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        req.extend_from_slice(c);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// A request with a `Content-Length` body and arbitrary extra header lines.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").into_bytes();
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    req.extend_from_slice(body);
    req
}

/// Sends arbitrary bytes, half-closes, and returns whatever came back (possibly nothing).
pub fn send_garbage_blocking(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    Ok(buf)
}

/// Sends `request` on a connection the client would keep alive, reads one response, then
/// probes whether the server closed the connection afterwards. Returns the response and
/// whether the connection was closed.
pub async fn send_and_probe(
    addr: SocketAddr,
    request: Vec<u8>,
) -> std::io::Result<(RawResponse, bool)> {
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr)?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let _ = s.write_all(&request);
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let resp = loop {
            if let Some(r) = parse_complete(&buf) {
                break r;
            }
            match s.read(&mut chunk) {
                Ok(0) => {
                    return parse(&buf).map(|r| (r, true)).ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "closed before a response",
                        )
                    })
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e),
            }
        };
        s.set_read_timeout(Some(Duration::from_millis(1500)))?;
        let closed = match s.read(&mut chunk) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        Ok((resp, closed))
    })
    .await
    .unwrap()
}

/// Like [`parse`], but only when the body announced by Content-Length is complete.
fn parse_complete(buf: &[u8]) -> Option<RawResponse> {
    let r = parse(buf)?;
    let n = r.header("content-length")?.parse::<usize>().ok()?;
    (r.body.len() == n).then_some(r)
}
