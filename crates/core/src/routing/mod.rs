//! Model routing: a client's model id → (provider, the provider's own id). Explicit mappings win,
//! then the longest `model_prefix`, then `<provider name>/<rest>`, then `default_provider`.
//! Ids are never split naively: only a configured prefix or provider name is ever removed.

use std::collections::HashMap;

use crate::config::Config;

/// Which rule matched; shown by `switchboard models` and useful in logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteRule {
    Exact,
    Prefix,
    ProviderName,
    Default,
}

/// Where one request goes. `provider` indexes `Router::providers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub provider: usize,
    pub upstream_model: String,
    pub rule: RouteRule,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}", unknown_model_message(model, suggestions))]
pub struct UnknownModel {
    pub model: String,
    pub suggestions: Vec<String>,
}

fn unknown_model_message(model: &str, suggestions: &[String]) -> String {
    let mut message = format!("model `{model}` is not configured in Switchboard");
    if suggestions.is_empty() {
        message.push_str(
            "; add a `[models.\"ID\"]` mapping, a provider `model_prefix`, or `server.default_provider`",
        );
    } else {
        let list: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
        message.push_str(&format!("; did you mean {}?", list.join(", ")));
    }
    message
}

#[derive(Debug)]
pub struct Router {
    /// Provider names, in the order their indexes refer to.
    providers: Vec<String>,
    exact: HashMap<String, (usize, String)>,
    /// Longest first, so the first match is the longest.
    prefixes: Vec<(String, usize)>,
    by_name: HashMap<String, usize>,
    default: Option<usize>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        let providers: Vec<String> = config.providers.keys().cloned().collect();
        let by_name: HashMap<String, usize> = providers
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let exact = config
            .models
            .iter()
            .filter_map(|(id, m)| Some((id.clone(), (*by_name.get(&m.provider)?, m.model.clone()))))
            .collect();
        let mut prefixes: Vec<(String, usize)> = config
            .providers
            .values()
            .filter_map(|p| Some((p.model_prefix.clone()?, *by_name.get(&p.name)?)))
            .collect();
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        let default = config
            .server
            .default_provider
            .as_ref()
            .and_then(|name| by_name.get(name).copied());
        Router {
            providers,
            exact,
            prefixes,
            by_name,
            default,
        }
    }

    pub fn provider_names(&self) -> &[String] {
        &self.providers
    }

    pub fn resolve(&self, model: &str) -> Result<Route, UnknownModel> {
        if let Some((provider, upstream)) = self.exact.get(model) {
            return Ok(Route {
                provider: *provider,
                upstream_model: upstream.clone(),
                rule: RouteRule::Exact,
            });
        }
        for (prefix, provider) in &self.prefixes {
            if let Some(rest) = model.strip_prefix(prefix.as_str())
                && !rest.is_empty()
            {
                return Ok(Route {
                    provider: *provider,
                    upstream_model: rest.to_owned(),
                    rule: RouteRule::Prefix,
                });
            }
        }
        if let Some((first, rest)) = model.split_once('/')
            && !rest.is_empty()
            && let Some(provider) = self.by_name.get(first)
        {
            return Ok(Route {
                provider: *provider,
                upstream_model: rest.to_owned(),
                rule: RouteRule::ProviderName,
            });
        }
        if let Some(provider) = self.default {
            return Ok(Route {
                provider,
                upstream_model: model.to_owned(),
                rule: RouteRule::Default,
            });
        }
        Err(UnknownModel {
            model: model.to_owned(),
            suggestions: self.suggest(model),
        })
    }

    /// Up to three configured ids that look like `model`, closest first.
    fn suggest(&self, model: &str) -> Vec<String> {
        let wanted = model.to_ascii_lowercase();
        let mut scored: Vec<(f64, &String)> = self
            .exact
            .keys()
            .map(|id| (strsim::jaro_winkler(&wanted, &id.to_ascii_lowercase()), id))
            .filter(|(score, _)| *score >= 0.75)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(3)
            .map(|(_, id)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests;
