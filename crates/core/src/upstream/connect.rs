//! The connector under the pooled upstream client: TCP (nodelay, bounded connect), rustls with
//! webpki roots and ALPN h2 + http/1.1, and the system proxy (`HTTP_PROXY` / `HTTPS_PROXY` /
//! `ALL_PROXY` / `NO_PROXY`, as reqwest honoured them). `https://` targets are tunnelled through
//! the proxy with CONNECT; `http://` targets are sent to the proxy itself, the connection marked
//! proxied so the client writes absolute-form request targets, and the caller adds
//! [`ProxyConnector::proxy_authorization`]. `http://` and `https://` proxies are supported, SOCKS
//! proxies are not (reqwest was built without them too). Proxy credentials never reach logs or
//! error texts.

use std::error::Error;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderValue, Uri, uri::Scheme};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower::Service;

type BoxError = Box<dyn Error + Send + Sync>;
type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// The connector the pooled client uses: TLS for https (rustls, webpki roots, ALPN h2 +
/// http/1.1), through the system proxy when one applies.
pub type HttpsConnector = hyper_rustls::HttpsConnector<ProxyConnector>;

/// Plain TCP to the target, or to / through the proxy the matcher names for it.
#[derive(Clone)]
pub struct ProxyConnector {
    http: HttpConnector,
    /// Reaches the proxy itself: TCP, plus TLS (http/1.1 only) for an `https://` proxy.
    to_proxy: hyper_rustls::HttpsConnector<HttpConnector>,
    matcher: Arc<Matcher>,
    connect_timeout: Duration,
    /// Whether an `http://` target may get a `Proxy-Authorization`; false skips the lookup.
    forward_auth: bool,
}

impl std::fmt::Debug for ProxyConnector {
    // Not derived: the matcher's proxy URLs may carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConnector")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl ProxyConnector {
    /// With the system proxy settings (environment, plus the OS settings on macOS / Windows).
    pub fn system(connect_timeout: Duration) -> Self {
        Self::new(connect_timeout, Matcher::from_system())
    }

    /// With an explicit proxy matcher.
    pub fn new(connect_timeout: Duration, matcher: Matcher) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        let to_proxy = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http.clone());
        // Two unrelated probes, so a NO_PROXY entry can hardly hide a configured proxy from both.
        let forward_auth = ["http://192.0.2.1/", "http://switchboard-probe.invalid/"]
            .iter()
            .any(|probe| forward_auth(&matcher, &Uri::from_static(probe)).is_some());
        Self {
            http,
            to_proxy,
            matcher: Arc::new(matcher),
            connect_timeout,
            forward_auth,
        }
    }

    /// Wraps it in TLS (ALPN h2 + http/1.1) for the pooled client.
    pub fn into_https(self) -> HttpsConnector {
        HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(self)
    }

    /// The `Proxy-Authorization` value to add to a request for `uri` when it goes to an HTTP
    /// proxy in the clear (an `http://` target through a proxy with credentials); `None`
    /// otherwise. Cheap when no proxy is configured.
    pub fn proxy_authorization(&self, uri: &Uri) -> Option<HeaderValue> {
        if !self.forward_auth || uri.scheme() != Some(&Scheme::HTTP) {
            return None;
        }
        forward_auth(&self.matcher, uri)
    }

    async fn via_proxy(self, dst: Uri, proxy: Intercept) -> Result<Conn, BoxError> {
        let name = proxy_name(proxy.uri());
        let is_http_proxy = matches!(proxy.uri().scheme_str(), Some("http" | "https"));
        if !is_http_proxy {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("SOCKS proxies are not supported ({name}); use an HTTP proxy"),
            )
            .into());
        }
        let target = format!(
            "{}:{}",
            dst.host().unwrap_or_default(),
            dst.port_u16().unwrap_or(443)
        );
        let timeout = self.connect_timeout;
        let connecting = async move {
            let mut to_proxy = self.to_proxy;
            if dst.scheme() != Some(&Scheme::HTTPS) {
                poll_fn(|cx| to_proxy.poll_ready(cx)).await?;
                return Ok((to_proxy.call(proxy.uri().clone()).await?, true));
            }
            let mut tunnel = Tunnel::new(proxy.uri().clone(), to_proxy);
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            poll_fn(|cx| tunnel.poll_ready(cx)).await?;
            Ok::<_, BoxError>((tunnel.call(dst).await?, false))
        };
        match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok((inner, proxied))) => Ok(Conn { inner, proxied }),
            Ok(Err(err)) => Err(proxy_error(&name, &target, &*err)),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("cannot reach proxy {name}: no answer within {timeout:?}"),
            )
            .into()),
        }
    }
}

impl Service<Uri> for ProxyConnector {
    type Response = Conn;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self.matcher.intercept(&dst) {
            None => {
                let connecting = self.http.call(dst);
                Box::pin(async move {
                    let inner = MaybeHttpsStream::Http(connecting.await?);
                    Ok(Conn {
                        inner,
                        proxied: false,
                    })
                })
            }
            Some(proxy) => Box::pin(self.clone().via_proxy(dst, proxy)),
        }
    }
}

/// The proxy's Basic credentials for `uri` if it goes to an HTTP(S) proxy that has some.
fn forward_auth(matcher: &Matcher, uri: &Uri) -> Option<HeaderValue> {
    let proxy = matcher.intercept(uri)?;
    let is_http_proxy = matches!(proxy.uri().scheme_str(), Some("http" | "https"));
    proxy.basic_auth().filter(|_| is_http_proxy).cloned()
}

/// `scheme://host:port` of a proxy, without any userinfo.
fn proxy_name(uri: &Uri) -> String {
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    format!("{}://{host_port}", uri.scheme_str().unwrap_or("http"))
}

/// A self-contained error (no `source`, so a root-cause walk keeps the proxy's name) with the
/// underlying I/O error's kind when there is one.
fn proxy_error(name: &str, target: &str, err: &(dyn Error + 'static)) -> BoxError {
    let mut root = err;
    while let Some(next) = root.source() {
        root = next;
    }
    let (kind, message) = match root.downcast_ref::<io::Error>() {
        Some(io_err) => (
            io_err.kind(),
            format!("cannot reach proxy {name}: {io_err}"),
        ),
        None => {
            let detail = if std::ptr::addr_eq(root, err) {
                err.to_string()
            } else {
                format!("{err}: {root}")
            };
            let message = format!("proxy {name} would not tunnel to {target}: {detail}");
            (io::ErrorKind::Other, message)
        }
    };
    io::Error::new(kind, message).into()
}

/// A connection from [`ProxyConnector`]: to the target, through a tunnel, or to a forward proxy
/// (then reported as proxied, for absolute-form request targets).
pub struct Conn {
    inner: Stream,
    proxied: bool,
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.inner.connected().proxy(self.proxied)
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Empty};
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional};
    use tokio::net::TcpListener;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);
    /// `Proxy-Authorization` for `user:pass`.
    const USER_PASS: &str = "Basic dXNlcjpwYXNz";

    async fn listener() -> (TcpListener, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    fn proxy(url: &str) -> ProxyConnector {
        ProxyConnector::new(TIMEOUT, Matcher::builder().all(url).no("localhost").build())
    }

    async fn connect(mut connector: ProxyConnector, uri: &str) -> Result<Conn, BoxError> {
        poll_fn(|cx| connector.poll_ready(cx)).await?;
        connector.call(uri.parse()?).await
    }

    /// Reads a request head byte by byte, so nothing after it is consumed.
    async fn read_head(stream: &mut TcpStream) -> String {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        String::from_utf8(head).unwrap()
    }

    fn proxy_auth(head: &str) -> Option<&str> {
        head.lines()
            .filter_map(|line| line.split_once(": "))
            .find(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
            .map(|(_, value)| value)
    }

    /// Checks that what `conn` writes arrives on the next connection `peer` accepts.
    async fn ping(conn: Conn, peer: &TcpListener) {
        TokioIo::new(conn).write_all(b"ping").await.unwrap();
        let mut got = [0; 4];
        let (mut accepted, _) = peer.accept().await.unwrap();
        accepted.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
    }

    /// A one-connection proxy: reads the head, answers `reply` when tunnelling, relays to the
    /// target (for forwarding, the head too). Yields the head.
    async fn fake_proxy(reply: &'static [u8]) -> (u16, tokio::task::JoinHandle<String>) {
        let (proxy, port) = listener().await;
        let task = tokio::spawn(async move {
            let (mut client, _) = proxy.accept().await.unwrap();
            let head = read_head(&mut client).await;
            let target = head.split(' ').nth(1).unwrap();
            let target = target
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap();
            if head.starts_with("CONNECT ") {
                client.write_all(reply).await.unwrap();
                if !reply.starts_with(b"HTTP/1.1 200 ") {
                    return head;
                }
            }
            let mut upstream = TcpStream::connect(target).await.unwrap();
            if !head.starts_with("CONNECT ") {
                upstream.write_all(head.as_bytes()).await.unwrap();
            }
            tokio::spawn(async move { copy_bidirectional(&mut client, &mut upstream).await });
            head
        });
        (port, task)
    }

    #[tokio::test]
    async fn without_a_proxy_or_excluded_connects_directly() {
        let (_, closed) = listener().await;
        let excluded = Matcher::builder()
            .all(format!("http://127.0.0.1:{closed}"))
            .no("localhost, 127.0.0.1")
            .build();
        for (matcher, scheme) in [(Matcher::builder().build(), "http"), (excluded, "https")] {
            let (target, port) = listener().await;
            let connector = ProxyConnector::new(TIMEOUT, matcher);
            let conn = connect(connector, &format!("{scheme}://127.0.0.1:{port}/")).await;
            let conn = conn.unwrap();
            assert!(!conn.connected().is_proxied());
            ping(conn, &target).await;
        }
    }

    #[tokio::test]
    async fn https_target_is_tunnelled_with_connect() {
        for credentials in ["", "user:pass@"] {
            let (target, target_port) = listener().await;
            let (port, proxy_task) =
                fake_proxy(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
            let connector = proxy(&format!("http://{credentials}127.0.0.1:{port}"));
            let uri = format!("https://127.0.0.1:{target_port}/v1/chat");
            let conn = connect(connector, &uri).await.unwrap();
            assert!(!conn.connected().is_proxied());
            ping(conn, &target).await;
            let head = proxy_task.await.unwrap();
            let line = format!("CONNECT 127.0.0.1:{target_port} HTTP/1.1\r\n");
            assert!(head.starts_with(&line), "{head}");
            let auth = (!credentials.is_empty()).then_some(USER_PASS);
            assert_eq!(proxy_auth(&head), auth, "{head}");
        }
    }

    #[tokio::test]
    async fn http_target_goes_to_the_forward_proxy() {
        let (proxy_listener, port) = listener().await;
        let with_auth = proxy(&format!("http://user:pass@127.0.0.1:{port}"));
        let conn = connect(with_auth.clone(), "http://127.0.0.1:9/v1")
            .await
            .unwrap();
        assert!(conn.connected().is_proxied());
        ping(conn, &proxy_listener).await;

        let auth =
            |connector: &ProxyConnector, uri| connector.proxy_authorization(&Uri::from_static(uri));
        let expected = HeaderValue::from_static(USER_PASS);
        assert_eq!(auth(&with_auth, "http://127.0.0.1:9/v1"), Some(expected));
        assert_eq!(
            auth(&with_auth, "https://127.0.0.1:9/v1"),
            None,
            "tunnelled"
        );
        assert_eq!(auth(&with_auth, "http://localhost:9/v1"), None, "excluded");
        let without = proxy(&format!("http://127.0.0.1:{port}"));
        assert_eq!(auth(&without, "http://127.0.0.1:9/v1"), None);
        let none = ProxyConnector::new(TIMEOUT, Matcher::builder().build());
        assert_eq!(auth(&none, "http://127.0.0.1:9/v1"), None);
    }

    #[tokio::test]
    async fn unreachable_proxy_is_named_without_credentials() {
        let (_, port) = listener().await;
        for target in ["https://127.0.0.1:9/", "http://127.0.0.1:9/"] {
            let connector = proxy(&format!("http://someone:s3cret@127.0.0.1:{port}"));
            let err = connect(connector, target).await.err().unwrap();
            let text = err.to_string();
            let expected = format!("cannot reach proxy http://127.0.0.1:{port}: ");
            assert!(text.starts_with(&expected), "{text}");
            assert!(
                !text.contains("someone") && !text.contains("s3cret"),
                "{text}"
            );
            assert!(err.source().is_none());
        }
        let socks = proxy("socks5://someone:s3cret@127.0.0.1:9");
        let err = connect(socks, "https://127.0.0.1:9/").await.err().unwrap();
        let expected = "SOCKS proxies are not supported (socks5://127.0.0.1:9); use an HTTP proxy";
        assert_eq!(err.to_string(), expected);
    }

    #[tokio::test]
    async fn failed_handshakes_name_the_proxy() {
        let (_, target) = listener().await;
        let (port, _) = fake_proxy(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
        let uri = format!("https://127.0.0.1:{target}/");
        let err = connect(proxy(&format!("127.0.0.1:{port}")), &uri)
            .await
            .err()
            .unwrap();
        let expected = format!(
            "proxy http://127.0.0.1:{port} would not tunnel to 127.0.0.1:{target}: \
             tunnel error: proxy authorization required"
        );
        assert_eq!(err.to_string(), expected);

        let (_silent, port) = listener().await;
        let matcher = Matcher::builder().all(format!("127.0.0.1:{port}")).build();
        let connector = ProxyConnector::new(Duration::from_millis(100), matcher);
        let err = connect(connector, &uri).await.err().unwrap();
        let err = err.downcast::<io::Error>().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let expected =
            format!("cannot reach proxy http://127.0.0.1:{port}: no answer within 100ms");
        assert_eq!(err.to_string(), expected);
    }

    /// The real pooled client over the full connector writes absolute-form through the proxy.
    #[tokio::test]
    async fn pooled_client_sends_absolute_form_through_the_proxy() {
        let (origin, origin_port) = listener().await;
        let origin_task = tokio::spawn(async move {
            let (mut stream, _) = origin.accept().await.unwrap();
            let head = read_head(&mut stream).await;
            let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi";
            stream.write_all(response).await.unwrap();
            head
        });
        let (port, proxy_task) = fake_proxy(b"").await;
        let connector = proxy(&format!("http://user:pass@127.0.0.1:{port}"));
        let client = Client::builder(TokioExecutor::new())
            .build::<_, Empty<Bytes>>(connector.clone().into_https());
        let uri: Uri = format!("http://127.0.0.1:{origin_port}/hello")
            .parse()
            .unwrap();
        let mut request = http::Request::get(uri.clone()).body(Empty::new()).unwrap();
        let auth = connector.proxy_authorization(&uri).unwrap();
        request
            .headers_mut()
            .insert(http::header::PROXY_AUTHORIZATION, auth);
        let response = client.request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hi");

        let head = proxy_task.await.unwrap();
        let line = format!("GET http://127.0.0.1:{origin_port}/hello HTTP/1.1\r\n");
        assert!(head.starts_with(&line), "{head}");
        assert_eq!(proxy_auth(&head), Some(USER_PASS), "{head}");
        assert_eq!(origin_task.await.unwrap(), head);
    }
}
