//! The axum app: shared state, routes, and the request pipeline every mocked endpoint goes through
//! (overrides → fault → dialect handler → recording → faulted response).

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use tokio_util::sync::CancellationToken;

use crate::config::{MockConfig, RequestOptions};
use crate::faults::{self, Dialect, Fault, FaultQueue};
use crate::recording::{RecordedRequest, Recorder, SentUsage};
use crate::reply::Outcome;
use crate::{anthropic, control, gemini, openai};

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
        dialect: &Dialect,
    ) -> Response {
        let resolved = RequestOptions::resolve(&self.config.load(), &incoming.headers);
        let (mut options, header_fault) = match resolved {
            Ok(resolved) => resolved,
            Err(e) => {
                if self.config.load().record {
                    self.recorder.push(incoming.into_record(None));
                }
                return (dialect.error_response)(StatusCode::BAD_REQUEST, &e.to_string());
            }
        };
        let mut fault = header_fault.or_else(|| self.faults.pop());
        // A refusal shapes the reply itself rather than bending it on the wire.
        if fault == Some(Fault::Refusal) {
            options.refusal = true;
            fault = None;
        }
        let Outcome { reply, usage } = handler(&incoming, &options);
        if options.record {
            self.recorder.push(incoming.into_record(usage));
        }
        faults::respond(reply, fault, options.chunk_gap, dialect, &self.shutdown).await
    }
}

/// One request as the handlers see it (an extractor: method, URI, headers and the whole body).
pub(crate) struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    fn into_record(self, usage: Option<SentUsage>) -> RecordedRequest {
        RecordedRequest::new(&self.method, &self.uri, &self.headers, self.body, usage)
    }
}

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| rejection.into_response())?;
        Ok(Self {
            method,
            uri,
            headers,
            body,
        })
    }
}

type AppState = State<Arc<Shared>>;

/// All routes: OpenAI and Anthropic endpoints with and without `/v1`, Gemini under `/v1beta` (its
/// model actions under `/v1` too), the control API, and a 404 fallback in the caller's dialect.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for prefix in ["/v1", ""] {
        router = router
            .route(&format!("{prefix}/chat/completions"), post(chat))
            .route(&format!("{prefix}/embeddings"), post(embeddings))
            .route(&format!("{prefix}/messages"), post(messages))
            .route(
                &format!("{prefix}/messages/count_tokens"),
                post(count_tokens),
            )
            .route(&format!("{prefix}/models"), get(models));
    }
    router
        .route("/v1/models/{*id}", get(model).post(gemini_action))
        .route("/models/{*id}", get(model))
        .route("/v1beta/models", get(gemini_models))
        .route(
            "/v1beta/models/{*name}",
            get(gemini_model).post(gemini_action),
        )
        .nest("/_mock", control::routes())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

async fn chat(State(shared): AppState, incoming: Incoming) -> Response {
    shared.serve(incoming, openai::chat, &openai::DIALECT).await
}

async fn embeddings(State(shared): AppState, incoming: Incoming) -> Response {
    shared
        .serve(incoming, openai::embeddings, &openai::DIALECT)
        .await
}

async fn messages(State(shared): AppState, incoming: Incoming) -> Response {
    shared
        .serve(incoming, anthropic::messages, &anthropic::DIALECT)
        .await
}

async fn count_tokens(State(shared): AppState, incoming: Incoming) -> Response {
    shared
        .serve(incoming, anthropic::count_tokens, &anthropic::DIALECT)
        .await
}

/// `GET /v1/models`: Anthropic's list when the request carries `anthropic-version`, Gemini's when
/// it carries a Google API key, else OpenAI's.
async fn models(State(shared): AppState, incoming: Incoming) -> Response {
    if anthropic::is_anthropic(&incoming) {
        shared
            .serve(incoming, anthropic::models, &anthropic::DIALECT)
            .await
    } else if gemini::is_gemini(&incoming) {
        shared
            .serve(incoming, gemini::models, &gemini::DIALECT)
            .await
    } else {
        shared
            .serve(incoming, openai::models, &openai::DIALECT)
            .await
    }
}

async fn model(State(shared): AppState, Path(id): Path<String>, incoming: Incoming) -> Response {
    if anthropic::is_anthropic(&incoming) {
        shared
            .serve(incoming, |_, _| anthropic::model(&id), &anthropic::DIALECT)
            .await
    } else if gemini::is_gemini(&incoming) {
        shared
            .serve(incoming, |_, _| gemini::model(&id), &gemini::DIALECT)
            .await
    } else {
        shared
            .serve(incoming, |_, _| openai::model(&id), &openai::DIALECT)
            .await
    }
}

async fn gemini_models(State(shared): AppState, incoming: Incoming) -> Response {
    shared
        .serve(incoming, gemini::models, &gemini::DIALECT)
        .await
}

async fn gemini_model(
    State(shared): AppState,
    Path(name): Path<String>,
    incoming: Incoming,
) -> Response {
    shared
        .serve(incoming, |_, _| gemini::model(&name), &gemini::DIALECT)
        .await
}

/// `POST …/models/{model}:{action}` (`generateContent`, `streamGenerateContent`, `countTokens`).
async fn gemini_action(
    State(shared): AppState,
    Path(name): Path<String>,
    incoming: Incoming,
) -> Response {
    shared
        .serve(
            incoming,
            |incoming, options| gemini::action(&name, incoming, options),
            &gemini::DIALECT,
        )
        .await
}

/// Any other path: a 404 in Gemini's shape under `/v1beta` or with a Google API key, Anthropic's
/// with `anthropic-version`, else OpenAI's.
async fn fallback(State(shared): AppState, incoming: Incoming) -> Response {
    if incoming.uri.path().starts_with("/v1beta/") || gemini::is_gemini(&incoming) {
        shared
            .serve(incoming, gemini::not_found, &gemini::DIALECT)
            .await
    } else if anthropic::is_anthropic(&incoming) {
        shared
            .serve(incoming, anthropic::not_found, &anthropic::DIALECT)
            .await
    } else {
        shared
            .serve(incoming, openai::not_found, &openai::DIALECT)
            .await
    }
}
