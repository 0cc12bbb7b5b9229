//! One HTTP GET: hyper (HTTP/1.1) over tokio, TLS by rustls on ring as configured by
//! `schema.registry.ssl.*` (`kbatch_wire::https_client_config`: the public roots by default),
//! names resolved by `kbatch_wire::resolve` — the pattern of the export's object-store client
//! (one provider, one resolver; a static binary needs no NSS), kept to the one request the
//! registry client makes. One connection per request, no pool: a run fetches each schema once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The largest registry answer read (a schema with its references is kilobytes).
const MAX_BODY: usize = 16 << 20;

/// A finished exchange: the status and the whole body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// `GET uri` with `headers`, all of it (connect, TLS, head and body) within `timeout`.
/// Errors are text naming what failed, never a header value.
pub(crate) async fn get(
    uri: &http::Uri,
    headers: &[(http::HeaderName, http::HeaderValue)],
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Response, String> {
    tokio::time::timeout(timeout, get_inner(uri, headers, tls))
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

async fn get_inner(
    uri: &http::Uri,
    headers: &[(http::HeaderName, http::HeaderValue)],
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Response, String> {
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("not an http:// or https:// URL".into()),
    };
    let authority = uri.authority().ok_or("the URL has no host")?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let tcp = connect(&target).await?;
    let origin = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = http::Request::get(origin)
        .header(http::header::HOST, authority.as_str())
        .header(
            http::header::ACCEPT,
            "application/vnd.schemaregistry.v1+json, application/json",
        );
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("cannot build the request: {e}"))?;
    if https {
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("{host}: not a TLS server name: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {target}: {e}"))?;
        send(stream, req).await
    } else {
        send(tcp, req).await
    }
}

async fn connect(target: &str) -> Result<TcpStream, String> {
    let addrs = kbatch_wire::resolve::resolve(target)
        .await
        .map_err(|e| format!("resolving {target}: {e}"))?;
    let mut last = format!("{target}: no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(last)
}

async fn send<S>(stream: S, req: http::Request<Empty<Bytes>>) -> Result<Response, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(conn);
    let response = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP request: {e}"))?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the answer (at most {MAX_BODY} bytes): {e}"))?
        .to_bytes();
    conn.abort();
    Ok(Response { status, body })
}
