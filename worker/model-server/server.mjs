// @ts-check
// OpenAI-compatible model server run by iogrid supplier workers.
//
//   node server.mjs --model <path.gguf> --name <model id> [--host 127.0.0.1]
//     [--port 0] [--threads 1] [--parallel 2] [--context 2048]
//     [--max-tokens 512] [--gpu auto|cuda|vulkan|cpu]
//
// --threads: llama.cpp's CPU threads per evaluation (0: all math cores).
// Its threads spin-wait on each other, so only give it cores that nothing
// else uses: 2 threads on a busy 2-core VM ran 250x slower than 1 (3.3 s vs
// 12 ms a token). --context is per sequence; --parallel sequences share the
// model. --max-tokens caps max_tokens/max_completion_tokens.
//
// Loads the GGUF with node-llama-cpp's prebuilt llama.cpp binaries (never
// compiles: CPU everywhere, CUDA/Vulkan when such a GPU and its driver are
// present and --gpu allows it), then prints exactly one line on stdout,
// `listening http://HOST:PORT`; everything else goes to stderr.
//
// Endpoints (OpenAI shapes): GET /health, GET /v1/models,
// POST /v1/chat/completions (stream or not), POST /v1/embeddings.
// Up to --parallel generations run at once, each on its own context sequence;
// up to parallel*4 more wait in a queue, beyond that 503 server_busy.
// SIGTERM/SIGINT: stop accepting, abort generations, exit 0.
//
// Paid usage: a request the gateway tags `x-iogrid-credit: <credit address>`
// adds the tokens it served to that credit's line in a ledger; the worker
// drains it (POST /v1/ledger/drain: {"credits": {address: tokens}}) and
// signs usage receipts for exactly those tokens.
//
// IOGRID_MODEL_SERVER_TOKEN (environment, so `ps` does not show it): when
// set, /v1/* answers only requests with `Authorization: Bearer <token>`. The
// worker gives it only to the gateway (in its signed registration), so the
// server cannot be used around the gateway's keys and quotas.

import http from "node:http";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";
import { getLlama, LlamaChat, LlamaLogLevel, resolveChatWrapper } from "node-llama-cpp";

/** @typedef {import("node-llama-cpp").ChatHistoryItem} ChatHistoryItem */
/** @typedef {import("node-llama-cpp").LlamaContextSequence} LlamaContextSequence */
/** @typedef {import("node-llama-cpp").LlamaEmbeddingContext} LlamaEmbeddingContext */
/** @typedef {import("node-llama-cpp").Token} Token */

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_STOP_SEQUENCES = 4;
const MAX_EMBEDDING_INPUTS = 2048;
const TOKEN = process.env.IOGRID_MODEL_SERVER_TOKEN ?? "";
const CREDIT_HEADER = "x-iogrid-credit";
const BASE58_ADDRESS = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;

/** Tokens served per credit since the worker last drained the ledger. */
const ledger = new Map();

/**
 * The credit a paid request is charged to, if the gateway named one.
 * @param {import("node:http").IncomingMessage} req
 * @returns {string | null}
 */
function creditOf(req) {
    const value = req.headers[CREDIT_HEADER];
    if (value === undefined) return null;
    if (typeof value !== "string" || !BASE58_ADDRESS.test(value)) {
        throw badRequest(`'${CREDIT_HEADER}' must be a base58 address.`);
    }
    return value;
}

/**
 * @param {string | null} credit
 * @param {number} tokens
 */
function record(credit, tokens) {
    if (credit === null || tokens <= 0) return;
    ledger.set(credit, (ledger.get(credit) ?? 0) + tokens);
}

/**
 * Whether the request carries the server's token (always, when it has none).
 * @param {import("node:http").IncomingMessage} req
 */
function authorized(req) {
    if (!TOKEN) return true;
    const given = Buffer.from(req.headers.authorization ?? "");
    const expected = Buffer.from(`Bearer ${TOKEN}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
}

/** An error that becomes an OpenAI-shaped error response. */
class ApiError extends Error {
    /**
     * @param {number} status
     * @param {string} message
     * @param {{type?: string, param?: string | null, code?: string | null}} [opts]
     */
    constructor(status, message, opts = {}) {
        super(message);
        this.status = status;
        this.type = opts.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
        this.param = opts.param ?? null;
        this.code = opts.code ?? null;
    }
}

/**
 * @param {string} message
 * @param {string | null} [param]
 * @param {string | null} [code]
 */
function badRequest(message, param = null, code = null) {
    return new ApiError(400, message, { param, code });
}

/** @param {string} msg */
function log(msg) {
    process.stderr.write(`[model-server] ${msg}\n`);
}

// ---------------------------------------------------------------------------
// Command line

/**
 * @typedef {{
 *   model: string, name: string, host: string, port: number, threads: number,
 *   parallel: number, context: number, maxTokens: number,
 *   gpu: "auto" | "cuda" | "vulkan" | false,
 * }} Config
 */

/** @returns {Config} */
function parseConfig() {
    const { values } = parseArgs({
        options: {
            model: { type: "string" },
            name: { type: "string" },
            host: { type: "string", default: "127.0.0.1" },
            port: { type: "string", default: "0" },
            threads: { type: "string", default: "1" },
            parallel: { type: "string", default: "2" },
            context: { type: "string", default: "2048" },
            "max-tokens": { type: "string", default: "512" },
            gpu: { type: "string", default: "auto" },
        },
        strict: true,
        allowPositionals: false,
    });
    /**
     * @param {string} flag
     * @param {string | undefined} v
     * @param {number} min
     */
    const int = (flag, v, min) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < min) {
            throw new Error(`--${flag} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
        }
        return n;
    };
    if (!values.model) throw new Error("--model <path.gguf> is required");
    if (!values.name) throw new Error("--name <model id> is required");
    const gpuFlag = values.gpu ?? "auto";
    /** @type {Config["gpu"]} */
    let gpu;
    if (gpuFlag === "auto" || gpuFlag === "cuda" || gpuFlag === "vulkan") gpu = gpuFlag;
    else if (gpuFlag === "cpu" || gpuFlag === "false") gpu = false;
    else throw new Error(`--gpu must be auto, cuda, vulkan or cpu, got ${JSON.stringify(gpuFlag)}`);
    const port = int("port", values.port, 0);
    if (port > 65535) throw new Error("--port must be <= 65535");
    return {
        model: values.model,
        name: values.name,
        host: values.host ?? "127.0.0.1",
        port,
        threads: int("threads", values.threads, 0), // 0: node-llama-cpp picks (all math cores)
        parallel: int("parallel", values.parallel, 1),
        context: int("context", values.context, 64),
        maxTokens: int("max-tokens", values["max-tokens"], 1),
        gpu,
    };
}

// ---------------------------------------------------------------------------
// Concurrency: a counting semaphore with a bounded FIFO queue.

class Limiter {
    /**
     * @param {number} slots
     * @param {number} maxQueued
     */
    constructor(slots, maxQueued) {
        this.slots = slots;
        this.maxQueued = maxQueued;
        this.active = 0;
        /** @type {{resolve: () => void, reject: (e: unknown) => void}[]} */
        this.queue = [];
    }

    /**
     * Waits for a slot. Rejects with 503 when the queue is full, or with the
     * signal's reason when it is aborted while waiting.
     * @param {AbortSignal} signal
     * @returns {Promise<() => void>} release function (idempotent)
     */
    async acquire(signal) {
        if (signal.aborted) throw signal.reason;
        if (this.active < this.slots && this.queue.length === 0) {
            this.active++;
        } else {
            if (this.queue.length >= this.maxQueued) {
                throw new ApiError(503, "The server is busy: too many requests are queued. Retry later.", {
                    type: "server_error",
                    code: "server_busy",
                });
            }
            await new Promise((resolve, reject) => {
                /** @type {{resolve: () => void, reject: (e: unknown) => void}} */
                const waiter = {
                    resolve: () => {
                        signal.removeEventListener("abort", onAbort);
                        resolve(undefined);
                    },
                    reject,
                };
                const onAbort = () => {
                    const i = this.queue.indexOf(waiter);
                    if (i >= 0) this.queue.splice(i, 1);
                    reject(signal.reason);
                };
                signal.addEventListener("abort", onAbort, { once: true });
                this.queue.push(waiter);
            });
            // The slot was handed over by release(): active was not decremented.
        }
        let released = false;
        return () => {
            if (released) return;
            released = true;
            const next = this.queue.shift();
            if (next) next.resolve();
            else this.active--;
        };
    }
}

// ---------------------------------------------------------------------------
// Request validation

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
function isObject(v) {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * OpenAI message content: a string, or an array of {type:"text", text} parts.
 * @param {unknown} content
 * @param {string} param
 * @returns {string}
 */
function contentText(content, param) {
    if (typeof content === "string") return content;
    if (Array.isArray(content)) {
        return content
            .map((part, i) => {
                if (!isObject(part) || part.type !== "text" || typeof part.text !== "string") {
                    throw badRequest(`${param}[${i}] must be a {"type":"text","text":string} part (only text content is supported)`, `${param}[${i}]`);
                }
                return part.text;
            })
            .join("");
    }
    throw badRequest(`${param} must be a string`, param);
}

/**
 * @param {unknown} messages
 * @returns {ChatHistoryItem[]}
 */
function toChatHistory(messages) {
    if (messages === undefined) throw badRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
    if (!Array.isArray(messages)) throw badRequest("'messages' must be an array.", "messages");
    if (messages.length === 0) throw badRequest("'messages' must contain at least one message.", "messages");
    /** @type {ChatHistoryItem[]} */
    const history = [];
    messages.forEach((m, i) => {
        const p = `messages[${i}]`;
        if (!isObject(m)) throw badRequest(`${p} must be an object.`, p);
        const role = m.role;
        if (typeof role !== "string") throw badRequest(`Missing required parameter: '${p}.role'.`, `${p}.role`);
        if (m.content === undefined || m.content === null) {
            throw badRequest(`Missing required parameter: '${p}.content'.`, `${p}.content`);
        }
        const text = contentText(m.content, `${p}.content`);
        if (role === "system" || role === "developer") history.push({ type: "system", text });
        else if (role === "user") history.push({ type: "user", text });
        else if (role === "assistant") history.push({ type: "model", response: [text] });
        else {
            throw badRequest(
                `Invalid value for '${p}.role': ${JSON.stringify(role)}. Supported values are: 'system', 'developer', 'user' and 'assistant'.`,
                `${p}.role`,
            );
        }
    });
    // The model answers in a new assistant turn, unless the conversation ends
    // with an assistant message, which is then continued.
    if (history[history.length - 1].type !== "model") history.push({ type: "model", response: [] });
    return history;
}

/**
 * @param {Record<string, unknown>} body
 * @param {string} key
 * @param {number} min
 * @param {number} max
 * @returns {number | undefined}
 */
function optNumber(body, key, min, max) {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw badRequest(`'${key}' must be a number.`, key);
    if (v < min || v > max) throw badRequest(`'${key}' must be between ${min} and ${max}, got ${v}.`, key);
    return v;
}

/**
 * @param {Record<string, unknown>} body
 * @param {string} key
 * @param {number} min
 * @returns {number | undefined}
 */
function optInt(body, key, min) {
    const v = body[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) throw badRequest(`'${key}' must be an integer.`, key);
    if (v < min) throw badRequest(`'${key}' must be >= ${min}, got ${v}.`, key);
    return v;
}

/**
 * @param {unknown} stop
 * @returns {string[]}
 */
function parseStop(stop) {
    if (stop === undefined || stop === null) return [];
    const list = typeof stop === "string" ? [stop] : stop;
    if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
        throw badRequest("'stop' must be a string or an array of strings.", "stop");
    }
    if (list.length > MAX_STOP_SEQUENCES) throw badRequest(`'stop' may hold at most ${MAX_STOP_SEQUENCES} sequences.`, "stop");
    return list.filter((s) => s.length > 0);
}

/**
 * @param {Record<string, unknown>} body
 * @param {string} name
 */
function checkModel(body, name) {
    const model = body.model;
    if (model === undefined) throw badRequest("Missing required parameter: 'model'.", "model", "missing_required_parameter");
    if (typeof model !== "string") throw badRequest("'model' must be a string.", "model");
    if (model !== name) {
        throw new ApiError(404, `The model '${model}' does not exist. This server serves '${name}'.`, {
            param: "model",
            code: "model_not_found",
        });
    }
}

// ---------------------------------------------------------------------------
// HTTP helpers

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
    if (res.headersSent || res.destroyed) return;
    const data = JSON.stringify(body);
    res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
    res.end(data);
}

/**
 * @param {http.ServerResponse} res
 * @param {ApiError} err
 */
function sendError(res, err) {
    sendJson(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } });
}

/**
 * Reads and parses a JSON object body, at most MAX_BODY_BYTES.
 * @param {http.IncomingMessage} req
 * @returns {Promise<Record<string, unknown>>}
 */
function readJsonBody(req) {
    return new Promise((resolve, reject) => {
        const tooLarge = () =>
            new ApiError(413, `Request body too large: the limit is ${MAX_BODY_BYTES} bytes.`, { code: "request_too_large" });
        const declared = Number(req.headers["content-length"]);
        if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
            reject(tooLarge());
            return;
        }
        /** @type {Buffer[]} */
        const chunks = [];
        let size = 0;
        let done = false;
        req.on("data", (/** @type {Buffer} */ chunk) => {
            if (done) return;
            size += chunk.length;
            if (size > MAX_BODY_BYTES) {
                done = true;
                chunks.length = 0;
                reject(tooLarge());
                return;
            }
            chunks.push(chunk);
        });
        req.on("error", (e) => {
            if (!done) {
                done = true;
                reject(e);
            }
        });
        req.on("end", () => {
            if (done) return;
            done = true;
            /** @type {unknown} */
            let body;
            try {
                body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
            } catch (e) {
                reject(badRequest(`We could not parse the JSON body of your request: ${e instanceof Error ? e.message : String(e)}`));
                return;
            }
            if (!isObject(body)) {
                reject(badRequest("The request body must be a JSON object."));
                return;
            }
            resolve(body);
        });
    });
}

/** @param {string} prefix */
function newId(prefix) {
    return `${prefix}-${randomBytes(12).toString("hex")}`;
}

const unixNow = () => Math.floor(Date.now() / 1000);

class ClientGone extends Error {
    constructor() {
        super("client disconnected");
    }
}

// ---------------------------------------------------------------------------
// Server

async function main() {
    /** @type {Config} */
    let cfg;
    try {
        cfg = parseConfig();
    } catch (e) {
        log(`error: ${e instanceof Error ? e.message : String(e)}`);
        process.exit(2);
    }

    const t0 = performance.now();
    const llama = await getLlama({
        gpu: cfg.gpu,
        build: "never", // prebuilt binaries only: never run cmake
        logLevel: LlamaLogLevel.warn,
        logger: (level, message) => log(`llama.cpp ${level}: ${message.trimEnd()}`),
        progressLogs: false,
    });
    log(`backend: gpu=${llama.gpu} build=${llama.buildType} cpuMathCores=${llama.cpuMathCores}`);
    const model = await llama.loadModel({ modelPath: cfg.model });
    const context = await model.createContext({
        contextSize: cfg.context,
        sequences: cfg.parallel,
        ...(cfg.threads > 0 ? { threads: cfg.threads } : {}),
    });
    /** @type {LlamaContextSequence[]} */
    const freeSequences = [];
    for (let i = 0; i < cfg.parallel; i++) freeSequences.push(context.getSequence());
    const seqContextSize = freeSequences[0].contextSize;
    // The model's chat template (from its GGUF metadata), resolved once:
    // LlamaChat's "auto" would redo it on each request (~350 ms here).
    const chatWrapper = resolveChatWrapper(model);
    log(`chat template: ${chatWrapper.wrapperName}`);
    const created = unixNow();
    log(
        `loaded ${cfg.model} as '${cfg.name}' in ${((performance.now() - t0) / 1000).toFixed(2)} s ` +
            `(context ${seqContextSize} tokens x ${cfg.parallel} sequences, max ${cfg.maxTokens} new tokens)`,
    );

    const chatLimiter = new Limiter(cfg.parallel, cfg.parallel * 4);
    const embedLimiter = new Limiter(1, cfg.parallel * 4);
    let inFlight = 0;
    /** @type {Set<AbortController>} */
    const running = new Set();

    /** @type {Promise<LlamaEmbeddingContext | ApiError> | undefined} */
    let embeddingContext;
    const getEmbeddingContext = () => {
        embeddingContext ??= model
            .createEmbeddingContext({
                contextSize: cfg.context,
                ...(cfg.threads > 0 ? { threads: cfg.threads } : {}),
            })
            .catch((e) => {
                log(`embedding context failed: ${e instanceof Error ? e.stack : String(e)}`);
                return new ApiError(400, `Embeddings are not supported by the model '${cfg.name}': ${e instanceof Error ? e.message : String(e)}`, {
                    code: "embeddings_not_supported",
                });
            });
        return embeddingContext;
    };

    /**
     * @param {http.IncomingMessage} req
     * @param {http.ServerResponse} res
     * @param {AbortSignal} signal
     */
    async function chatCompletions(req, res, signal) {
        const credit = creditOf(req);
        const body = await readJsonBody(req);
        checkModel(body, cfg.name);
        const history = toChatHistory(body.messages);
        const requested = optInt(body, "max_completion_tokens", 1) ?? optInt(body, "max_tokens", 1);
        const temperature = optNumber(body, "temperature", 0, 2) ?? 1;
        const topP = optNumber(body, "top_p", 0, 1);
        const seed = optInt(body, "seed", Number.MIN_SAFE_INTEGER);
        const frequencyPenalty = optNumber(body, "frequency_penalty", -2, 2) ?? 0;
        const presencePenalty = optNumber(body, "presence_penalty", -2, 2) ?? 0;
        const stop = parseStop(body.stop);
        const n = optInt(body, "n", 1);
        if (n !== undefined && n !== 1) throw badRequest("Only 'n' = 1 is supported.", "n");
        if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
            throw badRequest("'stream' must be a boolean.", "stream");
        }
        const stream = body.stream === true;
        let includeUsage = false;
        if (body.stream_options !== undefined && body.stream_options !== null) {
            if (!isObject(body.stream_options)) throw badRequest("'stream_options' must be an object.", "stream_options");
            if (!stream) throw badRequest("'stream_options' is only allowed when 'stream' is true.", "stream_options");
            const iu = body.stream_options.include_usage;
            if (iu !== undefined && typeof iu !== "boolean") {
                throw badRequest("'stream_options.include_usage' must be a boolean.", "stream_options.include_usage");
            }
            includeUsage = iu === true;
        }

        // The prompt as the model sees it, in the model's own template.
        const wrapped = chatWrapper.generateContextState({ chatHistory: history });
        const promptTokens = wrapped.contextText.tokenize(model.tokenizer).length;
        // One cell spare: filling the sequence would make node-llama-cpp shift
        // (drop) the start of the conversation.
        const room = seqContextSize - 1 - promptTokens;
        if (room < 1) {
            throw badRequest(
                `This model's maximum context length is ${seqContextSize} tokens. However, your messages resulted in ${promptTokens} tokens.`,
                "messages",
                "context_length_exceeded",
            );
        }

        const release = await chatLimiter.acquire(signal);
        const sequence = freeSequences.pop();
        if (!sequence) {
            release();
            throw new ApiError(500, "internal error: no free context sequence");
        }
        inFlight++;
        const chat = new LlamaChat({ contextSequence: sequence, chatWrapper, autoDisposeSequence: false });
        let clean = false;
        let completionTokens = 0;
        try {
            const maxTokens = Math.min(requested ?? cfg.maxTokens, cfg.maxTokens, room);
            const id = newId("chatcmpl");
            const createdAt = unixNow();

            /** @param {Record<string, unknown>} chunk */
            const writeEvent = (chunk) => {
                if (!res.destroyed) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
            };
            /**
             * @param {Record<string, unknown>} delta
             * @param {string | null} finishReason
             */
            const chunkOf = (delta, finishReason) => ({
                id,
                object: "chat.completion.chunk",
                created: createdAt,
                model: cfg.name,
                choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
                ...(includeUsage ? { usage: null } : {}),
            });
            if (stream) {
                res.writeHead(200, {
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    Connection: "keep-alive",
                });
                res.flushHeaders();
                writeEvent(chunkOf({ role: "assistant", content: "" }, null));
            }

            const result = await chat.generateResponse(history, {
                maxTokens,
                temperature,
                ...(topP !== undefined ? { topP } : {}),
                ...(seed !== undefined ? { seed: ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32 } : {}),
                repeatPenalty:
                    frequencyPenalty !== 0 || presencePenalty !== 0
                        ? { penalty: 1, frequencyPenalty, presencePenalty }
                        : false,
                ...(stop.length > 0 ? { customStopTriggers: stop } : {}),
                signal,
                // Without it node-llama-cpp only checks the signal before the
                // first token: a disconnected client's generation would run on.
                stopOnAbortSignal: true,
                onToken: (tokens) => {
                    completionTokens += tokens.length;
                },
                ...(stream
                    ? {
                          onTextChunk: (/** @type {string} */ text) => {
                              if (text.length > 0) writeEvent(chunkOf({ content: text }, null));
                          },
                      }
                    : {}),
            });
            if (signal.aborted) throw new ClientGone();
            clean = true;
            const finishReason = result.metadata.stopReason === "maxTokens" ? "length" : "stop";
            const usage = {
                prompt_tokens: promptTokens,
                completion_tokens: completionTokens,
                total_tokens: promptTokens + completionTokens,
            };
            if (stream) {
                writeEvent(chunkOf({}, finishReason));
                if (includeUsage) {
                    writeEvent({ id, object: "chat.completion.chunk", created: createdAt, model: cfg.name, choices: [], usage });
                }
                if (!res.destroyed) res.end("data: [DONE]\n\n");
            } else {
                sendJson(res, 200, {
                    id,
                    object: "chat.completion",
                    created: createdAt,
                    model: cfg.name,
                    choices: [
                        {
                            index: 0,
                            message: { role: "assistant", content: result.response, refusal: null },
                            logprobs: null,
                            finish_reason: finishReason,
                        },
                    ],
                    usage,
                });
            }
        } catch (e) {
            if (stream && res.headersSent) {
                // Headers are out: report in-band, then end the stream.
                if (!(e instanceof ClientGone) && !signal.aborted && !res.destroyed) {
                    const err = e instanceof ApiError ? e : new ApiError(500, "The server had an error while generating.");
                    if (!(e instanceof ApiError)) log(`generation failed: ${e instanceof Error ? e.stack : String(e)}`);
                    res.write(`data: ${JSON.stringify({ error: { message: err.message, type: err.type, param: err.param, code: err.code } })}\n\n`);
                    res.end("data: [DONE]\n\n");
                }
                return;
            }
            throw e;
        } finally {
            // Billed only when answered in full: the gateway counts a dropped
            // stream by what reached the client, and accepts receipts for no
            // more than it counted.
            if (clean) record(credit, promptTokens + completionTokens);
            chat.dispose({ disposeSequence: false });
            if (!clean) {
                // An aborted or failed generation may leave partial state:
                // the next request starts from an empty sequence.
                await sequence.clearHistory().catch((err) => log(`clearHistory failed: ${String(err)}`));
            }
            freeSequences.push(sequence);
            inFlight--;
            release();
        }
    }

    /**
     * @param {http.IncomingMessage} req
     * @param {http.ServerResponse} res
     * @param {AbortSignal} signal
     */
    async function embeddings(req, res, signal) {
        const credit = creditOf(req);
        const body = await readJsonBody(req);
        checkModel(body, cfg.name);
        const input = body.input;
        if (input === undefined) throw badRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
        /** @type {string[]} */
        let inputs;
        if (typeof input === "string") inputs = [input];
        else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === "string")) inputs = input;
        else throw badRequest("'input' must be a non-empty string or a non-empty array of strings.", "input");
        if (inputs.length > MAX_EMBEDDING_INPUTS) throw badRequest(`'input' may hold at most ${MAX_EMBEDDING_INPUTS} strings.`, "input");
        inputs.forEach((s, i) => {
            if (s.length === 0) throw badRequest(`'input[${i}]' must not be empty.`, "input");
        });
        const format = body.encoding_format ?? "float";
        if (format !== "float" && format !== "base64") {
            throw badRequest("'encoding_format' must be 'float' or 'base64'.", "encoding_format");
        }
        if (body.dimensions !== undefined && body.dimensions !== null) {
            throw badRequest("'dimensions' is not supported by this model.", "dimensions");
        }

        const ectx = await getEmbeddingContext();
        if (ectx instanceof ApiError) throw ectx;
        const release = await embedLimiter.acquire(signal);
        inFlight++;
        try {
            let promptTokens = 0;
            const lengths = inputs.map((s) => ectx.calculateInputLength(s));
            lengths.forEach((len, i) => {
                if (len > seqContextSize) {
                    throw badRequest(
                        `'input[${i}]' is ${len} tokens; this model's maximum input length is ${seqContextSize} tokens.`,
                        "input",
                        "context_length_exceeded",
                    );
                }
                promptTokens += len;
            });
            /** @type {{object: "embedding", index: number, embedding: number[] | string}[]} */
            const data = [];
            for (let i = 0; i < inputs.length; i++) {
                if (signal.aborted) throw new ClientGone();
                const { vector } = await ectx.getEmbeddingFor(inputs[i]);
                const embedding = format === "base64" ? Buffer.from(new Float32Array(vector).buffer).toString("base64") : [...vector];
                data.push({ object: "embedding", index: i, embedding });
            }
            record(credit, promptTokens);
            sendJson(res, 200, { object: "list", data, model: cfg.name, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } });
        } finally {
            inFlight--;
            release();
        }
    }

    const server = http.createServer((req, res) => {
        const controller = new AbortController();
        running.add(controller);
        // 'close' before the response finished: the client went away.
        res.on("close", () => {
            running.delete(controller);
            if (!res.writableFinished) controller.abort(new ClientGone());
        });
        const url = new URL(req.url ?? "/", "http://localhost");
        const path = url.pathname.replace(/\/+$/, "") || "/";
        /** @type {Record<string, {method: string, handler: () => Promise<void> | void}>} */
        const routes = {
            "/health": {
                method: "GET",
                handler: () =>
                    sendJson(res, 200, { status: "ok", model: cfg.name, in_flight: inFlight, parallel: cfg.parallel }),
            },
            "/v1/models": {
                method: "GET",
                handler: () =>
                    sendJson(res, 200, {
                        object: "list",
                        data: [{ id: cfg.name, object: "model", created, owned_by: "iogrid" }],
                    }),
            },
            "/v1/chat/completions": { method: "POST", handler: () => chatCompletions(req, res, controller.signal) },
            "/v1/embeddings": { method: "POST", handler: () => embeddings(req, res, controller.signal) },
            "/v1/ledger/drain": {
                method: "POST",
                handler: () => {
                    req.resume();
                    const credits = Object.fromEntries(ledger);
                    ledger.clear();
                    sendJson(res, 200, { credits });
                },
            },
        };
        const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
        /** @param {unknown} e */
        const fail = (e) => {
            if (e instanceof ClientGone || controller.signal.aborted) return;
            if (e instanceof ApiError) {
                if (e.status === 413 && !req.complete) {
                    // Read and drop the rest of the body, then answer and
                    // close: answering first would close the connection under
                    // a client still sending, which then sees a reset or a
                    // broken pipe instead of the answer. A body far past the
                    // limit is cut off.
                    res.setHeader("Connection", "close");
                    let dropped = 0;
                    req.on("data", (/** @type {Buffer} */ chunk) => {
                        dropped += chunk.length;
                        if (dropped > 16 * MAX_BODY_BYTES) req.destroy();
                    });
                    req.on("end", () => sendError(res, e));
                    req.resume();
                    return;
                }
                sendError(res, e);
            } else {
                log(`internal error on ${req.method} ${path}: ${e instanceof Error ? e.stack : String(e)}`);
                sendError(res, new ApiError(500, "The server had an error while processing your request."));
            }
        };
        if (!route) {
            req.resume();
            fail(new ApiError(404, `Unknown request URL: ${req.method} ${url.pathname}.`, { code: "unknown_url" }));
            return;
        }
        if (path.startsWith("/v1/") && !authorized(req)) {
            req.resume();
            fail(new ApiError(401, "This model server answers its gateway only.", { code: "invalid_api_key" }));
            return;
        }
        if (req.method !== route.method) {
            req.resume();
            res.setHeader("Allow", route.method);
            fail(new ApiError(405, `Method ${req.method} is not allowed on ${url.pathname}; use ${route.method}.`, { code: "method_not_allowed" }));
            return;
        }
        try {
            Promise.resolve(route.handler()).catch(fail);
        } catch (e) {
            fail(e);
        }
    });
    server.on("clientError", (_err, socket) => {
        if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    });

    let shuttingDown = false;
    /** @param {string} sig */
    const shutdown = (sig) => {
        if (shuttingDown) return;
        shuttingDown = true;
        log(`${sig}: shutting down`);
        server.close();
        for (const c of running) c.abort(new ClientGone());
        server.closeAllConnections();
        const t = performance.now();
        // Aborted generations stop at their next token: let them wind down
        // before freeing the model under them, but don't wait forever.
        setTimeout(() => {
            log("shutdown timed out; exiting");
            process.exit(0);
        }, 5000);
        (async () => {
            while (inFlight > 0 && performance.now() - t < 3000) await new Promise((r) => setTimeout(r, 10));
            await llama.dispose().catch((e) => log(`dispose failed: ${String(e)}`));
            log(`stopped in ${Math.round(performance.now() - t)} ms`);
            process.exit(0);
        })();
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));

    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(cfg.port, cfg.host, () => resolve(undefined));
    });
    const addr = server.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected server address");
    const host = addr.family === "IPv6" || addr.address.includes(":") ? `[${addr.address}]` : addr.address;
    process.stdout.write(`listening http://${host}:${addr.port}\n`);
}

main().catch((e) => {
    log(`fatal: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(1);
});
