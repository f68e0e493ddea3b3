//! Expectations on the report of tests/e2e/sdk_tools.py (what the `openai` or `anthropic` SDK saw)
//! and on what the mock upstream received meanwhile.

use mock_upstream::RecordedRequest;
use serde_json::Value;

use crate::harness::Checks;
use crate::upstreams::Upstream;

/// Text, streamed tool call, tool result (and count_tokens for the anthropic SDK), both sides.
pub fn check(c: &mut Checks, kind: Upstream, report: &Value, requests: &[RecordedRequest]) {
    let anthropic = report["sdk"] == "anthropic";
    let mut steps = vec!["text", "tool_call", "tool_result"];
    if anthropic {
        steps.push("count_tokens");
    }
    for step in &steps {
        let error = &report[*step]["error"];
        c.check(error.is_null(), || {
            format!("{step}: the SDK raised {error}")
        });
    }
    let prompt = |step: &str| {
        report["prompts"][step]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let tool_result_text = report["tool_result_text"].as_str().unwrap_or("<missing>");
    let marker = tool_result_text
        .split(':')
        .next()
        .unwrap_or(tool_result_text);
    // How each SDK says why a turn ended.
    let ended = |step: &str| -> Value {
        if anthropic {
            report[step]["stop_reason"].clone()
        } else {
            report[step]["finish_reasons"].clone()
        }
    };
    let (stop, tool_use) = if anthropic {
        (serde_json::json!("end_turn"), serde_json::json!("tool_use"))
    } else {
        (
            serde_json::json!(["stop"]),
            serde_json::json!(["tool_calls"]),
        )
    };

    let text = &report["text"];
    c.eq(
        "text.content",
        text["content"].as_str(),
        Some(format!("Mock reply to: {}", prompt("text")).as_str()),
    );
    c.eq("text: end", ended("text"), stop.clone());
    if !anthropic {
        c.eq(
            "text: chunks with usage (include_usage)",
            text["usages"].as_array().map(Vec::len),
            Some(1),
        );
    }
    // The usage the client saw is the usage the upstream reported, whatever the dialects.
    let sent = kind
        .generations(requests)
        .first()
        .and_then(|r| r.sent_usage)
        .map(|u| (u.prompt_tokens, u.completion_tokens));
    let seen = if anthropic {
        let u = &text["usage"];
        u["input_tokens"].as_u64().zip(u["output_tokens"].as_u64())
    } else {
        let u = &text["usages"][0];
        u["prompt_tokens"]
            .as_u64()
            .zip(u["completion_tokens"].as_u64())
    };
    c.check(sent.is_some(), || {
        "text: the mock recorded no usage for the first request".to_owned()
    });
    c.eq("text: (input, output) tokens vs the mock's", seen, sent);

    let calls = report["tool_call"]["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    c.eq("tool_call: number of tool calls", calls.len(), 1);
    c.eq("tool_call: end", ended("tool_call"), tool_use);
    if let Some(call) = calls.first() {
        c.eq("tool_call.name", call["name"].as_str(), Some("get_weather"));
        c.check(call["id"].as_str().is_some_and(|id| !id.is_empty()), || {
            format!("tool_call: no id in {call}")
        });
        c.eq(
            "tool_call.arguments",
            &call["arguments_json"],
            &serde_json::json!({"city": "Paris"}),
        );
    }
    let final_text = report["tool_result"]["content"]
        .as_str()
        .unwrap_or_default();
    c.check(
        final_text.starts_with("Mock reply to tool result:") && final_text.contains(marker),
        || format!("tool_result: the final answer {final_text:?} does not quote {marker:?}"),
    );
    c.eq("tool_result: end", ended("tool_result"), stop);
    if anthropic {
        c.check(
            report["count_tokens"]["input_tokens"]
                .as_u64()
                .is_some_and(|n| n > 0),
            || format!("count_tokens: {}", report["count_tokens"]),
        );
    }

    // Upstream: three streamed generations (text, tool call, tool result), keys and models right.
    let client_key = report["client_api_key"].as_str().unwrap_or("sk-e2e-sdk");
    let gens = kind.generations(requests);
    kind.check_requests(c, &gens, &[client_key]);
    for r in requests {
        c.check(
            !r.headers.iter().any(|(_, v)| v.contains(client_key)) && !r.path.contains(client_key),
            || {
                format!(
                    "{} {}: the client's key reached the upstream",
                    r.method, r.path
                )
            },
        );
    }
    c.eq("number of upstream generation requests", gens.len(), 3);
    c.check(gens.iter().all(|r| kind.is_stream(r)), || {
        "every client stream must be streamed upstream too".to_owned()
    });
    c.check(
        gens.first().is_some_and(|r| {
            kind.last_user_text(r) == Some(prompt("text")) && kind.declared_tools(r).is_empty()
        }),
        || "upstream #0 is not the text prompt without tools".to_owned(),
    );
    c.check(
        gens.get(1)
            .is_some_and(|r| kind.declared_tools(r) == ["get_weather"]),
        || format!("upstream #1 did not declare exactly `get_weather` ({kind:?} shape)"),
    );
    c.check(
        gens.get(2)
            .is_some_and(|r| kind.tool_results(r).iter().any(|t| t.contains(marker))),
        || format!("upstream #2 carried no tool result containing {marker:?}"),
    );
}
