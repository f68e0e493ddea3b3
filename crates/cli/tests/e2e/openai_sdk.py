"""Drives a Switchboard gateway with the official `openai` Python SDK (end-to-end test client).

Usage: python openai_sdk.py BASE_URL   (BASE_URL = gateway + "/v1")

Runs each scenario below, and prints ONE JSON object on stdout: scenario name -> what the SDK saw
(or {"error": "..."} if the scenario raised). The Rust test (tests/e2e_clients.rs) asserts on it
and on what the mock upstream received. The script asserts nothing itself, so one broken feature
does not hide the others. Exit status 0 unless the script itself is broken.

Every scenario uses its own prompt (PROMPTS below) so the Rust side can find the matching upstream
request in the mock's recording.
"""

import json
import sys
import traceback

import openai

MODEL = "gpt-4o-mini"
CLIENT_API_KEY = "sk-e2e-client-key-must-not-be-forwarded"

PROMPTS = {
    "chat": "e2e non-stream chat",
    "stream_usage": "e2e stream with usage",
    "stream_no_usage": "e2e stream without usage",
    "tool_call": "e2e tool call: what is the weather in Paris?",
}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
]

TOOL_RESULT = '{"temperature_c": 21, "sky": "clear"}'


def dump(obj):
    """pydantic model (or None) -> plain JSON value."""
    if obj is None:
        return None
    return obj.model_dump(mode="json", exclude_none=True)


def list_models(client):
    page = client.models.list()
    return {"ids": [m.id for m in page.data]}


def chat(client):
    resp = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": PROMPTS["chat"]}]
    )
    choice = resp.choices[0]
    return {
        "model": resp.model,
        "content": choice.message.content,
        "finish_reason": choice.finish_reason,
        "usage": dump(resp.usage),
    }


def collect_stream(stream):
    """Reassembles a chat completion stream the way applications do, keeping the raw facts."""
    content = []
    finish_reasons = []
    usages = []
    chunks = 0
    chunks_after_usage = 0
    tool_calls = {}  # index -> {"id", "name", "arguments"}
    argument_deltas = 0
    for chunk in stream:
        chunks += 1
        if usages:
            chunks_after_usage += 1
        if chunk.usage is not None:
            usages.append(dump(chunk.usage))
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    content.append(delta.content)
                for tc in delta.tool_calls or []:
                    slot = tool_calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
                    if tc.id:
                        slot["id"] = tc.id
                    if tc.function is not None:
                        if tc.function.name:
                            slot["name"] = (slot["name"] or "") + tc.function.name
                        if tc.function.arguments:
                            slot["arguments"] += tc.function.arguments
                            argument_deltas += 1
            if choice.finish_reason is not None:
                finish_reasons.append(choice.finish_reason)
    return {
        "content": "".join(content),
        "finish_reasons": finish_reasons,
        "usages": usages,
        "chunks": chunks,
        "chunks_after_usage": chunks_after_usage,
        "tool_calls": [tool_calls[i] for i in sorted(tool_calls)],
        "argument_deltas": argument_deltas,
    }


def stream_usage(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS["stream_usage"]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    return collect_stream(stream)


def stream_no_usage(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS["stream_no_usage"]}],
        stream=True,
    )
    return collect_stream(stream)


def tool_call(client):
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": PROMPTS["tool_call"]}],
        tools=TOOLS,
        stream=True,
    )
    result = collect_stream(stream)
    for tc in result["tool_calls"]:
        try:
            tc["arguments_json"] = json.loads(tc["arguments"])
            tc["arguments_valid_json"] = True
        except ValueError as e:
            tc["arguments_valid_json"] = False
            tc["arguments_error"] = str(e)
    return result


def tool_result(client, call):
    """Sends the tool call back with its result (non-streaming) and returns the final answer."""
    if call is None:
        raise RuntimeError("skipped: the tool_call scenario produced no tool call")
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
    resp = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    choice = resp.choices[0]
    return {
        "content": choice.message.content,
        "finish_reason": choice.finish_reason,
        "tool_calls": [dump(tc) for tc in (choice.message.tool_calls or [])],
        "usage": dump(resp.usage),
        "expected_tool_result": TOOL_RESULT,
    }


def run(name, results, fn, *args):
    try:
        results[name] = fn(*args)
    except Exception as e:  # report and go on: the Rust test shows every failure at once
        results[name] = {
            "error": f"{type(e).__name__}: {e}",
            "traceback": traceback.format_exc(),
        }


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} BASE_URL", file=sys.stderr)
        return 2
    # No retries: a retry would re-send a request and blur what the mock upstream recorded.
    client = openai.OpenAI(base_url=sys.argv[1], api_key=CLIENT_API_KEY, max_retries=0, timeout=30.0)
    results = {"sdk_version": openai.__version__, "client_api_key": CLIENT_API_KEY, "prompts": PROMPTS}
    run("models", results, list_models, client)
    run("chat", results, chat, client)
    run("stream_usage", results, stream_usage, client)
    run("stream_no_usage", results, stream_no_usage, client)
    run("tool_call", results, tool_call, client)
    calls = results["tool_call"].get("tool_calls") or [None]
    run("tool_result", results, tool_result, client, calls[0])
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
