//! What one `RequestOutcome` becomes before it is stored: its usage (reported by the provider,
//! estimated from the captured exchange, or none), its cost, and the model's context limit.
//! Prices are looked up once per route and config.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use super::rows::RequestStatus;
use super::unix_ms;
use crate::accounting::estimate;
use crate::accounting::pricing::{self, Price};
use crate::config::Config;
use crate::outcome::{Capture, RequestOutcome};
use crate::usage::Usage;

pub(crate) const SOURCE_REPORTED: &str = "reported";
pub(crate) const SOURCE_NONE: &str = "none";
static SOURCE_ESTIMATED: LazyLock<String> =
    LazyLock::new(|| format!("estimated:{}", estimate::TOKENIZER));

fn source_estimated() -> &'static str {
    SOURCE_ESTIMATED.as_str()
}

/// An outcome in the writer's terms: times in Unix ms, status as stored.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub uid: String,
    pub client: String,
    pub session_hint: Option<String>,
    pub started_at: i64,
    pub endpoint: &'static str,
    pub client_model: Option<String>,
    pub provider: Option<String>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub status: RequestStatus,
    pub http_status: u16,
    pub error: Option<String>,
    pub ttfb_ms: Option<u64>,
    pub duration_ms: u64,
    pub reported: Option<Usage>,
    pub capture: Option<Capture>,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Recorded {
    pub(crate) fn from_outcome(outcome: RequestOutcome) -> Recorded {
        Recorded {
            uid: outcome.id,
            client: outcome.client,
            session_hint: outcome.session_hint,
            started_at: unix_ms(outcome.started_at),
            endpoint: outcome.endpoint.as_str(),
            client_model: outcome.client_model,
            provider: outcome.provider,
            upstream_model: outcome.upstream_model,
            stream: outcome.stream,
            status: outcome.status.into(),
            http_status: outcome.http_status,
            error: outcome.error,
            ttfb_ms: outcome.time_to_first_byte.map(millis),
            duration_ms: millis(outcome.duration),
            reported: outcome.usage,
            capture: outcome.capture,
        }
    }

    /// End of the request, Unix ms.
    pub(crate) fn ended_at(&self) -> i64 {
        self.started_at
            .saturating_add(i64::try_from(self.duration_ms).unwrap_or(i64::MAX))
    }

    /// The provider refused the request or was never reached: nothing was generated, and
    /// providers do not bill such requests, so its cost is known to be zero.
    fn rejected_before_output(&self) -> bool {
        self.ttfb_ms.is_none()
            && matches!(
                self.status,
                RequestStatus::UpstreamError | RequestStatus::GatewayError
            )
    }
}

/// Usage, cost and context limit of one request, as stored.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Accounted {
    pub usage: Usage,
    pub source: &'static str,
    /// `None`: unknown (no price for the model, or no usage to price).
    pub cost: Option<f64>,
    pub context_limit: Option<u64>,
}

impl Accounted {
    pub(crate) fn has_usage(&self) -> bool {
        self.source != SOURCE_NONE
    }
}

/// Never used: `route` inserts before it looks up.
const NO_ROUTE: RouteInfo = RouteInfo {
    price: None,
    max_input_tokens: None,
};

#[derive(Clone, Debug, Default)]
struct RouteInfo {
    price: Option<Price>,
    max_input_tokens: Option<u64>,
}

/// Route information by provider, upstream model and client model (nested, so that a lookup
/// borrows the request's strings).
type Routes = HashMap<String, HashMap<String, HashMap<String, RouteInfo>>>;

/// Prices and context sizes per (provider, upstream model, client model), for one config.
#[derive(Debug, Default)]
pub(crate) struct PriceBook {
    config: Option<Arc<Config>>,
    routes: Routes,
}

impl PriceBook {
    /// Forgets cached prices when the config changed (presets and overrides may differ).
    pub(crate) fn use_config(&mut self, config: &Arc<Config>) {
        if !self.config.as_ref().is_some_and(|c| Arc::ptr_eq(c, config)) {
            self.routes.clear();
            self.config = Some(config.clone());
        }
    }

    fn route(
        &mut self,
        config: &Config,
        provider: &str,
        upstream_model: &str,
        client_model: &str,
    ) -> &RouteInfo {
        if self.find(provider, upstream_model, client_model).is_none() {
            let preset = config.providers.get(provider).and_then(|p| p.preset);
            let info = pricing::lookup(preset, provider, upstream_model, client_model);
            let route = RouteInfo {
                price: price_override(config, client_model).or(info.price),
                max_input_tokens: info.max_input_tokens,
            };
            self.routes
                .entry(provider.to_owned())
                .or_default()
                .entry(upstream_model.to_owned())
                .or_default()
                .insert(client_model.to_owned(), route);
        }
        self.find(provider, upstream_model, client_model)
            .unwrap_or(&NO_ROUTE)
    }

    fn find(&self, provider: &str, upstream_model: &str, client_model: &str) -> Option<&RouteInfo> {
        self.routes
            .get(provider)?
            .get(upstream_model)?
            .get(client_model)
    }

    /// Usage, its source, the cost and the context limit of one request.
    pub(crate) fn account(&mut self, config: &Config, rec: &Recorded) -> Accounted {
        let (Some(provider), Some(client_model)) = (&rec.provider, &rec.client_model) else {
            // Never routed: nothing was sent to a provider.
            return Accounted {
                usage: Usage::default(),
                source: SOURCE_NONE,
                cost: Some(0.0),
                context_limit: None,
            };
        };
        let upstream_model = rec.upstream_model.as_deref().unwrap_or(client_model);
        let route = self.route(config, provider, upstream_model, client_model);
        let context_limit = config
            .models
            .get(client_model)
            .and_then(|m| m.max_context_size)
            .or(route.max_input_tokens);
        let priced = |usage: Usage, source: &'static str| Accounted {
            cost: route.price.as_ref().map(|p| pricing::cost(&usage, p)),
            usage,
            source,
            context_limit,
        };
        if let Some(usage) = rec.reported {
            return priced(usage, SOURCE_REPORTED);
        }
        let unpriced = |cost| Accounted {
            usage: Usage::default(),
            source: SOURCE_NONE,
            cost,
            context_limit,
        };
        if rec.rejected_before_output() {
            return unpriced(Some(0.0));
        }
        match &rec.capture {
            Some(capture) => {
                let usage = Usage {
                    input_tokens: estimate::input_tokens(&capture.request),
                    output_tokens: estimate::output_tokens(&capture.response),
                    ..Usage::default()
                };
                priced(usage, source_estimated())
            }
            None => unpriced(None),
        }
    }
}

/// `models.<id>.price` from the config, which replaces the price table's entry.
fn price_override(config: &Config, client_model: &str) -> Option<Price> {
    config
        .models
        .get(client_model)
        .and_then(|m| m.price)
        .map(Price::from)
}

/// Adds `b` to `a`, saturating.
pub(crate) fn add_usage(a: &mut Usage, b: &Usage) {
    a.input_tokens = a.input_tokens.saturating_add(b.input_tokens);
    a.output_tokens = a.output_tokens.saturating_add(b.output_tokens);
    a.cached_input_tokens = a.cached_input_tokens.saturating_add(b.cached_input_tokens);
    a.cache_write_tokens = a.cache_write_tokens.saturating_add(b.cache_write_tokens);
    a.reasoning_tokens = a.reasoning_tokens.saturating_add(b.reasoning_tokens);
}
