//! The three upstream dialects of the translation end-to-end tests: the gateway config that puts an
//! OpenAI-compatible, an Anthropic and a Gemini provider on one mock, and how to read what each
//! dialect's requests carried (model, key, declared tools, tool results, user text).

use mock_upstream::{MockUpstream, RecordedRequest};
use serde_json::Value;

use crate::harness::Checks;

/// One upstream provider kind on the mock, with the client model id routed to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Upstream {
    /// The model id clients ask for.
    pub fn model(self) -> &'static str {
        match self {
            Self::OpenAi => "sb-openai",
            Self::Anthropic => "sb-anthropic",
            Self::Gemini => "sb-gemini",
        }
    }

    /// The model id the gateway must send upstream instead.
    pub fn upstream_model(self) -> &'static str {
        match self {
            Self::OpenAi => "mock-small",
            Self::Anthropic => "mock-large",
            Self::Gemini => "mock-large",
        }
    }

    /// The provider key the gateway injects (from the environment of `switchboard serve`).
    pub fn provider_key(self) -> &'static str {
        match self {
            Self::OpenAi => "sk-e2e-provider-openai-0001",
            Self::Anthropic => "sk-ant-e2e-provider-anthropic-0002",
            Self::Gemini => "AIza-e2e-provider-gemini-0003",
        }
    }

    fn key_var(self) -> &'static str {
        match self {
            Self::OpenAi => "SB_E2E_OPENAI_KEY",
            Self::Anthropic => "SB_E2E_ANTHROPIC_KEY",
            Self::Gemini => "SB_E2E_GEMINI_KEY",
        }
    }

    /// Is `r` a generation request (a chat turn) in this dialect?
    pub fn is_generation(self, r: &RecordedRequest) -> bool {
        let path = r.path.split('?').next().unwrap_or_default();
        r.method == "POST"
            && match self {
                Self::OpenAi => path.ends_with("/chat/completions"),
                Self::Anthropic => path.ends_with("/v1/messages"),
                Self::Gemini => {
                    path.ends_with(":generateContent") || path.ends_with(":streamGenerateContent")
                }
            }
    }

    /// Generation requests of this dialect, in arrival order.
    pub fn generations(self, requests: &[RecordedRequest]) -> Vec<&RecordedRequest> {
        requests.iter().filter(|r| self.is_generation(r)).collect()
    }

    /// The model a request asked for (Gemini: in the path).
    pub fn model_of(self, r: &RecordedRequest) -> Option<String> {
        match self {
            Self::OpenAi | Self::Anthropic => r.json()["model"].as_str().map(str::to_owned),
            Self::Gemini => {
                let path = r.path.split('?').next()?;
                let (_, rest) = path.split_once("/models/")?;
                rest.split(':').next().map(str::to_owned)
            }
        }
    }

    /// Was the request streamed?
    pub fn is_stream(self, r: &RecordedRequest) -> bool {
        match self {
            Self::OpenAi | Self::Anthropic => r.json()["stream"] == true,
            Self::Gemini => r.path.contains(":streamGenerateContent"),
        }
    }

    /// The tool names a request declared.
    pub fn declared_tools(self, r: &RecordedRequest) -> Vec<String> {
        let body = r.json();
        let tools = body["tools"].as_array().cloned().unwrap_or_default();
        let names = |list: &[Value], pointer: &str| -> Vec<String> {
            list.iter()
                .filter_map(|t| t.pointer(pointer).and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        };
        match self {
            Self::OpenAi => names(&tools, "/function/name"),
            Self::Anthropic => names(&tools, "/name"),
            Self::Gemini => tools
                .iter()
                .flat_map(|t| {
                    let list = t["functionDeclarations"]
                        .as_array()
                        .or_else(|| t["function_declarations"].as_array())
                        .cloned()
                        .unwrap_or_default();
                    names(&list, "/name")
                })
                .collect(),
        }
    }

    /// The texts of every tool result a request carried (anywhere in its history).
    pub fn tool_results(self, r: &RecordedRequest) -> Vec<String> {
        let body = r.json();
        match self {
            Self::OpenAi => messages(&body, "messages")
                .filter(|m| m["role"] == "tool")
                .map(|m| text_of(&m["content"]))
                .collect(),
            Self::Anthropic => messages(&body, "messages")
                .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
                .filter(|b| b["type"] == "tool_result")
                .map(|b| text_of(&b["content"]))
                .collect(),
            Self::Gemini => messages(&body, "contents")
                .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
                .filter_map(|p| {
                    p.get("functionResponse")
                        .or_else(|| p.get("function_response"))
                        .cloned()
                })
                .map(|f| f["response"].to_string())
                .collect(),
        }
    }

    /// The text of the last user turn that is not only tool results.
    pub fn last_user_text(self, r: &RecordedRequest) -> Option<String> {
        let body = r.json();
        let (list, role) = match self {
            Self::Gemini => ("contents", "user"),
            Self::OpenAi | Self::Anthropic => ("messages", "user"),
        };
        let texts: Vec<String> = messages(&body, list)
            .filter(|m| m["role"] == role)
            .map(|m| match self {
                Self::Gemini => text_of(&m["parts"]),
                Self::OpenAi | Self::Anthropic => text_of(&m["content"]),
            })
            .filter(|t| !t.is_empty())
            .collect();
        texts.last().cloned()
    }

    /// Expectations every generation request must meet: the mapped model, the provider key in this
    /// dialect's header, and none of `client_keys` anywhere in the headers or the URL.
    pub fn check_requests(self, c: &mut Checks, gens: &[&RecordedRequest], client_keys: &[&str]) {
        c.check(!gens.is_empty(), || {
            format!("the {self:?} upstream received no generation request")
        });
        for (i, r) in gens.iter().enumerate() {
            let what = format!("{self:?} upstream request #{i} ({})", r.path);
            c.eq(
                &format!("{what}: model"),
                self.model_of(r).as_deref(),
                Some(self.upstream_model()),
            );
            let (header, expected) = match self {
                Self::OpenAi => ("authorization", format!("Bearer {}", self.provider_key())),
                Self::Anthropic => ("x-api-key", self.provider_key().to_owned()),
                Self::Gemini => ("x-goog-api-key", self.provider_key().to_owned()),
            };
            c.eq(
                &format!("{what}: {header}"),
                r.header(header),
                Some(expected.as_str()),
            );
            if self != Self::OpenAi {
                c.check(r.header("authorization").is_none(), || {
                    format!(
                        "{what}: an Authorization header reached a {self:?} upstream: {:?}",
                        r.header("authorization")
                    )
                });
            }
            for key in client_keys {
                c.check(
                    !r.headers.iter().any(|(_, v)| v.contains(key)) && !r.path.contains(key),
                    || format!("{what}: the client's key {key:?} reached the upstream"),
                );
            }
        }
    }
}

fn messages<'v>(body: &'v Value, field: &str) -> impl Iterator<Item = &'v Value> {
    body[field].as_array().into_iter().flatten()
}

/// Text of a content value in any of the three dialects: a string, or a list of parts/blocks with
/// `text` (tool results nested in blocks count too).
pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                _ => p["text"].as_str().map_or_else(String::new, str::to_owned),
            })
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The gateway config: one provider per dialect on the same mock, each with a key from the
/// environment, and one client model id routed to each.
pub fn gateway_config(mock: &MockUpstream) -> String {
    let root = mock.root_url();
    let openai = mock.base_url();
    let mut config = format!(
        r#"[server]
listen = "127.0.0.1:0"

[providers.mock-openai]
api = "openai"
base_url = "{openai}"
api_key = "env:{openai_key}"

[providers.mock-anthropic]
api = "anthropic"
base_url = "{root}"
api_key = "env:{anthropic_key}"

[providers.mock-gemini]
api = "gemini"
base_url = "{root}/v1beta"
api_key = "env:{gemini_key}"
"#,
        openai_key = Upstream::OpenAi.key_var(),
        anthropic_key = Upstream::Anthropic.key_var(),
        gemini_key = Upstream::Gemini.key_var(),
    );
    for (kind, provider) in [
        (Upstream::OpenAi, "mock-openai"),
        (Upstream::Anthropic, "mock-anthropic"),
        (Upstream::Gemini, "mock-gemini"),
    ] {
        config.push_str(&format!(
            "\n[models.\"{}\"]\nprovider = \"{provider}\"\nmodel = \"{}\"\n",
            kind.model(),
            kind.upstream_model()
        ));
    }
    config
}

/// The environment `switchboard serve` needs for [`gateway_config`].
pub fn gateway_env() -> Vec<(&'static str, &'static str)> {
    [Upstream::OpenAi, Upstream::Anthropic, Upstream::Gemini]
        .into_iter()
        .map(|kind| (kind.key_var(), kind.provider_key()))
        .collect()
}

/// A compact listing of what the mock received, for failure messages.
pub fn describe_requests(requests: &[RecordedRequest]) -> String {
    let mut out = format!(
        "--- the mock upstream received {} request(s) ---\n",
        requests.len()
    );
    for r in requests {
        let kind = [Upstream::OpenAi, Upstream::Anthropic, Upstream::Gemini]
            .into_iter()
            .find(|k| k.is_generation(r));
        let summary = kind.map_or_else(String::new, |k| {
            let tools = k.declared_tools(r);
            format!(
                " [{k:?}] model={:?} stream={} tools={} (first: {:?}) tool_results={:?} last_user_text={:?}",
                k.model_of(r),
                k.is_stream(r),
                tools.len(),
                tools.first(),
                k.tool_results(r),
                k.last_user_text(r).map(|t| clip(&t, 160)),
            )
        });
        out.push_str(&format!("{} {}{summary}\n", r.method, r.path));
    }
    out
}

/// At most `max` characters of `text`, marking a cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}…")
}
