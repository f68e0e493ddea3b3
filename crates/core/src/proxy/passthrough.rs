//! Client and provider speak the same dialect (OpenAI chat or embeddings to an OpenAI-compatible
//! provider, Anthropic messages to an Anthropic provider): the body goes up with only `model`
//! rewritten, and the provider's bytes come back unchanged while a copy is read for usage.

use axum::response::Response;
use tokio::time::Instant;

use super::stream::{EventHandler, Reader};
use super::{
    Call, first_event, json_response, read_json_answer, response_headers, send, start_relay,
};
use crate::error::GatewayError;
use crate::outcome::{Endpoint, RequestRecorder};
use crate::translate::anthropic::{self, AnthropicStreamDecoder, AnthropicStreamEncoder};
use crate::translate::openai_chat::OpenAiStreamEncoder;
use crate::usage::{self, Usage};

pub(super) async fn openai(
    mut call: Call<'_>,
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    call.request.set_model(&call.route.upstream_model)?;
    let hide_usage_chunk = call.stream && !call.request.wants_stream_usage();
    if hide_usage_chunk {
        call.request.request_stream_usage()?;
    }
    let url = match call.endpoint {
        Endpoint::Embeddings => call.provider.embeddings_url.clone(),
        _ => call
            .provider
            .chat_url(&call.route.upstream_model, call.stream)?,
    };
    let body = call.request.to_bytes()?;
    let handler = || {
        let client = OpenAiStreamEncoder::new(call.request.model.clone(), false);
        EventHandler::new(Reader::OpenAi { hide_usage_chunk }, Box::new(client))
    };
    exchange(&call, recorder, url, body, usage::from_openai_body, handler).await
}

pub(super) async fn anthropic(
    mut call: Call<'_>,
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    call.request.set_model(&call.route.upstream_model)?;
    let mut body = call.request.to_bytes()?;
    // Another provider's reasoning, signed by Switchboard, would be rejected by Anthropic.
    if let Some(stripped) = anthropic::strip_foreign_thinking(&body) {
        body = stripped;
    }
    let url = call
        .provider
        .chat_url(&call.route.upstream_model, call.stream)?;
    let whole_usage = |body: &[u8]| anthropic::decode_response(body).ok().and_then(|r| r.usage);
    let handler = || {
        let client = AnthropicStreamEncoder::new(call.request.model.clone());
        let reader = Reader::Passthrough(Box::new(AnthropicStreamDecoder::new()));
        EventHandler::new(reader, Box::new(client))
    };
    exchange(&call, recorder, url, body, whole_usage, handler).await
}

/// Sends `body` and answers with the provider's bytes: whole (usage read by `whole_usage`), or
/// streamed through the handler `stream_handler` makes.
async fn exchange(
    call: &Call<'_>,
    recorder: &mut RequestRecorder,
    url: axum::http::Uri,
    body: Vec<u8>,
    whole_usage: impl FnOnce(&[u8]) -> Option<Usage>,
    stream_handler: impl FnOnce() -> EventHandler,
) -> Result<Response, GatewayError> {
    let started = Instant::now();
    let upstream_response = send(
        call.live,
        call.provider,
        &url,
        call.headers,
        body,
        call.stream,
    )
    .await?;
    let headers = response_headers(&upstream_response, call.provider);
    if !call.stream {
        recorder.first_byte(200);
        let body =
            read_json_answer(call.live, call.provider, &url, upstream_response, started).await?;
        match whole_usage(&body) {
            Some(usage) => recorder.set_usage(usage),
            None => recorder.capture_whole_response(body.clone()),
        }
        recorder.finish_ok(200);
        return Ok(json_response(body, headers));
    }
    let (events, first) = first_event(call.live, call.provider, upstream_response, started).await?;
    start_relay(call, events, first, stream_handler(), headers, recorder)
}
