// Greedy output through the API equals `hearth run --temp 0`, and 16
// simultaneous streams over 4 slots each give exactly their single-request
// text (continuous batching must not change results).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, model, run, hearthBin } from './lib.mjs';

const N = 24;
const cases = [
  { file: 'stories260K.gguf', prompt: 'Once upon a time' },
  { file: 'qwen2-Q8_0.gguf', prompt: 'The quick brown fox' },
  { file: 'llama-spm-Q8_0.gguf', prompt: 'Hello there, friend' },
];

const servers = {};
before(async () => {
  for (const c of cases) {
    servers[c.file] = await startServer(['--model', model(c.file), '--parallel', '4', '--threads', '1']);
  }
});
after(async () => {
  for (const s of Object.values(servers)) assert.equal((await s.stop()).code, 0);
});

// What `hearth run` prints for the continuation (it ends with one newline).
async function hearthRun(file, prompt, n) {
  const r = await run(hearthBin, ['run', '--model', model(file), '--temp', '0', '--no-echo', '-p', prompt, '-n', String(n),
    '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout.toString('utf8');
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1);
}

for (const c of cases) {
  test(`/v1/completions greedy text equals hearth run (${c.file})`, async () => {
    const expected = await hearthRun(c.file, c.prompt, N);
    const client = new OpenAI({ baseURL: `${servers[c.file].url}/v1`, apiKey: 'x', maxRetries: 0 });
    const r = await client.completions.create({ model: 'm', prompt: c.prompt, max_tokens: N, temperature: 0 });
    assert.ok(expected.length > 0);
    assert.equal(r.choices[0].text, expected);
    if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, N);
  });
}

test('16 simultaneous streams over 4 slots match their single-request results', async () => {
  const s = servers['qwen2-Q8_0.gguf'];
  const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const prompts = Array.from({ length: 16 }, (_, i) => `Request ${i}: write about the number ${i * 7 + 3}.`);
  const streamOne = async (content) => {
    const stream = await client.chat.completions.create({
      model: 'm', messages: [{ role: 'user', content }], temperature: 0, max_tokens: 20, stream: true,
    });
    let text = '';
    let finish = null;
    for await (const chunk of stream) {
      for (const ch of chunk.choices) {
        text += ch.delta.content ?? '';
        finish = ch.finish_reason ?? finish;
      }
    }
    return { text, finish };
  };
  const single = [];
  for (const p of prompts) single.push(await streamOne(p));
  const t0 = Date.now();
  const together = await Promise.all(prompts.map(streamOne));
  const ms = Date.now() - t0;
  for (let i = 0; i < prompts.length; i++) {
    assert.ok(together[i].finish, `stream ${i} finished`);
    assert.deepEqual(together[i], single[i], `stream ${i} differs from its single-request result`);
  }
  const metrics = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(metrics, /^hearth_slots 4$/m);
  console.log(`# 16 concurrent streams in ${ms} ms`);
});
