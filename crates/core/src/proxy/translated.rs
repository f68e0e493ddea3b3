//! Client and provider speak different dialects: the request is decoded into the canonical model
//! and encoded for the provider; the answer comes back through the provider's decoder and the
//! client's encoder — event by event for streams, never buffered.

use axum::response::Response;
use tokio::time::Instant;

use super::stream::{EventHandler, Reader};
use super::{
    Call, first_event, json_response, read_json_answer, response_headers, send, start_relay,
};
use crate::accounting::pricing;
use crate::config::Api;
use crate::error::GatewayError;
use crate::outcome::RequestRecorder;
use crate::translate::anthropic::{self, AnthropicStreamDecoder, AnthropicStreamEncoder};
use crate::translate::gemini::{self, GeminiStreamDecoder};
use crate::translate::openai_chat::{self, OpenAiStreamDecoder, OpenAiStreamEncoder};
use crate::translate::responses::{self, ResponsesStreamEncoder};
use crate::translate::{ChatRequest, ChatResponse, Dialect, StreamDecoder, StreamEncoder};

/// Anthropic requires `max_tokens`; when the client sent none, the model's output limit from the
/// price table is used, capped so a forgotten limit does not hold a request for many minutes.
const MAX_DEFAULT_OUTPUT_TOKENS: u64 = 32_000;
/// For models the table does not know.
const FALLBACK_OUTPUT_TOKENS: u64 = 8_192;

pub(super) async fn answer(
    call: Call<'_>,
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    let client = call.endpoint.dialect();
    let mut request = decode_request(client, call.body)?;
    request.model = call.route.upstream_model.clone();
    request.stream = call.stream;
    let provider = call.provider;
    let body = match provider.config.api {
        Api::OpenAi => openai_chat::encode_request(&request, provider.quirks)?,
        Api::Anthropic => anthropic::encode_request(&request, default_max_tokens(&call))?,
        Api::Gemini => gemini::encode_request(&request)?,
    };
    let url = provider.chat_url(&call.route.upstream_model, call.stream)?;
    let started = Instant::now();
    let upstream_response =
        send(call.live, provider, &url, call.headers, body, call.stream).await?;
    let headers = response_headers(&upstream_response, provider);
    let client_model = call.request.model.clone();
    if !call.stream {
        recorder.first_byte(200);
        let body = read_json_answer(call.live, provider, &url, upstream_response, started).await?;
        let mut response =
            decode_response(provider.config.api, provider.quirks, &body).map_err(|e| {
                GatewayError::UpstreamProtocol(format!(
                    "provider `{}` sent an answer Switchboard cannot read: {e}",
                    provider.config.name
                ))
            })?;
        response.model = client_model;
        let encoded = encode_response(client, &response);
        match response.usage {
            Some(usage) => recorder.set_usage(usage),
            None => recorder.capture_whole_response(encoded.clone().into()),
        }
        recorder.finish_ok(200);
        return Ok(json_response(encoded, headers));
    }
    let (events, first) = first_event(call.live, provider, upstream_response, started).await?;
    let decoder: Box<dyn StreamDecoder> = match provider.config.api {
        Api::OpenAi => Box::new(OpenAiStreamDecoder::new(provider.quirks)),
        Api::Anthropic => Box::new(AnthropicStreamDecoder::new()),
        Api::Gemini => Box::new(GeminiStreamDecoder::new()),
    };
    let encoder: Box<dyn StreamEncoder> = match client {
        Dialect::Anthropic => Box::new(AnthropicStreamEncoder::new(client_model)),
        Dialect::Responses => Box::new(ResponsesStreamEncoder::new(client_model)),
        Dialect::OpenAiChat | Dialect::Gemini => Box::new(OpenAiStreamEncoder::new(
            client_model,
            call.request.wants_stream_usage(),
        )),
    };
    let handler = EventHandler::new(Reader::Translate(decoder), encoder);
    start_relay(&call, events, first, handler, headers, recorder)
}

fn decode_request(client: Dialect, body: &[u8]) -> Result<ChatRequest, GatewayError> {
    match client {
        Dialect::Anthropic => anthropic::decode_request(body),
        Dialect::Responses => responses::decode_request(body),
        Dialect::OpenAiChat | Dialect::Gemini => openai_chat::decode_request(body),
    }
}

fn decode_response(
    api: Api,
    quirks: openai_chat::OpenAiQuirks,
    body: &[u8],
) -> Result<ChatResponse, String> {
    match api {
        Api::OpenAi => openai_chat::decode_response(body, quirks),
        Api::Anthropic => anthropic::decode_response(body),
        Api::Gemini => gemini::decode_response(body),
    }
}

fn encode_response(client: Dialect, response: &ChatResponse) -> Vec<u8> {
    match client {
        Dialect::Anthropic => anthropic::encode_response(response),
        Dialect::Responses => responses::encode_response(response),
        Dialect::OpenAiChat | Dialect::Gemini => openai_chat::encode_response(response),
    }
}

fn default_max_tokens(call: &Call<'_>) -> u64 {
    let config = &call.provider.config;
    pricing::lookup(
        config.preset,
        &config.name,
        &call.route.upstream_model,
        &call.request.model,
    )
    .max_output_tokens
    .map_or(FALLBACK_OUTPUT_TOKENS, |limit| {
        limit.min(MAX_DEFAULT_OUTPUT_TOKENS)
    })
}
