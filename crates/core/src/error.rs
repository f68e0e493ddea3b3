//! `GatewayError`: every way a proxied request can fail, with its HTTP status, its cause, and
//! whether a retry may help. Rendered in the client's dialect (OpenAI's shape, or Anthropic's).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which side of the gateway a failure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Upstream,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{message}")]
    BadRequest {
        message: String,
        param: Option<&'static str>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    UnknownModel(String),
    #[error("request body is larger than the limit of {limit} bytes (`server.max_request_bytes`)")]
    PayloadTooLarge { limit: usize },
    /// The provider answered with a non-2xx status; its status and message are kept.
    #[error("{message}")]
    Upstream {
        status: StatusCode,
        message: String,
        error_type: Option<String>,
        code: Option<String>,
        retry_after: Option<HeaderValue>,
    },
    #[error("{0}")]
    UpstreamUnreachable(String),
    #[error("{0}")]
    UpstreamProtocol(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

impl GatewayError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        GatewayError::BadRequest {
            message: message.into(),
            param: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            GatewayError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            GatewayError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            GatewayError::Forbidden(_) => StatusCode::FORBIDDEN,
            GatewayError::NotFound(_) | GatewayError::UnknownModel(_) => StatusCode::NOT_FOUND,
            GatewayError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            GatewayError::Upstream { status, .. } => *status,
            GatewayError::UpstreamUnreachable(_) | GatewayError::UpstreamProtocol(_) => {
                StatusCode::BAD_GATEWAY
            }
            GatewayError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn side(&self) -> Side {
        match self {
            GatewayError::BadRequest { .. }
            | GatewayError::Unauthorized(_)
            | GatewayError::Forbidden(_)
            | GatewayError::NotFound(_)
            | GatewayError::UnknownModel(_)
            | GatewayError::PayloadTooLarge { .. } => Side::Client,
            GatewayError::Upstream { .. }
            | GatewayError::UpstreamUnreachable(_)
            | GatewayError::UpstreamProtocol(_)
            | GatewayError::Timeout(_) => Side::Upstream,
            GatewayError::Internal(_) => Side::Internal,
        }
    }

    /// Whether sending the same request again (before any byte reached the client) may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            GatewayError::Upstream { status, .. } => {
                *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || status.is_server_error()
            }
            GatewayError::UpstreamUnreachable(_) | GatewayError::Timeout(_) => true,
            _ => false,
        }
    }

    /// The OpenAI error `type` for this error.
    fn openai_type(&self) -> &str {
        match self {
            GatewayError::BadRequest { .. } | GatewayError::PayloadTooLarge { .. } => {
                "invalid_request_error"
            }
            GatewayError::Unauthorized(_) => "authentication_error",
            GatewayError::Forbidden(_) => "permission_error",
            GatewayError::NotFound(_) | GatewayError::UnknownModel(_) => "not_found_error",
            GatewayError::Upstream { error_type, .. } => {
                error_type.as_deref().unwrap_or("upstream_error")
            }
            GatewayError::UpstreamUnreachable(_) | GatewayError::UpstreamProtocol(_) => {
                "upstream_error"
            }
            GatewayError::Timeout(_) => "timeout_error",
            GatewayError::Internal(_) => "internal_error",
        }
    }

    fn openai_code(&self) -> Option<&str> {
        match self {
            GatewayError::UnknownModel(_) => Some("model_not_found"),
            GatewayError::Upstream { code, .. } => code.as_deref(),
            GatewayError::UpstreamUnreachable(_) => Some("upstream_unreachable"),
            GatewayError::Timeout(_) => Some("upstream_timeout"),
            GatewayError::PayloadTooLarge { .. } => Some("request_too_large"),
            GatewayError::Unauthorized(_) => Some("invalid_client_token"),
            _ => None,
        }
    }

    /// `{"error":{"message","type","param","code"}}`, the shape every OpenAI client understands.
    pub fn openai_body(&self) -> serde_json::Value {
        let param = match self {
            GatewayError::BadRequest { param, .. } => *param,
            GatewayError::UnknownModel(_) => Some("model"),
            _ => None,
        };
        json!({
            "error": {
                "message": self.to_string(),
                "type": self.openai_type(),
                "param": param,
                "code": self.openai_code(),
            }
        })
    }
}

impl GatewayError {
    /// The error as the client's dialect shapes it: Anthropic clients get Anthropic's error
    /// object, everyone else OpenAI's.
    pub fn into_dialect_response(self, dialect: crate::translate::Dialect) -> Response {
        if dialect != crate::translate::Dialect::Anthropic {
            return self.into_response();
        }
        let body = crate::translate::anthropic::error_body(self.status(), &self.to_string());
        let mut response = (
            self.status(),
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        self.add_retry_after(&mut response);
        response
    }

    fn add_retry_after(&self, response: &mut Response) {
        if let GatewayError::Upstream {
            retry_after: Some(value),
            ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, value.clone());
        }
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.openai_body())).into_response();
        self.add_retry_after(&mut response);
        response
    }
}
