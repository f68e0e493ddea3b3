//! `loadgen baseline`: reference proxies that do the least a gateway could, to tell the gateway's
//! own costs from those of the extra hop. `tcp` relays bytes between each client connection and
//! its own upstream connection (no HTTP at all: the floor of any proxy); `http` is axum + one
//! pooled reqwest client forwarding the body untouched (the frameworks Switchboard is built on,
//! without its parsing, routing, header hygiene, accounting or middleware); `hyper` is the same
//! with hyper-util's pooled client in reqwest's place (what reqwest's own layers cost). All serve
//! until killed, print `baseline listening on http://ADDR`, and only accept a loopback upstream.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::serve::ListenerExt as _;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::{TcpListener, TcpStream};

#[derive(clap::Args, Debug)]
pub struct BaselineArgs {
    /// `tcp` (byte relay), `http` (axum + reqwest pass-through) or `hyper` (axum + hyper-util)
    #[arg(long, value_parser = ["tcp", "http", "hyper"])]
    mode: String,
    /// The upstream's base URL, e.g. http://127.0.0.1:PORT
    #[arg(long)]
    upstream: reqwest::Url,
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
}

pub async fn run(args: BaselineArgs) -> anyhow::Result<()> {
    crate::require_loopback(&args.upstream)?;
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "listen on a loopback address"
    );
    let listener = TcpListener::bind(args.listen).await?;
    println!("baseline listening on http://{}", listener.local_addr()?);
    if args.mode == "tcp" {
        let upstream = args
            .upstream
            .socket_addrs(|| None)?
            .into_iter()
            .next()
            .context("no upstream address")?;
        loop {
            let (mut client, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = client.set_nodelay(true);
                if let Ok(mut server) = TcpStream::connect(upstream).await {
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    }
    if args.mode == "hyper" {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        let uri: axum::http::Uri = args
            .upstream
            .join("v1/chat/completions")?
            .as_str()
            .parse()?;
        let app = axum::Router::new()
            .route("/v1/chat/completions", axum::routing::post(forward_hyper))
            .with_state((client, uri));
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await?;
        return Ok(());
    }
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let url = args.upstream.join("v1/chat/completions")?;
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(forward))
        .with_state((http, url));
    // Like the gateway: small responses must not wait for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}

type HyperClient = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

async fn forward_hyper(
    State((client, uri)): State<(HyperClient, axum::http::Uri)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = axum::http::Request::new(Full::new(body));
    *request.method_mut() = axum::http::Method::POST;
    *request.uri_mut() = uri;
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, value.clone());
    }
    let result = async {
        let upstream = client.request(request).await.map_err(|e| e.to_string())?;
        let (parts, body) = upstream.into_parts();
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((
            parts.status,
            parts.headers.get(header::CONTENT_TYPE).cloned(),
            bytes,
        ))
    }
    .await;
    answer(result)
}

/// The upstream's answer as the reference proxy's own, or a 502 with the error's text.
fn answer(result: Result<(StatusCode, Option<HeaderValue>, Bytes), String>) -> Response {
    match result {
        Ok((status, content_type, bytes)) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            if let Some(value) = content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        Err(err) => {
            let mut response = Response::new(Body::from(err));
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
    }
}

async fn forward(
    State((http, url)): State<(reqwest::Client, reqwest::Url)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = http.post(url).body(body);
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, value);
    }
    let result = async {
        let upstream = request.send().await?;
        let status = upstream.status();
        let content_type = upstream.headers().get(header::CONTENT_TYPE).cloned();
        let bytes = upstream.bytes().await?;
        Ok::<_, reqwest::Error>((status, content_type, bytes))
    }
    .await;
    answer(result.map_err(|e| e.to_string()))
}
