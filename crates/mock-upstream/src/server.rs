//! The axum app: shared state, routes, and the request pipeline every mocked endpoint goes through
//! (overrides → fault → dialect handler → recording → faulted response).

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use tokio_util::sync::CancellationToken;

use crate::config::{MockConfig, RequestOptions};
use crate::control;
use crate::faults::{self, ErrorRenderer, FaultQueue};
use crate::openai;
use crate::recording::{RecordedRequest, Recorder};
use crate::reply::Outcome;

/// Largest request body accepted (far above what providers take, so that size limits are the gateway's).
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// State shared by every handler and by the [`crate::MockUpstream`] handle.
pub(crate) struct Shared {
    pub config: ArcSwap<MockConfig>,
    pub recorder: Recorder,
    pub faults: FaultQueue,
    /// Cancelled when the mock shuts down; ends hanging requests.
    pub shutdown: CancellationToken,
}

impl Shared {
    pub fn new(config: MockConfig) -> Self {
        Self {
            config: ArcSwap::from_pointee(config),
            recorder: Recorder::default(),
            faults: FaultQueue::default(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Runs one mocked request through overrides, faults, the dialect `handler` and recording.
    async fn serve(
        &self,
        incoming: Incoming,
        handler: impl FnOnce(&Incoming, &RequestOptions) -> Outcome,
        render_error: ErrorRenderer,
    ) -> Response {
        let resolved = RequestOptions::resolve(&self.config.load(), &incoming.headers);
        let (options, header_fault) = match resolved {
            Ok(resolved) => resolved,
            Err(e) => {
                if self.config.load().record {
                    self.recorder.push(incoming.into_record(None));
                }
                return render_error(StatusCode::BAD_REQUEST, &e.to_string());
            }
        };
        let fault = header_fault.or_else(|| self.faults.pop());
        let Outcome { reply, usage } = handler(&incoming, &options);
        if options.record {
            self.recorder.push(incoming.into_record(usage));
        }
        faults::respond(
            reply,
            fault,
            options.chunk_gap,
            render_error,
            &self.shutdown,
        )
        .await
    }
}

/// One request as the handlers see it.
pub(crate) struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    fn into_record(self, usage: Option<crate::recording::Usage>) -> RecordedRequest {
        RecordedRequest::new(&self.method, &self.uri, &self.headers, self.body, usage)
    }
}

type AppState = State<Arc<Shared>>;

/// All routes: the OpenAI endpoints with and without `/v1`, the control API, and a 404 fallback.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for prefix in ["/v1", ""] {
        router = router
            .route(&format!("{prefix}/chat/completions"), post(chat))
            .route(&format!("{prefix}/embeddings"), post(embeddings))
            .route(&format!("{prefix}/models"), get(models))
            .route(&format!("{prefix}/models/{{*id}}"), get(model));
    }
    router
        .nest("/_mock", control::routes())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

async fn chat(
    State(shared): AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming {
        method,
        uri,
        headers,
        body,
    };
    shared
        .serve(incoming, openai::chat, openai::error_response)
        .await
}

async fn embeddings(
    State(shared): AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming {
        method,
        uri,
        headers,
        body,
    };
    shared
        .serve(incoming, openai::embeddings, openai::error_response)
        .await
}

async fn models(State(shared): AppState, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let incoming = Incoming {
        method,
        uri,
        headers,
        body: Bytes::new(),
    };
    shared
        .serve(incoming, openai::models, openai::error_response)
        .await
}

async fn model(
    State(shared): AppState,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let incoming = Incoming {
        method,
        uri,
        headers,
        body: Bytes::new(),
    };
    shared
        .serve(incoming, |_, _| openai::model(&id), openai::error_response)
        .await
}

async fn fallback(
    State(shared): AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = Incoming {
        method,
        uri,
        headers,
        body,
    };
    shared
        .serve(incoming, openai::not_found, openai::error_response)
        .await
}
