//! Anthropic's `POST /v1/messages/count_tokens`: an Anthropic provider is asked; for any other
//! provider the prompt (system, tools, messages) is counted locally and the answer says so in
//! the `x-switchboard-token-count` header.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use tokio::time::Instant;

use super::{Call, json_response, read_json_answer, response_headers, send};
use crate::accounting::estimate;
use crate::config::Api;
use crate::error::GatewayError;
use crate::outcome::RequestRecorder;
use crate::usage::Usage;

pub(super) async fn answer(
    mut call: Call<'_>,
    recorder: &mut RequestRecorder,
) -> Result<Response, GatewayError> {
    // Counting is free at every provider: the record says so rather than estimating a cost.
    recorder.set_usage(Usage::default());
    if call.provider.config.api == Api::Anthropic {
        call.request.set_model(&call.route.upstream_model)?;
        let url = call.provider.count_tokens_url.clone();
        let started = Instant::now();
        let upstream_response = send(
            call.live,
            call.provider,
            &url,
            call.headers,
            call.request.to_bytes()?,
            false,
        )
        .await?;
        let headers = response_headers(&upstream_response, call.provider);
        recorder.first_byte(200);
        let body =
            read_json_answer(call.live, call.provider, &url, upstream_response, started).await?;
        recorder.finish_ok(200);
        return Ok(json_response(body, headers));
    }
    let body = bytes::Bytes::copy_from_slice(call.body);
    // Counting a large body takes milliseconds (and the first count builds the tokenizer, about
    // 40 ms): off the async runtime.
    let tokens = tokio::task::spawn_blocking(move || estimate::input_tokens(&body))
        .await
        .map_err(|e| GatewayError::Internal(format!("counting tokens failed: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-switchboard-token-count",
        HeaderValue::from_static("estimate; tokenizer=o200k_base"),
    );
    recorder.first_byte(200);
    recorder.finish_ok(200);
    Ok(json_response(
        serde_json::json!({ "input_tokens": tokens }).to_string(),
        headers,
    ))
}
