//! TEMPORARY stand-in until the proxy-aware connector lands (branch `connect`).

use std::time::Duration;

use axum::http::{HeaderValue, Uri};
use hyper_util::client::legacy::connect::HttpConnector;

pub type HttpsConnector = hyper_rustls::HttpsConnector<HttpConnector>;

#[derive(Clone, Debug)]
pub struct ProxyConnector;

impl ProxyConnector {
    pub fn proxy_authorization(&self, _uri: &Uri) -> Option<HeaderValue> {
        None
    }
}

pub fn https_connector(connect_timeout: Duration) -> (HttpsConnector, ProxyConnector) {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    (https, ProxyConnector)
}
