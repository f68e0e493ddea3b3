//! `POST /v1/embeddings`: deterministic unit vectors (floats or base64), with prompt-token usage.

use std::borrow::Cow;

use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{error_outcome, internal_error};
use crate::config::RequestOptions;
use crate::recording::Usage;
use crate::reply::Outcome;
use crate::server::Incoming;
use crate::synth;

/// Vector length when the request does not ask for `dimensions`.
pub(crate) const DEFAULT_DIMENSIONS: usize = 8;
const MAX_DIMENSIONS: usize = 4096;

#[derive(Deserialize)]
struct EmbeddingsRequest {
    model: Option<String>,
    input: Option<Input>,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingObject>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct EmbeddingObject {
    object: &'static str,
    index: usize,
    embedding: Vector,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector {
    Floats(Vec<f32>),
    /// Little-endian `f32`s, base64-encoded (what the official Python SDK asks for by default).
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

/// Handles one embeddings request.
pub(crate) fn embeddings(incoming: &Incoming, _options: &RequestOptions) -> Outcome {
    let request: EmbeddingsRequest = match serde_json::from_slice(&incoming.body) {
        Ok(request) => request,
        Err(e) => {
            return error_outcome(
                StatusCode::BAD_REQUEST,
                &format!("We could not parse the JSON body of your request: {e}"),
                None,
            );
        }
    };
    let Some(model) = request.model.as_deref() else {
        return error_outcome(
            StatusCode::BAD_REQUEST,
            "you must provide a model parameter",
            None,
        );
    };
    let Some(input) = &request.input else {
        return error_outcome(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'input'.",
            Some("input"),
        );
    };
    let items = input_items(input);
    if items.is_empty() {
        return error_outcome(
            StatusCode::BAD_REQUEST,
            "'input' must not be empty.",
            Some("input"),
        );
    }
    let dimensions = request.dimensions.unwrap_or(DEFAULT_DIMENSIONS);
    if !(1..=MAX_DIMENSIONS).contains(&dimensions) {
        return error_outcome(
            StatusCode::BAD_REQUEST,
            &format!("'dimensions' must be between 1 and {MAX_DIMENSIONS}."),
            Some("dimensions"),
        );
    }
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return error_outcome(
                StatusCode::BAD_REQUEST,
                &format!("Invalid 'encoding_format': `{other}`; expected `float` or `base64`."),
                Some("encoding_format"),
            );
        }
    };

    let prompt_tokens = items.iter().map(|(_, tokens)| tokens).sum();
    let data = items
        .iter()
        .enumerate()
        .map(|(index, (seed, _))| {
            let values = synth::embedding(seed, dimensions);
            EmbeddingObject {
                object: "embedding",
                index,
                embedding: if base64 {
                    Vector::Base64(encode_base64(&values))
                } else {
                    Vector::Floats(values)
                },
            }
        })
        .collect();
    let list = EmbeddingList {
        object: "list",
        data,
        model,
        usage: EmbeddingUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    };
    match serde_json::to_vec(&list) {
        Ok(body) => Outcome::json(
            StatusCode::OK,
            Bytes::from(body),
            Some(Usage::new(prompt_tokens, 0)),
        ),
        Err(e) => internal_error(&e),
    }
}

/// Each input as (the bytes its vector derives from, its token count).
fn input_items(input: &Input) -> Vec<(Cow<'_, [u8]>, u64)> {
    let tokens_seed = |tokens: &[u32]| -> Cow<'_, [u8]> {
        Cow::Owned(tokens.iter().flat_map(|t| t.to_le_bytes()).collect())
    };
    match input {
        Input::Text(text) => vec![(Cow::Borrowed(text.as_bytes()), synth::text_tokens(text))],
        Input::Texts(texts) => texts
            .iter()
            .map(|t| (Cow::Borrowed(t.as_bytes()), synth::text_tokens(t)))
            .collect(),
        Input::Tokens(tokens) => vec![(tokens_seed(tokens), tokens.len() as u64)],
        Input::TokenLists(lists) => lists
            .iter()
            .map(|tokens| (tokens_seed(tokens), tokens.len() as u64))
            .collect(),
    }
}

fn encode_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
