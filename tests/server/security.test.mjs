// Safe defaults, checked against a real server: exposure refused without a
// key, API key, Host check, CORS, body limit, strict field validation,
// cancellation when a client disconnects, graceful shutdown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startServer, model, run, hearthBin, freePort, rawRequest, metric, eventually, sleep } from './lib.mjs';

const KEY = 'test-key-6f1d';
const auth = { Authorization: `Bearer ${KEY}` };
let server;

before(async () => {
  server = await startServer(['--model', model('qwen2-Q8_0.gguf'), '--api-key', KEY, '--max-body', '65536',
    '--parallel', '2', '--ctx-size', '2048', '--threads', '1', '--cors-origin', 'http://localhost:5173']);
});
after(async () => {
  if (server) assert.equal((await server.stop()).code, 0);
});

function assertOpenAiError(r, status, pattern) {
  assert.equal(r.status, status, r.body);
  const body = JSON.parse(r.body);
  assert.equal(typeof body.error.message, 'string');
  assert.equal(typeof body.error.type, 'string');
  assert.ok('param' in body.error && 'code' in body.error, r.body);
  assert.match(body.error.message, pattern);
  return body.error;
}

test('a non-loopback bind without --api-key refuses to start; --no-auth starts with a warning', async () => {
  const port = await freePort();
  const r = await run(hearthBin, ['serve', '--model', model('qwen2-Q8_0.gguf'), '--host', '0.0.0.0', '--port', String(port)]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not a loopback address.*--api-key/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one clear line');

  const open = await startServer(['--model', model('qwen2-Q8_0.gguf'), '--host', '0.0.0.0', '--no-auth']);
  try {
    assert.match(open.stderr(), /warning: .*without an API key/);
  } finally {
    assert.equal((await open.stop()).code, 0);
  }
});

test('a missing or wrong API key gets 401; /health stays open', async () => {
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
  const headers = { 'Content-Type': 'application/json' };
  let r = await rawRequest(`${server.url}/v1/chat/completions`, { method: 'POST', headers, body });
  assertOpenAiError(r, 401, /API key/);
  assert.equal(r.headers['www-authenticate'], 'Bearer');
  r = await rawRequest(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { ...headers, Authorization: 'Bearer nope' }, body });
  assertOpenAiError(r, 401, /API key/);
  r = await rawRequest(`${server.url}/api/tags`);
  assert.equal(r.status, 401);
  assert.match(JSON.parse(r.body).error, /API key/, 'Ollama-shaped error on /api');
  assert.equal((await rawRequest(`${server.url}/health`)).status, 200);

  const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'nope', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  const right = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  assert.equal((await right.models.list()).data.length, 1);
  const ollama = new Ollama({ host: server.url, headers: auth });
  assert.equal((await ollama.list()).models.length, 1);
});

test('a foreign Host header gets 403 (DNS rebinding)', async () => {
  let r = await rawRequest(`${server.url}/v1/models`, { headers: { ...auth, Host: 'evil.example' } });
  assertOpenAiError(r, 403, /Host 'evil.example' is not allowed/);
  r = await rawRequest(`${server.url}/health`, { headers: { Host: 'localhost.evil.example:8080' } });
  assert.equal(r.status, 403);
  r = await rawRequest(`${server.url}/v1/models`, { headers: { ...auth, Host: `localhost:${server.port}` } });
  assert.equal(r.status, 200);
});

test('CORS: a disallowed Origin gets no CORS headers; the configured one does', async () => {
  let r = await rawRequest(`${server.url}/v1/models`, { headers: { ...auth, Origin: 'http://evil.example' } });
  assert.equal(r.status, 403);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  r = await rawRequest(`${server.url}/v1/chat/completions`, {
    method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
  });
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assert.notEqual(r.status, 204);

  r = await rawRequest(`${server.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://localhost:5173', 'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,content-type' },
  });
  assert.equal(r.status, 204);
  assert.equal(r.headers['access-control-allow-origin'], 'http://localhost:5173');
  assert.match(r.headers['access-control-allow-headers'], /authorization/);
  r = await rawRequest(`${server.url}/v1/models`, { headers: { ...auth, Origin: 'http://localhost:5173' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'http://localhost:5173');
});

test('an oversized body gets 413', async () => {
  const body = JSON.stringify({ prompt: 'x'.repeat(200000), max_tokens: 1 });
  const r = await rawRequest(`${server.url}/v1/completions`, {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body,
  });
  assertOpenAiError(r, 413, /larger than the limit of 65536 bytes/);
});

test('malformed JSON and wrong types get 400 in OpenAI\'s error shape', async () => {
  const post = (body) => rawRequest(`${server.url}/v1/chat/completions`, {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body,
  });
  assertOpenAiError(await post('{"messages": [}'), 400, /invalid JSON/);
  assertOpenAiError(await post('"just a string"'), 400, /must be a JSON object/);
  const msgs = '"messages": [{"role": "user", "content": "hi"}]';
  const cases = [
    [`{${msgs}, "max_tokens": "10"}`, 'max_tokens'],
    [`{${msgs}, "max_tokens": -1}`, 'max_tokens'],
    [`{${msgs}, "max_tokens": 99999999999}`, 'max_tokens'],
    [`{${msgs}, "temperature": [1]}`, 'temperature'],
    [`{${msgs}, "top_p": 1.5}`, 'top_p'],
    [`{${msgs}, "top_logprobs": 3, "logprobs": true, "seed": "x"}`, 'seed'],
    [`{${msgs}, "stop": [1, 2]}`, 'stop[0]'],
    [`{${msgs}, "stream": "yes"}`, 'stream'],
    ['{"messages": [{"role": "user", "content": 42}]}', 'messages[0].content'],
    ['{"messages": {}}', 'messages'],
  ];
  for (const [body, param] of cases) {
    const e = assertOpenAiError(await post(body), 400, new RegExp(param.replace(/[[\]]/g, '\\$&')));
    assert.equal(e.param, param, body);
    assert.equal(e.type, 'invalid_request_error');
  }
});

test('a client that disconnects mid-stream frees its slot', async () => {
  const ctrl = new AbortController();
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 2000, temperature: 0, stream: true }),
    signal: ctrl.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await reader.read();  // the first event: generation is under way
  const busy = await (await fetch(`${server.url}/api/ps`, { headers: auth })).json();
  assert.equal(busy.hearth.slots_busy, 1, 'the stream holds a slot');
  ctrl.abort();
  const freed = await eventually(async () => {
    const m = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
    return metric(m, 'hearth_slots_busy') === 0 && metric(m, 'hearth_streams_open') === 0;
  });
  assert.ok(freed, 'slots_busy back to 0');
  // Cancelled, not run to the end: the log notes the disconnect, and the
  // engine reported far fewer tokens than were asked for.
  const line = await eventually(() => server.stderr().split('\n').find((l) => l.includes('"finish":"disconnected"')));
  assert.ok(line, server.stderr().slice(-2000));
  const m = await (await fetch(`${server.url}/metrics`, { headers: auth })).text();
  assert.ok(metric(m, 'hearth_completion_tokens_total') < 1000, m);
});

test('SIGTERM lets a running stream finish, refuses new work, then exits 0', async () => {
  const s = await startServer(['--model', model('qwen2-Q8_0.gguf'), '--ctx-size', '2048', '--threads', '1']);
  const res = await fetch(`${s.url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ prompt: 'Once', max_tokens: 1500, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  const reader = res.body.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  s.proc.kill('SIGTERM');
  await sleep(100);
  const refused = await fetch(`${s.url}/v1/models`).then((r) => r.status, () => 'connection refused');
  assert.ok(refused === 503 || refused === 'connection refused', `new request during shutdown: ${refused}`);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  assert.ok(text.endsWith('data: [DONE]\n\n'), text.slice(-200));
  const usage = JSON.parse(text.split('\n\n').filter((e) => e.startsWith('data: {')).pop().slice(6)).usage;
  assert.equal(usage.completion_tokens, 1500, 'the stream ran to its end');
  const { code } = await s.exited;
  assert.equal(code, 0);
});
