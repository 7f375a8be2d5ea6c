// @ts-check
// End-to-end tests of server.mjs on the real model:
//   IOGRID_MODEL_GGUF=$(../../scripts/install-model) npm test
// They check the OpenAI shapes, not what the model says.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const MODEL = process.env.IOGRID_MODEL_GGUF;
const NAME = "smollm2-135m";
const SERVER = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "server.mjs");
const skip = MODEL
    ? false
    : "IOGRID_MODEL_GGUF is not set: in worker/model-server run `IOGRID_MODEL_GGUF=$(../../scripts/install-model) npm test`";
if (skip) process.stderr.write(`skipping the model-server tests: ${skip}\n`);

/** @type {import("node:child_process").ChildProcessByStdio<null, import("node:stream").Readable, import("node:stream").Readable> | undefined} */
let child;
let base = "";

/**
 * @param {string} route
 * @param {unknown} [body]
 * @returns {Promise<{status: number, json: any}>}
 */
async function post(route, body) {
    const res = await fetch(base + route, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
}

/**
 * @param {string} route
 * @returns {Promise<{status: number, json: any}>}
 */
async function get(route) {
    const res = await fetch(base + route);
    return { status: res.status, json: await res.json() };
}

/**
 * @param {any} json
 * @param {number} status
 * @param {string} type
 */
function assertError(json, status, type) {
    assert.ok(json.error, `expected an error body for ${status}`);
    assert.equal(typeof json.error.message, "string");
    assert.equal(json.error.type, type);
    assert.ok("param" in json.error && "code" in json.error);
}

/** @param {number} maxTokens */
const chatBody = (maxTokens) => ({
    model: NAME,
    messages: [
        { role: "system", content: "You are a storyteller." },
        { role: "user", content: "Write a long story about a dragon." },
    ],
    max_tokens: maxTokens,
    temperature: 0,
});

/**
 * Reads an SSE response into its `data:` payloads.
 * @param {Response} res
 * @returns {Promise<string[]>}
 */
async function readEvents(res) {
    const text = await res.text();
    assert.ok(text.endsWith("\n\n"), "events end with a blank line");
    return text
        .split("\n\n")
        .filter((e) => e.length > 0)
        .map((e) => {
            assert.ok(e.startsWith("data: "), `event ${JSON.stringify(e)} starts with 'data: '`);
            return e.slice("data: ".length);
        });
}

/** @param {any} c */
function assertUsage(c) {
    assert.ok(Number.isInteger(c.prompt_tokens) && c.prompt_tokens > 0);
    assert.ok(Number.isInteger(c.completion_tokens) && c.completion_tokens > 0);
    assert.equal(c.total_tokens, c.prompt_tokens + c.completion_tokens);
}

if (skip) test("model server (real model)", { skip }, () => {});

describe("model server", { skip: !MODEL, timeout: 300_000 }, () => {
    before(async () => {
        const started = performance.now();
        child = spawn(
            process.execPath,
            [SERVER, "--model", String(MODEL), "--name", NAME, "--port", "0", "--threads", "1", "--parallel", "2", "--max-tokens", "64"],
            { stdio: ["ignore", "pipe", "pipe"] },
        );
        const proc = child;
        proc.stderr.on("data", (d) => process.stderr.write(d));
        const lines = createInterface({ input: proc.stdout });
        base = await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("server did not print its listening line in 120 s")), 120_000);
            proc.once("exit", (code) => reject(new Error(`server exited early with ${code}`)));
            lines.once("line", (line) => {
                clearTimeout(timer);
                const m = /^listening (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
                if (m) resolve(m[1]);
                else reject(new Error(`unexpected first stdout line: ${JSON.stringify(line)}`));
            });
        });
        process.stderr.write(`server up at ${base} in ${Math.round(performance.now() - started)} ms\n`);
        // Anything more on stdout breaks the one-line contract.
        lines.on("line", (line) => assert.fail(`unexpected stdout line: ${line}`));
    });

    after(async () => {
        const proc = child;
        if (!proc || proc.exitCode !== null) return;
        const exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
        proc.kill("SIGTERM");
        const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
        const result = await exited;
        clearTimeout(timer);
        assert.deepEqual(result, { code: 0, signal: null }, "SIGTERM exits 0");
    });

    test("GET /health", async () => {
        const { status, json } = await get("/health");
        assert.equal(status, 200);
        assert.deepEqual(json, { status: "ok", model: NAME, in_flight: 0, parallel: 2 });
    });

    test("GET /v1/models", async () => {
        const { status, json } = await get("/v1/models");
        assert.equal(status, 200);
        assert.equal(json.object, "list");
        assert.equal(json.data.length, 1);
        const [m] = json.data;
        assert.equal(m.id, NAME);
        assert.equal(m.object, "model");
        assert.equal(m.owned_by, "iogrid");
        assert.ok(Number.isInteger(m.created) && m.created > 1_600_000_000);
    });

    test("non-stream chat completion stops at max_tokens with finish_reason length", async () => {
        const { status, json } = await post("/v1/chat/completions", chatBody(4));
        assert.equal(status, 200, JSON.stringify(json));
        assert.match(json.id, /^chatcmpl-/);
        assert.equal(json.object, "chat.completion");
        assert.equal(json.model, NAME);
        assert.ok(Number.isInteger(json.created));
        assert.equal(json.choices.length, 1);
        const [c] = json.choices;
        assert.equal(c.index, 0);
        assert.equal(c.message.role, "assistant");
        assert.equal(typeof c.message.content, "string");
        assert.ok(c.message.content.length > 0);
        assert.equal(c.finish_reason, "length");
        assertUsage(json.usage);
        assert.equal(json.usage.completion_tokens, 4);
    });

    test("max_completion_tokens above --max-tokens is capped", async () => {
        const body = { ...chatBody(0), max_tokens: undefined, max_completion_tokens: 1000 };
        const { status, json } = await post("/v1/chat/completions", body);
        assert.equal(status, 200, JSON.stringify(json));
        assert.ok(json.usage.completion_tokens <= 64);
        assert.ok(["stop", "length"].includes(json.choices[0].finish_reason));
    });

    test("streamed chat completion with usage", async () => {
        const res = await fetch(base + "/v1/chat/completions", {
            method: "POST",
            body: JSON.stringify({ ...chatBody(8), stream: true, stream_options: { include_usage: true } }),
        });
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
        const events = await readEvents(res);
        assert.equal(events.at(-1), "[DONE]");
        const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
        const ids = new Set(chunks.map((c) => c.id));
        assert.equal(ids.size, 1, "one id for all chunks");
        for (const c of chunks) {
            assert.equal(c.object, "chat.completion.chunk");
            assert.equal(c.model, NAME);
        }
        const first = chunks[0];
        assert.equal(first.choices[0].delta.role, "assistant");
        const usageChunk = chunks.at(-1);
        assert.deepEqual(usageChunk.choices, []);
        assertUsage(usageChunk.usage);
        assert.ok(usageChunk.usage.completion_tokens <= 8);
        const finish = chunks.at(-2);
        assert.equal(finish.choices[0].finish_reason, "length");
        const content = chunks
            .slice(1, -2)
            .map((c) => {
                assert.equal(c.choices[0].finish_reason, null);
                assert.equal(typeof c.choices[0].delta.content, "string");
                return c.choices[0].delta.content;
            })
            .join("");
        assert.ok(content.length > 0, "content chunks concatenate to non-empty text");
    });

    test("streamed chat completion without usage ends with finish chunk and [DONE]", async () => {
        const res = await fetch(base + "/v1/chat/completions", {
            method: "POST",
            body: JSON.stringify({ ...chatBody(3), stream: true }),
        });
        const events = await readEvents(res);
        assert.equal(events.at(-1), "[DONE]");
        const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
        assert.ok(chunks.every((c) => c.choices.length === 1 && !("usage" in c)));
        assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
    });

    test("stop sequences end generation with finish_reason stop", async () => {
        const { status, json } = await post("/v1/chat/completions", { ...chatBody(32), stop: [" "] });
        assert.equal(status, 200, JSON.stringify(json));
        assert.equal(json.choices[0].finish_reason, "stop");
        assert.ok(!json.choices[0].message.content.includes(" "));
    });

    test("embeddings", async () => {
        const one = await post("/v1/embeddings", { model: NAME, input: "hello world" });
        assert.equal(one.status, 200, JSON.stringify(one.json));
        assert.equal(one.json.object, "list");
        assert.equal(one.json.model, NAME);
        assert.equal(one.json.data.length, 1);
        const [e] = one.json.data;
        assert.equal(e.object, "embedding");
        assert.equal(e.index, 0);
        assert.ok(Array.isArray(e.embedding) && e.embedding.length > 0);
        assert.ok(e.embedding.every((/** @type {unknown} */ x) => typeof x === "number" && Number.isFinite(x)));
        assert.ok(one.json.usage.prompt_tokens > 0);
        assert.equal(one.json.usage.total_tokens, one.json.usage.prompt_tokens);

        const two = await post("/v1/embeddings", { model: NAME, input: ["a", "b c"], encoding_format: "base64" });
        assert.equal(two.status, 200, JSON.stringify(two.json));
        assert.deepEqual(
            two.json.data.map((/** @type {any} */ d) => d.index),
            [0, 1],
        );
        for (const d of two.json.data) {
            assert.equal(Buffer.from(d.embedding, "base64").length, e.embedding.length * 4);
        }

        const bad = await post("/v1/embeddings", { model: NAME, input: 42 });
        assert.equal(bad.status, 400);
        assertError(bad.json, 400, "invalid_request_error");
    });

    test("errors", async () => {
        const badJson = await post("/v1/chat/completions", "{not json");
        assert.equal(badJson.status, 400);
        assertError(badJson.json, 400, "invalid_request_error");

        const wrongModel = await post("/v1/chat/completions", { ...chatBody(4), model: "gpt-4o" });
        assert.equal(wrongModel.status, 404);
        assertError(wrongModel.json, 404, "invalid_request_error");
        assert.equal(wrongModel.json.error.code, "model_not_found");

        const noMessages = await post("/v1/chat/completions", { model: NAME });
        assert.equal(noMessages.status, 400);
        assertError(noMessages.json, 400, "invalid_request_error");
        assert.equal(noMessages.json.error.param, "messages");

        for (const body of [
            { model: NAME, messages: "hi" },
            { model: NAME, messages: [] },
            { model: NAME, messages: [{ role: "user", content: 7 }] },
            { model: NAME, messages: [{ role: "wizard", content: "hi" }] },
            { ...chatBody(4), max_tokens: "many" },
            { ...chatBody(4), max_tokens: 0 },
            { ...chatBody(4), temperature: 9 },
            { ...chatBody(4), stop: [1] },
            { ...chatBody(4), stream: "yes" },
            [1, 2],
        ]) {
            const r = await post("/v1/chat/completions", body);
            assert.equal(r.status, 400, JSON.stringify(body));
            assertError(r.json, 400, "invalid_request_error");
        }

        const unknown = await get("/v1/nope");
        assert.equal(unknown.status, 404);
        assertError(unknown.json, 404, "invalid_request_error");

        const tooLong = await post("/v1/chat/completions", {
            model: NAME,
            messages: [{ role: "user", content: "word ".repeat(5000) }],
        });
        assert.equal(tooLong.status, 400);
        assert.equal(tooLong.json.error.code, "context_length_exceeded");

        const big = await postRaw("/v1/chat/completions", Buffer.alloc(2 * 1024 * 1024, 0x20));
        assert.equal(big.status, 413);
        assertError(JSON.parse(big.body), 413, "invalid_request_error");

        assert.equal((await get("/health")).status, 200, "still serving after bad input");
    });

    test("paid requests are counted per credit until the ledger is drained", async () => {
        const credit = "8AokDfzD2yAGb7ZLEzztkpbeyc8km42FpUFYoSTChxDs";
        const paid = async () => {
            const res = await fetch(base + "/v1/chat/completions", {
                method: "POST",
                headers: { "Content-Type": "application/json", "x-iogrid-credit": credit },
                body: JSON.stringify(chatBody(3)),
            });
            assert.equal(res.status, 200);
            return (await res.json()).usage.total_tokens;
        };
        await post("/v1/ledger/drain", {});
        const served = (await paid()) + (await paid());
        await post("/v1/chat/completions", chatBody(2)); // unpaid: not in the ledger
        const drained = await post("/v1/ledger/drain", {});
        assert.equal(drained.status, 200);
        assert.deepEqual(drained.json.credits, { [credit]: served });
        assert.deepEqual((await post("/v1/ledger/drain", {})).json.credits, {});
        const res = await fetch(base + "/v1/chat/completions", {
            method: "POST",
            headers: { "Content-Type": "application/json", "x-iogrid-credit": "not an address" },
            body: JSON.stringify(chatBody(2)),
        });
        assert.equal(res.status, 400);
    });

    test("two concurrent requests both succeed", async () => {
        const [a, b] = await Promise.all([
            post("/v1/chat/completions", chatBody(16)),
            post("/v1/chat/completions", { ...chatBody(16), messages: [{ role: "user", content: "Name a color." }] }),
        ]);
        for (const r of [a, b]) {
            assert.equal(r.status, 200, JSON.stringify(r.json));
            assertUsage(r.json.usage);
        }
    });

    test("a client that disconnects mid-stream frees its sequence", async () => {
        const controller = new AbortController();
        const res = await fetch(base + "/v1/chat/completions", {
            method: "POST",
            body: JSON.stringify({ ...chatBody(64), stream: true }),
            signal: controller.signal,
        });
        assert.equal(res.status, 200);
        const reader = /** @type {ReadableStream<Uint8Array>} */ (res.body).getReader();
        await reader.read();
        controller.abort();
        let inFlight = -1;
        for (let i = 0; i < 100; i++) {
            inFlight = (await get("/health")).json.in_flight;
            if (inFlight === 0) break;
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(inFlight, 0, "generation aborted within 5 s");
        const again = await Promise.all([post("/v1/chat/completions", chatBody(4)), post("/v1/chat/completions", chatBody(4))]);
        assert.deepEqual(
            again.map((r) => r.status),
            [200, 200],
        );
    });

    test("more than parallel*4 queued requests get 503 server_busy", async () => {
        const results = await Promise.all(Array.from({ length: 14 }, () => post("/v1/chat/completions", chatBody(16))));
        const statuses = results.map((r) => r.status);
        assert.ok(statuses.includes(503), `some 503 in ${statuses}`);
        assert.ok(statuses.filter((s) => s === 200).length >= 10, `2 running + 8 queued succeed: ${statuses}`);
        for (const r of results.filter((r) => r.status === 503)) {
            assertError(r.json, 503, "server_error");
            assert.equal(r.json.error.code, "server_busy");
        }
    });
});

/**
 * POSTs a raw body with node:http (fetch may fail on a server that answers
 * and closes before the body is sent).
 * @param {string} route
 * @param {Buffer} body
 * @returns {Promise<{status: number, body: string}>}
 */
function postRaw(route, body) {
    return new Promise((resolve, reject) => {
        let answered = false;
        const req = http.request(base + route, { method: "POST", headers: { "Content-Length": body.length } }, (res) => {
            answered = true;
            /** @type {Buffer[]} */
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
            res.on("error", reject);
        });
        req.on("error", (e) => {
            if (!answered) reject(e);
        });
        req.end(body);
    });
}
