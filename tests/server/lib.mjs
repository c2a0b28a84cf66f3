// Helpers for the `hearth serve` end-to-end tests: locating the binary and
// the shared models, starting a server on a free loopback port, raw HTTP.
import { spawn, execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');

// $HEARTH_BIN (ctest sets it to the build's binary), else build/hearth.
export const hearthBin = process.env.HEARTH_BIN || path.join(repoRoot, 'build', 'hearth');
// $HEARTH_SHARED_DIR, else ../shared beside the repository.
export const sharedDir = process.env.HEARTH_SHARED_DIR || path.resolve(repoRoot, '..', 'shared');
export const model = (name) => path.join(sharedDir, 'models', name);

export function missingPrerequisites() {
  const missing = [];
  if (!existsSync(path.join(here, 'node_modules', 'openai')) || !existsSync(path.join(here, 'node_modules', 'ollama'))) {
    missing.push('tests/server/node_modules (run scripts/setup, or npm ci in tests/server)');
  }
  if (!existsSync(path.join(sharedDir, 'models'))) missing.push(`shared test data (${sharedDir})`);
  if (!existsSync(hearthBin)) missing.push(`the hearth binary (${hearthBin})`);
  return missing;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `hearth serve` and waits until /health says ok. Returns
// { url, port, proc, stderr(), exited, stop() }.
export async function startServer(args, { timeoutMs = 30000, env = {} } = {}) {
  const port = await freePort();
  const proc = spawn(hearthBin, ['serve', '--port', String(port), ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  let gone = null;
  exited.then((r) => { gone = r; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone) throw new Error(`hearth serve exited (${JSON.stringify(gone)}) before it was ready:\n${stderr}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`hearth serve did not become ready in ${timeoutMs} ms:\n${stderr}`);
    }
    await sleep(50);
  }
  return {
    url, port, proc, exited,
    stderr: () => stderr,
    async stop() {
      if (!gone) proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), 20000); });
      const r = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (!r) { proc.kill('SIGKILL'); throw new Error('hearth serve did not exit within 20 s of SIGTERM'); }
      return r;
    },
  };
}

// Runs a command; resolves { code, stdout (Buffer), stderr }.
export function run(file, args, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? -1) : 0, stdout, stderr: stderr.toString() });
    });
  });
}

// A raw HTTP request (node:http lets tests set Host and Origin, which
// fetch forbids). Resolves { status, headers, body }.
export function rawRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// The value of an unlabelled Prometheus sample, or NaN.
export function metric(text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

// Polls fn() until it returns truthy or the time is up; returns the last value.
export async function eventually(fn, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  let v;
  while (!(v = await fn()) && Date.now() < deadline) await sleep(50);
  return v;
}
