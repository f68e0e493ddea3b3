//! A Messages API request: parsed, checked the way Anthropic checks it (required fields, roles,
//! thinking budget and signatures, `tool_use`/`tool_result` pairing), and read for what shapes the answer.

use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::THINKING_SIGNATURE;
use crate::synth;
use crate::turn::Seed;

/// Smallest `thinking.budget_tokens` Anthropic accepts.
const MIN_THINKING_BUDGET: u64 = 1024;
/// Share of the prompt reported as read from (or written to) the prompt cache, in quarters.
const CACHED_QUARTERS: u64 = 3;

#[derive(Deserialize)]
pub(super) struct MessagesRequest {
    model: Option<String>,
    max_tokens: Option<u64>,
    messages: Option<Vec<Message>>,
    #[serde(default)]
    system: Option<Value>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    tool_choice: Option<Value>,
    #[serde(default)]
    thinking: Option<Value>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stop_sequences: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Value,
}

/// Which endpoint the request came to (`count_tokens` needs no `max_tokens`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoint {
    Messages,
    CountTokens,
}

/// What the request's headers allow.
#[derive(Clone, Copy)]
pub(super) struct Betas {
    /// `anthropic-beta: mid-conversation-system-…`: `system` messages among the others.
    pub system_messages: bool,
}

impl Betas {
    /// Reads every `anthropic-beta` header (each a comma-separated list).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut betas = headers
            .get_all("anthropic-beta")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim);
        Self {
            system_messages: betas.any(|beta| beta.starts_with("mid-conversation-system")),
        }
    }
}

/// How the prompt meets the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cache {
    None,
    /// The system prompt carries `cache_control`: a prefix is read from the cache.
    Read,
    /// Only later blocks carry `cache_control`: a prefix is written to the cache.
    Write,
}

/// Parses the body; the error is the message of Anthropic's `invalid_request_error`.
pub(super) fn parse(body: &[u8]) -> Result<MessagesRequest, String> {
    serde_json::from_slice(body)
        .map_err(|e| format!("There was an error parsing the body of your request: {e}"))
}

/// Consecutive messages of one role, as Anthropic merges them (`system` messages left out).
struct RoleTurn<'r> {
    role: &'r str,
    /// Index of its first message.
    index: usize,
    /// `type` of its first content block (`text` for string content).
    first_type: &'r str,
    blocks: Vec<&'r Value>,
}

impl<'r> RoleTurn<'r> {
    fn ids_of(&self, kind: &str, field: &str) -> Vec<&'r str> {
        self.blocks
            .iter()
            .filter(|b| block_type(b) == kind)
            .filter_map(|b| b.get(field).and_then(Value::as_str))
            .collect()
    }

    fn has(&self, kind: &str) -> bool {
        self.blocks.iter().any(|b| block_type(b) == kind)
    }
}

/// A request that passed Anthropic's checks.
pub(super) struct Valid<'r> {
    pub model: &'r str,
    request: &'r MessagesRequest,
    messages: &'r [Message],
    turns: Vec<RoleTurn<'r>>,
}

/// Checks `request` as Anthropic would; the error is the message of an `invalid_request_error`.
pub(super) fn validate(
    request: &MessagesRequest,
    endpoint: Endpoint,
    betas: Betas,
) -> Result<Valid<'_>, String> {
    let model = request
        .model
        .as_deref()
        .ok_or_else(|| "model: Field required".to_owned())?;
    if endpoint == Endpoint::Messages && request.max_tokens.is_none() {
        return Err("max_tokens: Field required".to_owned());
    }
    let messages = request
        .messages
        .as_deref()
        .ok_or_else(|| "messages: Field required".to_owned())?;
    if messages.is_empty() {
        return Err(
            "messages: List should have at least 1 item after validation, not 0".to_owned(),
        );
    }
    for (i, message) in messages.iter().enumerate() {
        match message.role.as_str() {
            "user" | "assistant" => {}
            "system" if betas.system_messages => {}
            "system" => {
                return Err(format!(
                    "messages.{i}.role: Unexpected role \"system\". The Messages API accepts a \
                     top-level `system` parameter, not \"system\" as an input message role."
                ));
            }
            _ => {
                return Err(format!(
                    "messages.{i}.role: Input should be 'user' or 'assistant'"
                ));
            }
        }
        if message.content.is_null() {
            return Err(format!("messages.{i}.content: Field required"));
        }
    }
    check_thinking_config(request, endpoint)?;
    check_signatures(messages)?;
    let valid = Valid {
        model,
        request,
        messages,
        turns: role_turns(messages),
    };
    valid.check_tool_pairing()?;
    if valid.thinking_kind() == Some("enabled") {
        valid.check_thinking_leads_tool_turn()?;
    }
    Ok(valid)
}

fn check_thinking_config(request: &MessagesRequest, endpoint: Endpoint) -> Result<(), String> {
    let Some(thinking) = &request.thinking else {
        return Ok(());
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => {
            let Some(budget) = thinking.get("budget_tokens").and_then(Value::as_u64) else {
                return Err("thinking.enabled.budget_tokens: Field required".to_owned());
            };
            if budget < MIN_THINKING_BUDGET {
                return Err(format!(
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to \
                     {MIN_THINKING_BUDGET}"
                ));
            }
            let max_tokens = request.max_tokens.unwrap_or(u64::MAX);
            if endpoint == Endpoint::Messages && max_tokens <= budget {
                return Err("`max_tokens` must be greater than `thinking.budget_tokens`. Please \
                            consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
                    .to_owned());
            }
            Ok(())
        }
        Some("disabled" | "adaptive") => Ok(()),
        other => Err(format!(
            "thinking: Input tag '{}' found using 'type' does not match any of the expected tags: \
             'adaptive', 'disabled', 'enabled'",
            other.unwrap_or_default()
        )),
    }
}

/// Thinking blocks sent back must carry the signature the mock gave them.
fn check_signatures(messages: &[Message]) -> Result<(), String> {
    for (i, message) in messages.iter().enumerate() {
        if message.role != "assistant" {
            continue;
        }
        for (j, block) in blocks(&message.content).enumerate() {
            if block_type(block) == "thinking"
                && block.get("signature").and_then(Value::as_str) != Some(THINKING_SIGNATURE)
            {
                return Err(format!(
                    "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                ));
            }
        }
    }
    Ok(())
}

fn role_turns(messages: &[Message]) -> Vec<RoleTurn<'_>> {
    let mut turns: Vec<RoleTurn<'_>> = Vec::with_capacity(messages.len());
    for (index, message) in messages.iter().enumerate() {
        if message.role == "system" {
            continue;
        }
        let content = blocks(&message.content);
        match turns.last_mut() {
            Some(turn) if turn.role == message.role => turn.blocks.extend(content),
            _ => {
                let first_type = match &message.content {
                    Value::Array(items) => items.first().map_or("text", |b| block_type(b)),
                    _ => "text",
                };
                turns.push(RoleTurn {
                    role: &message.role,
                    index,
                    first_type,
                    blocks: content.collect(),
                });
            }
        }
    }
    turns
}

impl<'r> Valid<'r> {
    /// Every `tool_use` is answered by a `tool_result` in the next turn, and every `tool_result`
    /// answers a `tool_use` of the previous turn.
    fn check_tool_pairing(&self) -> Result<(), String> {
        for (t, turn) in self.turns.iter().enumerate() {
            let next = self.turns.get(t + 1);
            if turn.role == "assistant"
                && let Some(next) = next
            {
                let results = next.ids_of("tool_result", "tool_use_id");
                let missing: Vec<&str> = turn
                    .ids_of("tool_use", "id")
                    .into_iter()
                    .filter(|id| !results.contains(id))
                    .collect();
                if !missing.is_empty() {
                    return Err(format!(
                        "messages.{}: `tool_use` ids were found without `tool_result` blocks \
                         immediately after: {}. Each `tool_use` block must have a corresponding \
                         `tool_result` block in the next message.",
                        next.index,
                        missing.join(", ")
                    ));
                }
            }
            if turn.role == "user" {
                let uses = match t.checked_sub(1).and_then(|p| self.turns.get(p)) {
                    Some(previous) => previous.ids_of("tool_use", "id"),
                    None => Vec::new(),
                };
                if let Some(stray) = turn
                    .ids_of("tool_result", "tool_use_id")
                    .into_iter()
                    .find(|id| !uses.contains(id))
                {
                    return Err(format!(
                        "messages.{}: unexpected `tool_use_id` found in `tool_result` blocks: \
                         {stray}. Each `tool_result` block must have a corresponding `tool_use` \
                         block in the previous message.",
                        turn.index
                    ));
                }
            }
        }
        Ok(())
    }

    /// With thinking `enabled` (not `adaptive`, where the model may skip thinking), an assistant
    /// turn whose tool calls are being answered must start with its thinking block.
    fn check_thinking_leads_tool_turn(&self) -> Result<(), String> {
        let [.., assistant, last] = self.turns.as_slice() else {
            return Ok(());
        };
        if last.role != "user" || !last.has("tool_result") || !assistant.has("tool_use") {
            return Ok(());
        }
        if matches!(assistant.first_type, "thinking" | "redacted_thinking") {
            return Ok(());
        }
        Err(format!(
            "messages.{}.content.0.type: Expected `thinking` or `redacted_thinking`, but found \
             `{}`. When `thinking` is enabled, a final `assistant` message must start with a \
             thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). \
             We recommend you include thinking blocks from previous turns. To avoid this \
             requirement, disable `thinking`. Please consult our documentation at \
             https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
            assistant.index, assistant.first_type
        ))
    }

    fn thinking_kind(&self) -> Option<&'r str> {
        let kind = self.request.thinking.as_ref().and_then(|t| t.get("type"));
        kind.and_then(Value::as_str)
    }

    /// Whether the request turns thinking on (`enabled` or `adaptive`).
    pub fn thinking(&self) -> bool {
        matches!(self.thinking_kind(), Some("enabled" | "adaptive"))
    }

    pub fn stream(&self) -> bool {
        self.request.stream == Some(true)
    }

    pub fn max_tokens(&self) -> Option<u64> {
        self.request.max_tokens
    }

    pub fn stop_sequences(&self) -> &'r [String] {
        self.request.stop_sequences.as_deref().unwrap_or_default()
    }

    /// Input tokens of the whole prompt (system, tools, messages): a quarter of its characters,
    /// rounded up, plus 3 per message.
    pub fn prompt_tokens(&self) -> u64 {
        let system = self
            .request
            .system
            .as_ref()
            .map_or(0, |s| text_of(s).chars().count());
        let tools: usize = self
            .request
            .tools
            .iter()
            .flatten()
            .map(|tool| tool.to_string().chars().count())
            .sum();
        let messages: usize = self
            .messages
            .iter()
            .map(|m| content_chars(&m.content))
            .sum();
        synth::prompt_tokens(system + tools + messages, self.messages.len())
    }

    /// Where `cache_control` breakpoints put the prompt in the cache.
    pub fn cache(&self) -> Cache {
        let marked = |block: &Value| block.get("cache_control").is_some();
        let system = self.request.system.as_ref().map(blocks);
        if system.is_some_and(|mut blocks| blocks.any(marked)) {
            return Cache::Read;
        }
        let tools = self.request.tools.iter().flatten().any(marked);
        let messages = self.messages.iter().any(|m| blocks(&m.content).any(marked));
        if tools || messages {
            Cache::Write
        } else {
            Cache::None
        }
    }

    /// Prompt tokens read from or written to the cache: a fixed share of the prompt.
    pub fn cached_tokens(&self) -> u64 {
        match self.cache() {
            Cache::None => 0,
            Cache::Read | Cache::Write => self.prompt_tokens() * CACHED_QUARTERS / 4,
        }
    }

    /// What the answer replies to: the tool results of a last user turn, else its text.
    pub fn seed(&self) -> Seed {
        if let Some(last) = self
            .turns
            .last()
            .filter(|t| t.role == "user" && t.has("tool_result"))
        {
            let results: Vec<String> = last
                .blocks
                .iter()
                .filter(|b| block_type(b) == "tool_result")
                .map(|b| b.get("content").map(text_of).unwrap_or_default())
                .collect();
            return Seed::ToolResult(results.join("\n"));
        }
        let user = self.messages.iter().rev().find(|m| m.role == "user");
        Seed::UserText(user.map(|m| text_of(&m.content)).unwrap_or_default())
    }

    /// The tool to call: when the last turn is the user's text and `tool_choice` allows one, the
    /// tool it names, else the first tool with an `input_schema`.
    pub fn tool(&self) -> Option<(&'r str, Option<&'r Value>)> {
        let last = self.turns.last()?;
        if last.role != "user" || last.has("tool_result") {
            return None;
        }
        let tools = self.request.tools.as_deref()?;
        let choice = self.request.tool_choice.as_ref();
        let name = |tool: &'r Value| tool.get("name").and_then(Value::as_str);
        let tool = match choice.and_then(|c| c.get("type")).and_then(Value::as_str) {
            Some("none") => return None,
            Some("tool") => {
                let wanted = choice.and_then(|c| c.get("name")).and_then(Value::as_str);
                tools.iter().find(|t| name(t) == wanted)?
            }
            _ => tools
                .iter()
                .find(|t| t.get("input_schema").is_some())
                .or_else(|| tools.first())?,
        };
        Some((name(tool)?, tool.get("input_schema")))
    }
}

/// The content blocks of a message (none for string content).
fn blocks(content: &Value) -> impl Iterator<Item = &Value> {
    content.as_array().into_iter().flatten()
}

fn block_type(block: &Value) -> &str {
    block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A string, or the concatenated `text` of text blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .filter(|b| block_type(b) == "text")
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Characters a message's content counts for: texts, tool calls (name and input), tool results
/// and thinking.
fn content_chars(content: &Value) -> usize {
    match content {
        Value::String(text) => text.chars().count(),
        Value::Array(items) => items
            .iter()
            .map(|block| match block_type(block) {
                "text" => block
                    .get("text")
                    .and_then(Value::as_str)
                    .map_or(0, |t| t.chars().count()),
                "tool_use" => {
                    let name = block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let input = block.get("input").map(Value::to_string).unwrap_or_default();
                    name.chars().count() + input.chars().count()
                }
                "tool_result" => block
                    .get("content")
                    .map_or(0, |c| text_of(c).chars().count()),
                "thinking" => block
                    .get("thinking")
                    .and_then(Value::as_str)
                    .map_or(0, |t| t.chars().count()),
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}
