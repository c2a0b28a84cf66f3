// A bounded load test of `hearth serve` on loopback (run by hand, not by
// ctest): a few thousand mixed valid and invalid requests from many
// concurrent clients, then checks that the server is alive, no slot or
// stream leaked, and its memory came back near the level it had after
// warm-up. Prints the figures recorded in BENCHMARKS.md.
//
//   node tests/server/load-test.mjs [--model FILE] [--requests 3000] [--concurrency 32] [--parallel 4]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startServer, model, rawRequest, metric, eventually, sleep } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: model('stories260K.gguf') },
    requests: { type: 'string', default: '3000' },
    concurrency: { type: 'string', default: '32' },
    parallel: { type: 'string', default: '4' },
  },
});
const KEY = 'load-test-key';
const total = Number(opt.requests);
const concurrency = Number(opt.concurrency);

const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]);
const threads = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/Threads:\s+(\d+)/)[1]);

const server = await startServer(['--model', opt.model, '--parallel', opt.parallel, '--api-key', KEY,
  '--max-body', String(1 << 20), '--queue', '64', '--no-access-log']);
const url = server.url;
const auth = { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' };
const msgs = (i) => [{ role: 'user', content: `Request ${i}: tell me something.` }];

// Each kind: how to send it and which statuses count as correct.
const kinds = [
  { name: 'chat', ok: [200, 429], send: (i) => post('/v1/chat/completions', { messages: msgs(i), max_tokens: 8, seed: i }) },
  { name: 'chat-stream', ok: [200, 429], send: (i) => post('/v1/chat/completions', { messages: msgs(i), max_tokens: 8, stream: true }) },
  { name: 'completion', ok: [200, 429], send: (i) => post('/v1/completions', { prompt: `Once upon a time ${i}`, max_tokens: 8 }) },
  { name: 'ollama-chat', ok: [200, 429], send: (i) => post('/api/chat', { model: 'm', messages: msgs(i), options: { num_predict: 8 } }) },
  { name: 'embedding', ok: [200], send: (i) => post('/v1/embeddings', { input: `text ${i}` }) },
  { name: 'models', ok: [200], send: () => get('/v1/models') },
  { name: 'metrics', ok: [200], send: () => get('/metrics') },
  { name: 'bad-json', ok: [400], send: () => raw('/v1/chat/completions', '{"messages": [') },
  { name: 'bad-type', ok: [400], send: (i) => post('/v1/chat/completions', { messages: msgs(i), max_tokens: 'lots' }) },
  { name: 'bad-range', ok: [400], send: (i) => post('/api/generate', { prompt: 'x', options: { num_predict: -7 } }) },
  { name: 'too-long-prompt', ok: [400], send: () => post('/v1/completions', { prompt: 'word '.repeat(5000), max_tokens: 1 }) },
  { name: 'oversized', ok: [413], send: () => raw('/v1/completions', JSON.stringify({ prompt: 'x'.repeat(1 << 21) })) },
  { name: 'no-key', ok: [401], send: () => rawRequest(`${url}/v1/models`) },
  { name: 'foreign-host', ok: [403], send: () => rawRequest(`${url}/v1/models`, { headers: { ...auth, Host: 'evil.example' } }) },
  { name: 'not-found', ok: [404], send: () => get('/v2/nothing') },
  { name: 'abandoned-stream', ok: [200, 429], send: (i) => abandon('/v1/completions', { prompt: `Story ${i}`, max_tokens: 400, stream: true }) },
];

async function post(path, body) { return raw(path, JSON.stringify(body)); }
async function raw(path, body) {
  const r = await fetch(url + path, { method: 'POST', headers: auth, body });
  await r.arrayBuffer();
  return { status: r.status };
}
async function get(path) {
  const r = await fetch(url + path, { headers: auth });
  await r.arrayBuffer();
  return { status: r.status };
}
// Reads the first event of a stream, then hangs up.
async function abandon(path, body) {
  const ctrl = new AbortController();
  const r = await fetch(url + path, { method: 'POST', headers: auth, body: JSON.stringify(body), signal: ctrl.signal });
  if (r.status === 200) await r.body.getReader().read();
  ctrl.abort();
  return { status: r.status };
}

async function round(label, n) {
  const stats = new Map(kinds.map((k) => [k.name, { n: 0, wrong: 0, statuses: {}, ms: [] }]));
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const kind = kinds[i % kinds.length];
      const s = stats.get(kind.name);
      const t = performance.now();
      let status;
      try {
        status = (await kind.send(i)).status;
      } catch (e) {
        status = `error: ${e.cause?.code ?? e.message}`;
      }
      s.ms.push(performance.now() - t);
      s.n++;
      s.statuses[status] = (s.statuses[status] ?? 0) + 1;
      if (!kind.ok.includes(status)) s.wrong++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const secs = (performance.now() - t0) / 1000;
  console.log(`\n== ${label}: ${n} requests, ${concurrency} clients, ${secs.toFixed(1)} s, ${(n / secs).toFixed(0)} requests/s`);
  let wrong = 0;
  for (const [name, s] of stats) {
    s.ms.sort((a, b) => a - b);
    const p = (q) => s.ms[Math.min(s.ms.length - 1, Math.floor(q * s.ms.length))].toFixed(1);
    console.log(`${name.padEnd(18)} n=${String(s.n).padStart(4)} p50=${p(0.5).padStart(7)} ms p99=${p(0.99).padStart(7)} ms ` +
      `statuses ${JSON.stringify(s.statuses)}${s.wrong ? `  <-- ${s.wrong} unexpected` : ''}`);
    wrong += s.wrong;
  }
  return wrong;
}

async function settle() {
  const ok = await eventually(async () => {
    const m = await (await fetch(`${url}/metrics`, { headers: auth })).text();
    return metric(m, 'hearth_slots_busy') === 0 && metric(m, 'hearth_queue_depth') === 0 && metric(m, 'hearth_streams_open') === 0;
  }, 10000);
  await sleep(6000);  // idle keep-alive connections time out (5 s), their threads go idle
  return ok;
}

let failures = 0;
await round('warm-up', 400);
await settle();
const baseline = rssKiB(server.proc.pid);
console.log(`\nRSS after warm-up: ${(baseline / 1024).toFixed(1)} MiB, ${threads(server.proc.pid)} threads`);
failures += await round('load', total);
if (!(await settle())) { console.log('FAIL: a slot, queue entry or stream did not come back'); failures++; }
const after1 = rssKiB(server.proc.pid);
failures += await round('load again', total);
if (!(await settle())) { console.log('FAIL: a slot, queue entry or stream did not come back'); failures++; }
const after2 = rssKiB(server.proc.pid);
const m = await (await fetch(`${url}/metrics`, { headers: auth })).text();
console.log(`\nRSS: after warm-up ${(baseline / 1024).toFixed(1)} MiB, after load ${(after1 / 1024).toFixed(1)} MiB, ` +
  `after a second load ${(after2 / 1024).toFixed(1)} MiB (growth between the loads: ${((after2 - after1) / 1024).toFixed(1)} MiB)`);
console.log(`slots_busy ${metric(m, 'hearth_slots_busy')}, queue_depth ${metric(m, 'hearth_queue_depth')}, ` +
  `streams_open ${metric(m, 'hearth_streams_open')}, 429s ${metric(m, 'hearth_requests_rejected_busy_total')}`);
const alive = await rawRequest(`${url}/health`);
if (alive.status !== 200) { console.log('FAIL: server not healthy'); failures++; }
if (after2 - after1 > 16 * 1024) { console.log('FAIL: memory kept growing between two identical loads'); failures++; }
const { code } = await server.stop();
if (code !== 0) { console.log(`FAIL: exit status ${code} after SIGTERM`); failures++; }
console.log(failures ? `\nload test: ${failures} problem(s)` : '\nload test: ok');
process.exit(failures ? 1 : 0);
