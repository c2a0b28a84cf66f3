// Aggregate generation throughput of `hearth serve` with N slots against 1
// (run by hand; figures go to BENCHMARKS.md). 16 clients send at once
// (non-streaming by default, so that the client's own parsing of thousands
// of events per second does not take CPU from the server on a small
// machine; --stream to include it); tokens/s = all completion tokens / wall
// time from the first request to the last byte. Each configuration runs `--runs` times; the median is reported.
//
//   node tests/server/bench-throughput.mjs [--model FILE] [--tokens 128] [--clients 16] [--slots 1,4] [--runs 3] [--stream]
import { parseArgs } from 'node:util';
import { startServer, model } from './lib.mjs';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', default: model('stories260K.gguf') },
    tokens: { type: 'string', default: '128' },
    clients: { type: 'string', default: '16' },
    slots: { type: 'string', default: '1,4' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '' },
    stream: { type: 'boolean', default: false },
  },
});
const tokens = Number(opt.tokens);
const clients = Number(opt.clients);

async function once(url) {
  const one = async (i) => {
    const r = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      // Sampled (a fixed seed per client) so no request ends early at the
      // greedy text's end-of-story; ignore the text, count the tokens.
      body: JSON.stringify({ prompt: `Once upon a time, ${i}`, max_tokens: tokens, temperature: 0.8, seed: i,
        ...(opt.stream ? { stream: true, stream_options: { include_usage: true } } : {}) }),
    });
    if (!opt.stream) return (await r.json()).usage.completion_tokens;
    const text = await r.text();
    const usage = text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)))
      .find((c) => c.usage)?.usage;
    return usage.completion_tokens;
  };
  const t0 = performance.now();
  const counts = await Promise.all(Array.from({ length: clients }, (_, i) => one(i)));
  const secs = (performance.now() - t0) / 1000;
  const n = counts.reduce((a, b) => a + b, 0);
  return { n, secs, rate: n / secs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const slots of opt.slots.split(',').map(Number)) {
  const args = ['--model', opt.model, '--parallel', String(slots), '--no-access-log', '--queue', '256'];
  if (opt.threads) args.push('--threads', opt.threads);
  const server = await startServer(args);
  await once(server.url);  // warm-up
  const rates = [];
  for (let r = 0; r < Number(opt.runs); r++) {
    const { n, secs, rate } = await once(server.url);
    rates.push(rate);
    console.log(`slots ${slots}: ${n} tokens in ${secs.toFixed(2)} s = ${rate.toFixed(0)} tokens/s`);
  }
  await server.stop();
  results[slots] = median(rates);
}
const [base, ...rest] = Object.keys(results).map(Number);
console.log(`\nmodel ${opt.model}, ${clients} clients x ${tokens} tokens, median of ${opt.runs}:`);
for (const s of [base, ...rest]) {
  console.log(`  ${s} slot(s): ${results[s].toFixed(0)} tokens/s (${(results[s] / results[base]).toFixed(2)}x)`);
}
