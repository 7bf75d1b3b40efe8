//! The `--listen` endpoint: `GET /metrics` (Prometheus text 0.0.4, or OpenMetrics 1.0 when the
//! scraper's `Accept` asks for `application/openmetrics-text`) and `GET /healthz`, served by
//! hyper (HTTP/1.1) on live mode's tokio runtime. The address is parsed and bound before the
//! run starts ([`bind`]), so a bad one or a port in use ends the run with exit code 2 at once.
//! `super` renders the exposition; `crate::live` spawns [`serve`].

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;

use super::Metrics;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The socket address `--listen` names: `HOST:PORT`, `[IPv6]:PORT`, or `:PORT` (every IPv4
/// interface, as `0.0.0.0:PORT`).
pub fn parse_addr(addr: &str) -> Result<SocketAddr, String> {
    let full = if addr.starts_with(':') { format!("0.0.0.0{addr}") } else { addr.to_string() };
    if let Ok(a) = full.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bad = || format!("--listen {addr}: not an address to listen on (HOST:PORT, [IPv6]:PORT or :PORT)");
    // A host name (`localhost:9464`): its first address.
    if !full.contains(':') || full.rsplit_once(':').is_none_or(|(_, p)| p.parse::<u16>().is_err()) {
        return Err(bad());
    }
    full.to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(bad)
}

/// Binds `addr` now (before the run starts), naming the flag in the error.
pub fn bind(addr: &str) -> io::Result<TcpListener> {
    let sock = parse_addr(addr).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener =
        TcpListener::bind(sock).map_err(|e| io::Error::new(e.kind(), format!("--listen {addr}: {e}")))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves until the runtime ends. A connection that fails is dropped; the others go on.
pub async fn serve(listener: TcpListener, metrics: Metrics) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
    let registry = Arc::new(metrics.registry());
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let registry = Arc::clone(&registry);
                async move { Ok::<_, Infallible>(respond(&req, &registry)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(req: &Request<Incoming>, registry: &Registry) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics or /healthz\n");
    }
    match req.uri().path() {
        "/metrics" => {
            let openmetrics = req
                .headers()
                .get_all(ACCEPT)
                .iter()
                .any(|v| v.to_str().is_ok_and(|v| v.contains("application/openmetrics-text")));
            let body = Metrics::encode(registry, openmetrics);
            let kind = if openmetrics {
                OPENMETRICS
            } else {
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE
            };
            let mut r = Response::new(Full::new(Bytes::from(body)));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(kind));
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        _ => text(StatusCode::NOT_FOUND, "not found: GET /metrics or /healthz\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_every_written_form() {
        assert_eq!(parse_addr(":9464").unwrap(), "0.0.0.0:9464".parse().unwrap());
        assert_eq!(parse_addr("127.0.0.1:9464").unwrap(), "127.0.0.1:9464".parse().unwrap());
        assert_eq!(parse_addr("[::]:9464").unwrap(), "[::]:9464".parse().unwrap());
        for bad in ["9464", "", ":", ":99999", "127.0.0.1", "[::]"] {
            let e = parse_addr(bad).unwrap_err();
            assert!(e.starts_with("--listen "), "{bad}: {e}");
        }
    }
}
