"""The official OpenAI Python client against iogrid's gateway.

Run by tests/tests/gateway_e2e.rs, one step per call:

    python openai_gateway.py STEP --base-url http://127.0.0.1:48790 --key iog-... [--model M]

Each step asserts shapes, status codes and token accounting (never the
model's facts) and prints one JSON line with what it measured.
"""

import argparse
import json
import sys

import openai
from openai import OpenAI


def client(args, key=None):
    # No retries: each refusal must reach the assertion as the gateway sent it.
    return OpenAI(base_url=f"{args.base_url}/v1", api_key=key or args.key, max_retries=0, timeout=120)


def ask(args, content="Say hello in three words.", max_tokens=12, **extra):
    return client(args).chat.completions.create(
        model=args.model,
        messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": content}],
        max_tokens=max_tokens,
        **extra,
    )


def check_usage(usage, max_completion):
    assert usage.prompt_tokens > 0, usage
    assert 0 < usage.completion_tokens <= max_completion, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage
    return usage.total_tokens


def step_basics(args):
    models = client(args).models.list()
    ids = [model.id for model in models.data]
    assert args.model in ids, ids

    answer = ask(args)
    assert answer.object == "chat.completion", answer
    assert answer.model == args.model, answer.model
    choice = answer.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content, choice
    assert choice.finish_reason in ("stop", "length"), choice.finish_reason
    billed = check_usage(answer.usage, 12)

    roles, pieces, usage, finish = [], [], None, None
    stream = ask(args, max_tokens=10, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk", chunk
        if chunk.usage is not None:
            assert chunk.choices == [], chunk
            usage = chunk.usage
            continue
        delta = chunk.choices[0].delta
        if delta.role:
            roles.append(delta.role)
        if delta.content:
            pieces.append(delta.content)
        if chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert roles == ["assistant"], roles
    assert "".join(pieces), "the stream carried no content"
    assert finish in ("stop", "length"), finish
    assert usage is not None, "no usage chunk though include_usage was asked"
    billed += check_usage(usage, 10)
    print(json.dumps({"models": ids, "billed": billed, "stream_chunks": len(pieces)}))


def step_stream_without_usage(args):
    chunks = list(ask(args, max_tokens=6, stream=True))
    assert chunks, "empty stream"
    assert all(chunk.usage is None for chunk in chunks), "usage chunk sent though not asked for"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text, "the stream carried no content"
    print(json.dumps({"chunks": len(chunks)}))


def step_embeddings(args):
    result = client(args).embeddings.create(model=args.model, input=["first text", "second"])
    assert len(result.data) == 2, result
    assert [item.index for item in result.data] == [0, 1]
    dims = {len(item.embedding) for item in result.data}
    assert len(dims) == 1 and dims.pop() > 0, dims
    assert result.usage.prompt_tokens > 0, result.usage
    print(json.dumps({"dimensions": len(result.data[0].embedding), "billed": result.usage.total_tokens}))


def expect_error(call, error_type, status, code):
    try:
        call()
    except error_type as err:
        assert err.status_code == status, (err.status_code, err)
        assert err.code == code, (err.code, err.body)
        return err
    raise AssertionError(f"expected {error_type.__name__} ({status} {code})")


def step_bad_key(args):
    wrong = "iog-" + "1" * 44
    expect_error(lambda: client(args, wrong).models.list(), openai.AuthenticationError, 401, "invalid_api_key")
    expect_error(
        lambda: client(args, "sk-not-ours").chat.completions.create(
            model=args.model, messages=[{"role": "user", "content": "hi"}]
        ),
        openai.AuthenticationError,
        401,
        "invalid_api_key",
    )
    expect_error(
        lambda: client(args).chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}]),
        openai.NotFoundError,
        404,
        "model_not_found",
    )
    expect_error(
        lambda: client(args).chat.completions.create(model=args.model, messages=[]),
        openai.BadRequestError,
        400,
        None,
    )
    print(json.dumps({"refused": 4}))


def step_exhaust(args):
    """Asks until the daily quota runs out; the refusal must be a 429 that says when it resets."""
    served, billed = 0, 0
    for _ in range(200):
        try:
            answer = ask(args, max_tokens=16)
        except openai.RateLimitError as err:
            assert err.status_code == 429
            assert err.code == "daily_quota_exceeded", err.body
            assert int(err.response.headers["retry-after"]) > 0
            assert err.response.headers["x-ratelimit-remaining-tokens"] == "0"
            print(json.dumps({"served": served, "billed": billed}))
            return
        served += 1
        billed += answer.usage.total_tokens
    raise AssertionError("the quota never ran out")


def step_chat(args):
    answer = ask(args, max_tokens=8)
    print(json.dumps({"billed": check_usage(answer.usage, 8)}))


STEPS = {
    "basics": step_basics,
    "stream-without-usage": step_stream_without_usage,
    "embeddings": step_embeddings,
    "bad-key": step_bad_key,
    "exhaust": step_exhaust,
    "chat": step_chat,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=sorted(STEPS))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", default="smollm2-135m")
    args = parser.parse_args()
    STEPS[args.step](args)


if __name__ == "__main__":
    sys.exit(main())
