//! The HTTP client object stores are reached with: hyper (HTTP/1.1) over tokio, TLS by
//! rustls on ring, names resolved by `kbatch_wire::resolve`.
//!
//! Why not `object_store`'s own client: that is reqwest, whose `rustls` feature brings
//! aws-lc-rs (a second crypto provider, C code built with cmake) and whose resolver is the
//! system's `getaddrinfo`, which a static glibc binary cannot use without NSS modules. The
//! `HttpConnector` seam lets the store run on this client instead, so the binary keeps one
//! provider (ring, as the Kafka TLS) and one resolver (the one brokers are found with), and
//! exports to `s3://` from an empty root.
//!
//! One connection per request, no pool: object-store requests are few and large (parts of
//! several MiB), so a TCP (+TLS) handshake each is noise next to the transfer.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::{ClientConfigKey, ClientOptions};
use tokio::net::TcpStream;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Until the response head arrives (an upload's body is sent within it).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Makes [`Client`]s for `object_store` builders (`with_http_connector`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Connector;

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        Ok(HttpClient::new(Client {
            allow_http,
            tls: tls_config(),
        }))
    }
}

/// Web PKI roots (Mozilla's, built in: the empty root has no CA store), on ring.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// One object store's HTTP client.
#[derive(Clone)]
pub struct Client {
    allow_http: bool,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

fn err(kind: HttpErrorKind, what: impl Into<String>) -> HttpError {
    HttpError::new(kind, std::io::Error::other(what.into()))
}

#[async_trait::async_trait]
impl HttpService for Client {
    async fn call(&self, mut req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let uri = req.uri().clone();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if self.allow_http => false,
            Some("http") => {
                return Err(err(
                    HttpErrorKind::Unknown,
                    format!(
                    "{uri}: plain HTTP is refused; set AWS_ALLOW_HTTP=true for an http:// endpoint"
                ),
                ))
            }
            _ => {
                return Err(err(
                    HttpErrorKind::Unknown,
                    format!("{uri}: not an http(s) URL"),
                ))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| err(HttpErrorKind::Unknown, format!("{uri}: no host")))?
            .clone();
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
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connect(&target))
            .await
            .map_err(|_| {
                err(
                    HttpErrorKind::Connect,
                    format!("connecting to {target}: timed out"),
                )
            })??;
        // HTTP/1.1 wants the origin form on the request line and the authority in Host.
        if !req.headers().contains_key(http::header::HOST) {
            let value = http::HeaderValue::from_str(authority.as_str())
                .map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))?;
            req.headers_mut().insert(http::header::HOST, value);
        }
        let origin = uri
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        *req.uri_mut() = origin
            .parse()
            .map_err(|e| HttpError::new(HttpErrorKind::Unknown, e))?;
        let response = if https {
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| HttpError::new(HttpErrorKind::Connect, e))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::new(HttpErrorKind::Connect, e))?;
            send(tls, req).await?
        } else {
            send(tcp, req).await?
        };
        Ok(response.map(|body| {
            HttpResponseBody::new(body.map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e)))
        }))
    }
}

async fn connect(target: &str) -> Result<TcpStream, HttpError> {
    let addrs = kbatch_wire::resolve::resolve(target)
        .await
        .map_err(|e| HttpError::new(HttpErrorKind::Connect, e))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(HttpError::new(
        HttpErrorKind::Connect,
        last.unwrap_or_else(|| std::io::Error::other(format!("{target}: no address"))),
    ))
}

async fn send<S>(
    stream: S,
    req: HttpRequest,
) -> Result<http::Response<hyper::body::Incoming>, HttpError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::new(HttpErrorKind::Connect, e))?;
    // The connection task ends when the response body was read (or dropped).
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("object store connection: {e}");
        }
    });
    tokio::time::timeout(REQUEST_TIMEOUT, sender.send_request(req))
        .await
        .map_err(|_| err(HttpErrorKind::Timeout, "no response within 120 s"))?
        .map_err(|e| {
            let kind = if e.is_canceled() || e.is_incomplete_message() {
                HttpErrorKind::Interrupted
            } else {
                HttpErrorKind::Request
            };
            HttpError::new(kind, e)
        })
}
