// The official `openai` and `ollama` npm clients, and curl, against a real
// `hearth serve` on a loopback port (qwen2: no chat template in the file, so
// the ChatML fallback; its vocabulary has <|im_start|>/<|im_end|>).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { startServer, model, run } from './lib.mjs';

let server;
let openai;
let ollama;
const MODEL = 'qwen2-Q8_0';
const messages = [{ role: 'user', content: 'Tell me a story about a lighthouse.' }];

before(async () => {
  server = await startServer(['--model', model('qwen2-Q8_0.gguf'), '--parallel', '2', '--threads', '1']);
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  ollama = new Ollama({ host: server.url });
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, 'SIGTERM must end the server with status 0');
});

test('openai: chat completion, non-streaming and streaming agree (greedy)', async () => {
  const plain = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 12 });
  assert.equal(plain.object, 'chat.completion');
  assert.equal(plain.model, MODEL);
  const choice = plain.choices[0];
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(['stop', 'length'].includes(choice.finish_reason));
  assert.ok(plain.usage.prompt_tokens > 5);
  assert.ok(plain.usage.completion_tokens >= 1 && plain.usage.completion_tokens <= 12);
  assert.equal(plain.usage.total_tokens, plain.usage.prompt_tokens + plain.usage.completion_tokens);

  const stream = await openai.chat.completions.create({
    model: MODEL, messages, temperature: 0, max_tokens: 12, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks >= 3, 'role chunk, content, finish');
  assert.equal(text, choice.message.content, 'streamed text equals the non-streamed text');
  assert.equal(finish, choice.finish_reason);
  assert.deepEqual(
    { p: usage.prompt_tokens, c: usage.completion_tokens },
    { p: plain.usage.prompt_tokens, c: plain.usage.completion_tokens },
  );
});

test('openai: a follow-up turn reuses the cached conversation prefix', async () => {
  const first = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 6 });
  const followUp = [...messages, first.choices[0].message, { role: 'user', content: 'And then?' }];
  const second = await openai.chat.completions.create({ model: MODEL, messages: followUp, temperature: 0, max_tokens: 4 });
  assert.ok(second.usage.prompt_tokens > first.usage.prompt_tokens);
  assert.ok(second.usage.prompt_tokens_details.cached_tokens >= first.usage.prompt_tokens - 1,
    `cached ${second.usage.prompt_tokens_details.cached_tokens} of a ${first.usage.prompt_tokens}-token prefix`);
});

test('openai: completions with a stop string end before it', async () => {
  const prompt = 'The lighthouse keeper said';
  const full = await openai.completions.create({ model: MODEL, prompt, temperature: 0, max_tokens: 16 });
  assert.equal(full.object, 'text_completion');
  const text = full.choices[0].text;
  assert.ok(text.length >= 6, `need some text to cut: ${JSON.stringify(text)}`);
  // A stop string taken from the middle of the greedy output.
  const at = Math.floor(text.length / 2);
  const stop = text.slice(at, at + 2);
  const cut = await openai.completions.create({ model: MODEL, prompt, temperature: 0, max_tokens: 16, stop: [stop] });
  assert.equal(cut.choices[0].text, text.slice(0, text.indexOf(stop)));
  assert.equal(cut.choices[0].finish_reason, 'stop');
});

test('openai: models and embeddings', async () => {
  const models = await openai.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [MODEL]);

  // The client asks for base64 by default and decodes it.
  const e = await openai.embeddings.create({ model: MODEL, input: ['a red apple', 'a red apple', 'quantum physics'] });
  assert.equal(e.data.length, 3);
  const [a, b, c] = e.data.map((d) => d.embedding);
  assert.equal(a.length, 256, 'qwen2 synthetic n_embd');
  const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-4, `normalised (norm ${norm})`);
  assert.deepEqual(a, b, 'same text, same vector');
  assert.notDeepEqual(a, c);
  assert.ok(e.usage.prompt_tokens > 0);
  const f = await openai.embeddings.create({ model: MODEL, input: 'a red apple', encoding_format: 'float' });
  assert.ok(f.data[0].embedding.every((x, i) => Math.abs(x - a[i]) < 1e-6), 'float and base64 agree');
});

test('openai: invalid parameters raise BadRequestError naming the field', async () => {
  await assert.rejects(
    openai.chat.completions.create({ model: MODEL, messages, temperature: 5 }),
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.error?.param === 'temperature'
      && /temperature/.test(err.message),
  );
  await assert.rejects(
    openai.chat.completions.create({ model: MODEL, messages, n: 2 }),
    (err) => err.status === 400 && err.error?.param === 'n',
  );
  await assert.rejects(
    openai.completions.create({ model: MODEL, prompt: 'x', max_tokens: -3 }),
    (err) => err.status === 400 && err.error?.param === 'max_tokens',
  );
});

test('ollama: chat (stream and not), generate, tags, show, ps, version', async () => {
  const options = { temperature: 0, num_predict: 10 };
  const plain = await ollama.chat({ model: MODEL, messages, options });
  assert.equal(plain.done, true);
  assert.equal(plain.message.role, 'assistant');
  assert.ok(['stop', 'length'].includes(plain.done_reason));
  assert.ok(plain.prompt_eval_count > 5);
  assert.ok(plain.eval_count >= 1 && plain.eval_count <= 10);
  assert.ok(plain.total_duration > 0);
  assert.match(plain.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);

  let text = '';
  let last = null;
  for await (const part of await ollama.chat({ model: MODEL, messages, options, stream: true })) {
    text += part.message.content;
    last = part;
  }
  assert.equal(text, plain.message.content, 'streamed chat equals the non-streamed one (greedy)');
  assert.equal(last.done, true);
  assert.equal(last.eval_count, plain.eval_count);

  const gen = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', options });
  assert.equal(gen.done, true);
  assert.equal(typeof gen.response, 'string');
  const raw = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', raw: true, options });
  assert.ok(raw.prompt_eval_count < gen.prompt_eval_count, 'raw skips the chat template');

  const tags = await ollama.list();
  assert.equal(tags.models.length, 1);
  assert.equal(tags.models[0].name, MODEL);
  assert.equal(tags.models[0].details.family, 'qwen2');
  assert.equal(tags.models[0].details.quantization_level, 'Q8_0');
  const show = await ollama.show({ model: MODEL });
  assert.equal(show.model_info['qwen2.embedding_length'], 256);
  assert.match(show.template, /im_start/);
  const ps = await ollama.ps();
  assert.equal(ps.models[0].name, MODEL);
  const version = await ollama.version();
  assert.equal(typeof version.version, 'string');

  await assert.rejects(ollama.chat({ model: MODEL, messages, options: { num_predict: 'many' } }),
    (err) => err.status_code === 400 && /options\.num_predict/.test(err.error));
});

test('curl: server-sent event framing', async () => {
  const body = JSON.stringify({ model: MODEL, messages, temperature: 0, max_tokens: 5, stream: true });
  const r = await run('curl', ['-sS', '-N', '-i', '-H', 'Content-Type: application/json', '-d', body,
    `${server.url}/v1/chat/completions`]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout.toString();
  const split = out.indexOf('\r\n\r\n');
  const head = out.slice(0, split);
  const events = out.slice(split + 4);
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, /\r\nContent-Type: text\/event-stream\r\n/i);
  assert.match(head, /\r\nCache-Control: no-cache\r\n/i);
  assert.ok(events.endsWith('data: [DONE]\n\n'), `ends with [DONE]: ${JSON.stringify(events.slice(-40))}`);
  const frames = events.split('\n\n').slice(0, -1);
  assert.ok(frames.length >= 4);
  for (const f of frames) {
    assert.ok(f.startsWith('data: '), `every event is one data line: ${JSON.stringify(f)}`);
    assert.ok(!f.includes('\n'));
    if (f !== 'data: [DONE]') JSON.parse(f.slice(6));
  }
});
