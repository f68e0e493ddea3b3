//! The pooled HTTP client for provider calls: hyper-util's, used directly. reqwest's layers on
//! top of it (a redirect policy that parses the URL twice per request, a retry policy, proxy
//! matching per request, large futures moved around) cost about a fifth of a small request's
//! gateway CPU; a gateway never follows redirects and has its own retry point, so it needs none
//! of them. Connections: see `connect`.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, header};
use bytes::Bytes;
use futures::Stream;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::connect::{HttpsConnector, ProxyConnector};

/// A provider's answer: status and headers, and the body still to be read.
pub type UpstreamResponse = Response<Incoming>;

const USER_AGENT: &str = concat!("switchboard/", env!("CARGO_PKG_VERSION"));

/// One shared, pooled client per live state (DESIGN §4.1). Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: Client<HttpsConnector, Full<Bytes>>,
    /// Kept for the `Proxy-Authorization` of requests sent through a proxy in the clear.
    connector: ProxyConnector,
}

impl HttpClient {
    /// Connects within `connect_timeout`; idle pooled connections close after 90 s. The request
    /// path times the later phases itself (per phase: a whole-request limit would cut streams).
    pub fn new(connect_timeout: Duration) -> HttpClient {
        let connector = ProxyConnector::system(connect_timeout);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector.clone().into_https());
        HttpClient { client, connector }
    }

    /// POSTs `body` to `uri` with `headers` (a `User-Agent` is added if they have none) and
    /// waits for the status line and headers.
    pub async fn post(
        &self,
        uri: &Uri,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, hyper_util::client::legacy::Error> {
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        }
        if let Some(auth) = self.connector.proxy_authorization(uri) {
            headers.insert(header::PROXY_AUTHORIZATION, auth);
        }
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        *request.headers_mut() = headers;
        self.client.request(request).await
    }
}

/// The declared body length, if the provider sent one.
pub fn content_length(response: &UpstreamResponse) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The body's bytes as they arrive.
pub fn body_stream(
    response: UpstreamResponse,
) -> impl Stream<Item = Result<Bytes, hyper::Error>> + Send + 'static {
    response.into_body().into_data_stream()
}

/// The whole body.
pub async fn body_bytes(response: UpstreamResponse) -> Result<Bytes, hyper::Error> {
    Ok(response.into_body().collect().await?.to_bytes())
}
