"""Streams with tools through a Switchboard gateway with an official SDK (translation e2e client).

Usage: python sdk_tools.py openai|anthropic GATEWAY_URL MODEL
  openai:    the `openai` SDK on GATEWAY_URL/v1 (chat completions)
  anthropic: the `anthropic` SDK on GATEWAY_URL (it appends /v1/messages itself)

Scenarios (each with its own prompt, so the Rust side can find the upstream request):
  text         a streamed plain answer
  tool_call    a streamed answer to a prompt with one tool: the mock calls it
  tool_result  the call sent back with its result (streamed): the mock's answer quotes the result
  count_tokens (anthropic only) POST /v1/messages/count_tokens

Prints ONE JSON object on stdout (scenario -> what the SDK saw, or {"error": ...}); asserts
nothing itself, so one broken feature does not hide the others (tests/e2e_translate.rs asserts).
"""

import json
import sys
import traceback

CLIENT_API_KEY = "sk-e2e-sdk-client-key-must-not-be-forwarded"
PROMPTS = {
    "text": "e2e sdk stream text",
    "tool_call": "e2e sdk tool call: what is the weather in Paris?",
    "count_tokens": "e2e sdk count my tokens",
}
# Plain text with a marker: whatever shape a dialect gives a tool result (a string, text blocks, a
# Gemini `response` object), the mock's answer quotes it and the marker survives.
TOOL_RESULT = "e2e-tool-result-7f3a: 21 C and clear"
TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "Current weather for a city"
TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"}},
    "required": ["city"],
}


def parse_arguments(call):
    try:
        call["arguments_json"] = json.loads(call["arguments"]) if call["arguments"] else {}
        call["arguments_valid_json"] = True
    except ValueError as e:
        call["arguments_valid_json"] = False
        call["arguments_error"] = str(e)
    return call


# ---- openai ---------------------------------------------------------------------------------------
def openai_scenarios(base, model):
    import openai

    client = openai.OpenAI(base_url=base + "/v1", api_key=CLIENT_API_KEY, max_retries=0, timeout=60.0)
    tools = [
        {
            "type": "function",
            "function": {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "parameters": TOOL_SCHEMA},
        }
    ]

    def collect(stream):
        content, finish, usages, calls, chunks = [], [], [], {}, 0
        for chunk in stream:
            chunks += 1
            if chunk.usage is not None:
                usages.append(chunk.usage.model_dump(mode="json", exclude_none=True))
            for choice in chunk.choices:
                delta = choice.delta
                if delta is not None:
                    if delta.content:
                        content.append(delta.content)
                    for tc in delta.tool_calls or []:
                        slot = calls.setdefault(tc.index, {"id": None, "name": "", "arguments": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["name"] += tc.function.name or ""
                            slot["arguments"] += tc.function.arguments or ""
                if choice.finish_reason is not None:
                    finish.append(choice.finish_reason)
        return {
            "content": "".join(content),
            "finish_reasons": finish,
            "usages": usages,
            "chunks": chunks,
            "tool_calls": [parse_arguments(calls[i]) for i in sorted(calls)],
        }

    def text():
        return collect(
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": PROMPTS["text"]}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    def tool_call():
        return collect(
            client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": PROMPTS["tool_call"]}],
                tools=tools,
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    def tool_result(call):
        messages = [
            {"role": "user", "content": PROMPTS["tool_call"]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call["id"], "content": TOOL_RESULT},
        ]
        return collect(
            client.chat.completions.create(model=model, messages=messages, tools=tools, stream=True)
        )

    return openai.__version__, text, tool_call, tool_result, None


# ---- anthropic ------------------------------------------------------------------------------------
def anthropic_scenarios(base, model):
    import anthropic

    client = anthropic.Anthropic(base_url=base, api_key=CLIENT_API_KEY, max_retries=0, timeout=60.0)
    tools = [{"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "input_schema": TOOL_SCHEMA}]

    def collect(**kwargs):
        event_types = []
        with client.messages.stream(model=model, max_tokens=1024, **kwargs) as stream:
            for event in stream:
                event_types.append(event.type)
            final = stream.get_final_message()
        calls = [
            parse_arguments({"id": b.id, "name": b.name, "arguments": json.dumps(b.input), "input": b.input})
            for b in final.content
            if b.type == "tool_use"
        ]
        return {
            "content": "".join(b.text for b in final.content if b.type == "text"),
            "block_types": [b.type for b in final.content],
            "stop_reason": final.stop_reason,
            "model": final.model,
            "usage": final.usage.model_dump(mode="json", exclude_none=True),
            "event_types": sorted(set(event_types)),
            "tool_calls": calls,
        }

    def text():
        return collect(messages=[{"role": "user", "content": PROMPTS["text"]}])

    def tool_call():
        return collect(messages=[{"role": "user", "content": PROMPTS["tool_call"]}], tools=tools)

    def tool_result(call):
        messages = [
            {"role": "user", "content": PROMPTS["tool_call"]},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": call["id"], "name": call["name"], "input": call["input"]}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": TOOL_RESULT}],
            },
        ]
        return collect(messages=messages, tools=tools)

    def count_tokens():
        resp = client.messages.count_tokens(
            model=model, messages=[{"role": "user", "content": PROMPTS["count_tokens"]}], tools=tools
        )
        return {"input_tokens": resp.input_tokens}

    return anthropic.__version__, text, tool_call, tool_result, count_tokens


def run(name, results, fn, *args):
    try:
        results[name] = fn(*args)
    except Exception as e:  # report and go on: the Rust test shows every failure at once
        results[name] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("openai", "anthropic"):
        print(f"usage: {sys.argv[0]} openai|anthropic GATEWAY_URL MODEL", file=sys.stderr)
        return 2
    sdk, base, model = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3]
    scenarios = openai_scenarios if sdk == "openai" else anthropic_scenarios
    version, text, tool_call, tool_result, count_tokens = scenarios(base, model)
    results = {
        "sdk": sdk,
        "sdk_version": version,
        "client_api_key": CLIENT_API_KEY,
        "prompts": PROMPTS,
        "tool_result_text": TOOL_RESULT,
    }
    run("text", results, text)
    run("tool_call", results, tool_call)
    calls = results["tool_call"].get("tool_calls") or []
    if calls:
        run("tool_result", results, tool_result, calls[0])
    else:
        results["tool_result"] = {"error": "skipped: the tool_call scenario produced no tool call"}
    if count_tokens is not None:
        run("count_tokens", results, count_tokens)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
