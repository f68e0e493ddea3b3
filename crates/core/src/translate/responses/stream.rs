//! Canonical stream events → Responses API SSE (`event: <type>\ndata: <json>\n\n`, with a
//! `sequence_number` from 0), the events Codex CLI reads.
//!
//! What Codex does with them (codex-rs `codex-api/src/sse/responses.rs`): it acts on
//! `output_item.done` (a finished function call is executed right away), shows
//! `output_text.delta` and `reasoning_summary_text.delta`, and ends the turn on
//! `response.completed` (it reads `response.id` and `response.usage`). `response.failed`
//! becomes an error it may retry; `response.incomplete` is treated as an interrupted stream
//! and retried, which is why a length stop is sent as `response.completed` with status
//! `incomplete` (see the module docs). A stream that closes without `response.completed` is an
//! error, so `fail` always sends `response.failed`.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::response::{ItemStatus, OutputItem, Terminal, output_text_part, response_object};
use super::{ReasoningEnvelope, item_id, response_id, unix_now};
use crate::translate::canonical::{FinishReason, StreamEvent};
use crate::translate::{StreamEncoder, StreamError};
use crate::usage::Usage;

/// Encodes one response as Responses API SSE events. Text, reasoning and tool calls each
/// become an output item (`output_item.added` … `output_item.done`) with increasing
/// `output_index`; `finish` sends `response.completed` with every item and the usage.
pub struct ResponsesStreamEncoder {
    /// The model name the client asked for; reported in every `response` object.
    model: String,
    id: Option<String>,
    created_at: u64,
    next_sequence: u64,
    started: bool,
    terminated: bool,
    /// Every output item so far, by `output_index`.
    items: Vec<OutputItem>,
    open_message: Option<usize>,
    open_reasoning: Option<OpenReasoning>,
    /// Open tool calls: (canonical tool-call index, output index), in start order.
    open_tools: Vec<(usize, usize)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
}

#[derive(Clone, Copy)]
struct OpenReasoning {
    output_index: usize,
    /// Whether `reasoning_summary_part.added` was sent (only once there is text).
    part_open: bool,
}

impl ResponsesStreamEncoder {
    pub fn new(model: String) -> ResponsesStreamEncoder {
        ResponsesStreamEncoder {
            model,
            id: None,
            created_at: unix_now(),
            next_sequence: 0,
            started: false,
            terminated: false,
            items: Vec::new(),
            open_message: None,
            open_reasoning: None,
            open_tools: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    fn id(&mut self) -> String {
        self.id.get_or_insert_with(|| response_id("")).clone()
    }

    fn emit(&mut self, out: &mut BytesMut, kind: &str, mut payload: Value) {
        payload["type"] = json!(kind);
        payload["sequence_number"] = json!(self.next_sequence);
        self.next_sequence += 1;
        out.put_slice(b"event: ");
        out.put_slice(kind.as_bytes());
        out.put_slice(b"\ndata: ");
        out.put_slice(payload.to_string().as_bytes());
        out.put_slice(b"\n\n");
    }

    fn response_json(&mut self, terminal: &Terminal) -> Value {
        let id = self.id();
        // Items still open at a failure are left out: they never finished.
        let open: Vec<usize> = self.open_indices();
        let output = self
            .items
            .iter()
            .enumerate()
            .filter(|(index, _)| !open.contains(index))
            .map(|(_, item)| item.to_json())
            .collect();
        response_object(
            &id,
            &self.model,
            self.created_at,
            terminal,
            output,
            self.usage.as_ref(),
        )
    }

    fn open_indices(&self) -> Vec<usize> {
        let mut open: Vec<usize> = self.open_tools.iter().map(|(_, index)| *index).collect();
        open.extend(self.open_message);
        open.extend(self.open_reasoning.map(|r| r.output_index));
        open
    }

    fn ensure_started(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.response_json(&Terminal::InProgress);
        self.emit(out, "response.created", json!({ "response": response }));
        self.emit(out, "response.in_progress", json!({ "response": response }));
    }

    fn add_item(&mut self, out: &mut BytesMut, item: OutputItem) -> usize {
        let output_index = self.items.len();
        let json = item.to_json();
        self.items.push(item);
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": json}),
        );
        output_index
    }

    fn item_done(&mut self, out: &mut BytesMut, output_index: usize) {
        let json = self.items.get(output_index).map(OutputItem::to_json);
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": json}),
        );
    }

    fn text(&self, output_index: usize) -> (String, String) {
        match self.items.get(output_index) {
            Some(OutputItem::Message { id, text, .. } | OutputItem::Reasoning { id, text, .. }) => {
                (id.clone(), text.clone())
            }
            Some(OutputItem::FunctionCall { id, arguments, .. }) => (id.clone(), arguments.clone()),
            None => (String::new(), String::new()),
        }
    }

    fn append(&mut self, output_index: usize, delta: &str) {
        match self.items.get_mut(output_index) {
            Some(
                OutputItem::Message { text, .. }
                | OutputItem::Reasoning { text, .. }
                | OutputItem::FunctionCall {
                    arguments: text, ..
                },
            ) => text.push_str(delta),
            None => {}
        }
    }

    fn close_message(&mut self, out: &mut BytesMut, status: ItemStatus) {
        let Some(output_index) = self.open_message.take() else {
            return;
        };
        let (item_id, text) = self.text(output_index);
        let location =
            json!({"item_id": item_id, "output_index": output_index, "content_index": 0});
        let mut done = location.clone();
        done["text"] = json!(text);
        done["logprobs"] = json!([]);
        self.emit(out, "response.output_text.done", done);
        let mut part_done = location;
        part_done["part"] = output_text_part(&text);
        self.emit(out, "response.content_part.done", part_done);
        if let Some(item) = self.items.get_mut(output_index) {
            item.set_status(status);
        }
        self.item_done(out, output_index);
    }

    fn close_reasoning(&mut self, out: &mut BytesMut) {
        let Some(open) = self.open_reasoning.take() else {
            return;
        };
        if open.part_open {
            let (item_id, text) = self.text(open.output_index);
            let location =
                json!({"item_id": item_id, "output_index": open.output_index, "summary_index": 0});
            let mut done = location.clone();
            done["text"] = json!(text);
            self.emit(out, "response.reasoning_summary_text.done", done);
            let mut part_done = location;
            part_done["part"] = json!({"type": "summary_text", "text": text});
            self.emit(out, "response.reasoning_summary_part.done", part_done);
        }
        self.item_done(out, open.output_index);
    }

    fn close_tools(&mut self, out: &mut BytesMut, status: ItemStatus) {
        for (_, output_index) in std::mem::take(&mut self.open_tools) {
            let (item_id, arguments) = self.text(output_index);
            self.emit(
                out,
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": output_index, "arguments": arguments}),
            );
            if let Some(item) = self.items.get_mut(output_index) {
                item.set_status(status);
            }
            self.item_done(out, output_index);
        }
    }

    /// Closes open items in the order they were opened.
    fn close_all(&mut self, out: &mut BytesMut, status: ItemStatus) {
        let mut order: Vec<(usize, u8)> = Vec::new();
        order.extend(self.open_message.map(|i| (i, 0)));
        order.extend(self.open_reasoning.map(|r| (r.output_index, 1)));
        if let Some((_, first_tool)) = self.open_tools.first() {
            order.push((*first_tool, 2));
        }
        order.sort_unstable();
        for (_, kind) in order {
            match kind {
                0 => self.close_message(out, status),
                1 => self.close_reasoning(out),
                _ => self.close_tools(out, status),
            }
        }
    }

    fn open_reasoning(&mut self, out: &mut BytesMut) -> OpenReasoning {
        if let Some(open) = self.open_reasoning {
            return open;
        }
        self.close_all(out, ItemStatus::Completed);
        let id = self.id();
        let output_index = self.items.len();
        let item = OutputItem::Reasoning {
            id: item_id("rs", &id, output_index),
            text: String::new(),
            encrypted: None,
        };
        self.add_item(out, item);
        let open = OpenReasoning {
            output_index,
            part_open: false,
        };
        self.open_reasoning = Some(open);
        open
    }

    fn text_delta(&mut self, out: &mut BytesMut, text: &str) {
        let output_index = match self.open_message {
            Some(index) => index,
            None => {
                self.close_all(out, ItemStatus::Completed);
                let id = self.id();
                let output_index = self.items.len();
                let item = OutputItem::Message {
                    id: item_id("msg", &id, output_index),
                    text: String::new(),
                    status: ItemStatus::InProgress,
                };
                self.add_item(out, item);
                let (item_id, _) = self.text(output_index);
                self.emit(
                    out,
                    "response.content_part.added",
                    json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                           "part": output_text_part("")}),
                );
                self.open_message = Some(output_index);
                output_index
            }
        };
        self.append(output_index, text);
        let (item_id, _) = self.text(output_index);
        self.emit(
            out,
            "response.output_text.delta",
            json!({"item_id": item_id, "output_index": output_index, "content_index": 0,
                   "delta": text, "logprobs": []}),
        );
    }

    fn thinking_delta(&mut self, out: &mut BytesMut, text: &str) {
        let mut open = self.open_reasoning(out);
        let (item_id, _) = self.text(open.output_index);
        let location =
            json!({"item_id": item_id, "output_index": open.output_index, "summary_index": 0});
        if !open.part_open {
            let mut added = location.clone();
            added["part"] = json!({"type": "summary_text", "text": ""});
            self.emit(out, "response.reasoning_summary_part.added", added);
            open.part_open = true;
            self.open_reasoning = Some(open);
        }
        self.append(open.output_index, text);
        let mut delta = location;
        delta["delta"] = json!(text);
        self.emit(out, "response.reasoning_summary_text.delta", delta);
    }

    fn set_envelope(&mut self, output_index: usize, envelope: &ReasoningEnvelope) {
        if let Some(OutputItem::Reasoning { encrypted, .. }) = self.items.get_mut(output_index) {
            *encrypted = Some(envelope.encode());
        }
    }

    fn tool_call_start(&mut self, out: &mut BytesMut, index: usize, call_id: String, name: String) {
        self.close_message(out, ItemStatus::Completed);
        self.close_reasoning(out);
        if self.open_tools.iter().any(|(open, _)| *open == index) {
            // A repeated start for the same call: finish the first one, keep both visible.
            self.close_tools(out, ItemStatus::Completed);
        }
        let id = self.id();
        let output_index = self.items.len();
        let item = OutputItem::FunctionCall {
            id: item_id("fc", &id, output_index),
            call_id,
            name,
            arguments: String::new(),
            status: ItemStatus::InProgress,
        };
        self.add_item(out, item);
        self.open_tools.push((index, output_index));
    }

    fn tool_call_delta(&mut self, out: &mut BytesMut, index: usize, arguments: &str) {
        let Some(&(_, output_index)) = self.open_tools.iter().find(|(open, _)| *open == index)
        else {
            tracing::warn!("responses stream: arguments for tool call {index}, which is not open");
            return;
        };
        self.append(output_index, arguments);
        let (item_id, _) = self.text(output_index);
        self.emit(
            out,
            "response.function_call_arguments.delta",
            json!({"item_id": item_id, "output_index": output_index, "delta": arguments}),
        );
    }
}

/// Codex recognises a few error codes (`context_length_exceeded` starts a compaction,
/// `server_is_overloaded` and `rate_limit_exceeded` are retried with a delay); provider codes
/// that mean the same thing are renamed so it can.
fn codex_error_code(code: &str) -> &str {
    match code {
        "overloaded_error" | "overloaded" => "server_is_overloaded",
        "rate_limit_error" | "rate_limited" => "rate_limit_exceeded",
        other => other,
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        if self.terminated {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if !self.started {
                    self.id = Some(response_id(&id));
                }
                self.ensure_started(out);
            }
            StreamEvent::TextDelta { text } => {
                if !text.is_empty() {
                    self.ensure_started(out);
                    self.text_delta(out, &text);
                }
            }
            StreamEvent::ThinkingDelta { text } => {
                if !text.is_empty() {
                    self.ensure_started(out);
                    self.thinking_delta(out, &text);
                }
            }
            StreamEvent::ThinkingSignature { signature } => {
                self.ensure_started(out);
                let open = self.open_reasoning(out);
                self.set_envelope(open.output_index, &ReasoningEnvelope::Signature(signature));
                self.close_reasoning(out);
            }
            StreamEvent::RedactedThinking { data } => {
                self.ensure_started(out);
                self.close_all(out, ItemStatus::Completed);
                let open = self.open_reasoning(out);
                self.set_envelope(open.output_index, &ReasoningEnvelope::Redacted(data));
                self.close_reasoning(out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.ensure_started(out);
                self.tool_call_start(out, index, id, name);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                if !arguments.is_empty() {
                    self.ensure_started(out);
                    self.tool_call_delta(out, index, &arguments);
                }
            }
            StreamEvent::Finish { reason } => self.finish = Some(reason),
            StreamEvent::Usage { usage } => self.usage = Some(usage),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.terminated {
            return;
        }
        self.ensure_started(out);
        let finish = self.finish.clone().unwrap_or(FinishReason::Stop);
        // The item being written when the limit hit is the one cut short.
        let status = if finish == FinishReason::Length {
            ItemStatus::Incomplete
        } else {
            ItemStatus::Completed
        };
        self.close_all(out, status);
        let response = self.response_json(&Terminal::from_finish(&finish));
        self.emit(out, "response.completed", json!({ "response": response }));
        self.terminated = true;
    }

    fn fail(&mut self, error: &StreamError, out: &mut BytesMut) {
        if self.terminated {
            return;
        }
        self.ensure_started(out);
        // Open items are not closed: Codex runs a function call as soon as its
        // `output_item.done` arrives, and a cut-off call must never run.
        let terminal = Terminal::Failed {
            code: codex_error_code(&error.code).to_owned(),
            message: error.message.clone(),
        };
        let response = self.response_json(&terminal);
        self.emit(out, "response.failed", json!({ "response": response }));
        self.terminated = true;
    }

    fn keepalive(&self) -> &'static [u8] {
        b": keep-alive\n\n"
    }
}
