#!/usr/bin/env node
// s3-fault-proxy.js - a fault-injecting HTTP proxy for tests: listens on loopback, forwards
// each request to an S3 endpoint (plain http) and, for a set share of requests chosen by a
// seeded random generator, does something a real store or network does now and then instead:
//   503     answers 503 SlowDown with S3's XML error body (the request is not forwarded)
//   500     answers 500 InternalError with S3's XML error body (not forwarded)
//   reset   resets the connection (TCP RST) as soon as the request line and headers arrive
//   stall   forwards the request (the store does the write) and withholds the answer for
//           --stall-ms, then closes the connection: the client cannot know the outcome
// Decisions are per request, not per connection: keep-alive connections stay open across
// requests that are forwarded or answered with 503/500. Requests are forwarded with their
// headers unchanged (Host included: SigV4 signs it, so the store checks what the client
// signed). One JSON line per request goes to --log (and stdout without it):
//   {"n":7,"conn":3,"method":"PUT","path":"/b/k","action":"503","status":503,"ms":1}
// SIGUSR1 turns faults off, SIGUSR2 back on (a test can set up cleanly, then break things).
// --match REGEX limits faults to the requests whose "METHOD PATH?QUERY" matches: e.g.
// '^PUT .*[?&]partNumber=2&' stalls the second part of every multipart upload, which holds a
// writer mid-upload for as long as a test needs.
// --delay-ms adds that much latency to every request before it is forwarded (benchmarks: a
// store farther away than loopback). --tls-cert/--tls-key make it listen with TLS (clients that
// insist on https, like pgBackRest), and an https --upstream is reached over TLS, checked
// against --upstream-ca.
// Prints "listening PORT" once it accepts connections. Needs only node's standard library.
'use strict';
const http = require('http');
const https = require('https');
const fs = require('fs');

const usage = `usage: s3-fault-proxy.js --upstream http://HOST:PORT [--port N] [--address A]
  [--fault-rate R] [--faults 503,500,reset,stall] [--seed N] [--stall-ms MS] [--log FILE]
  [--match REGEX] [--delay-ms MS] [--tls-cert FILE --tls-key FILE] [--upstream-ca FILE]
  --fault-rate  share of requests faulted, 0..1 [0.2]
  --faults      kinds to pick from, uniformly [503,500,reset,stall]
  --seed        seed of the generator: same seed, same decisions in request order [1]
  --match       fault only requests whose "METHOD PATH?QUERY" matches REGEX [all]
  --stall-ms    how long a stalled answer is withheld before the connection closes [30000]
  --delay-ms    latency added to every request before it is forwarded [0]
  --tls-cert, --tls-key   listen with TLS, this certificate and key [plain http]
  --upstream-ca CA file to check an https upstream's certificate with
  --port        TCP port, 0 for any [0]; --address loopback address [127.0.0.1]`;

function parseArgs(argv) {
  const o = { port: 0, address: '127.0.0.1', rate: 0.2, faults: ['503', '500', 'reset', 'stall'],
              seed: 1, stallMs: 30000, log: null, upstream: null, match: null, delayMs: 0,
              tlsCert: null, tlsKey: null, upstreamCa: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    const need = () => { if (v === undefined) die(`${a} needs a value`); i++; return v; };
    switch (a) {
      case '--port': o.port = int(need(), a); break;
      case '--address': o.address = need(); break;
      case '--fault-rate': o.rate = Number(need()); break;
      case '--faults': o.faults = need().split(',').filter(Boolean); break;
      case '--seed': o.seed = int(need(), a); break;
      case '--stall-ms': o.stallMs = int(need(), a); break;
      case '--delay-ms': o.delayMs = int(need(), a); break;
      case '--tls-cert': o.tlsCert = need(); break;
      case '--tls-key': o.tlsKey = need(); break;
      case '--upstream-ca': o.upstreamCa = need(); break;
      case '--log': o.log = need(); break;
      case '--match':
        try { o.match = new RegExp(need()); } catch (e) { die(`--match: ${e.message}`); }
        break;
      case '--upstream': o.upstream = new URL(need()); break;
      case '--help': process.stdout.write(usage + '\n'); process.exit(0); break;
      default: die(`unknown argument '${a}'`);
    }
  }
  if (!o.upstream || !['http:', 'https:'].includes(o.upstream.protocol)) die('--upstream http[s]://HOST:PORT is required');
  if (!o.tlsCert !== !o.tlsKey) die('--tls-cert and --tls-key go together');
  if (!(o.rate >= 0 && o.rate <= 1)) die('--fault-rate must be between 0 and 1');
  for (const f of o.faults) if (!['503', '500', 'reset', 'stall'].includes(f)) die(`unknown fault '${f}'`);
  if (o.faults.length === 0) die('--faults is empty');
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(o.address)) die('--address must be loopback');
  return o;
}
function int(s, what) {
  if (!/^\d+$/.test(s)) die(`${what} must be a number, not '${s}'`);
  return Number(s);
}
function die(msg) { process.stderr.write(`s3-fault-proxy: ${msg}\n${usage}\n`); process.exit(2); }

// mulberry32: a small seeded generator, so a failing run can be replayed with its seed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const opt = parseArgs(process.argv.slice(2));
const random = rng(opt.seed);
const logStream = opt.log ? fs.createWriteStream(opt.log, { flags: 'a' }) : process.stdout;
const upTls = opt.upstream.protocol === 'https:';
const upstreamAgent = upTls
  ? new https.Agent({ keepAlive: true, ca: opt.upstreamCa ? fs.readFileSync(opt.upstreamCa) : undefined })
  : new http.Agent({ keepAlive: true });
let faultsOn = true, nreq = 0, nconn = 0;
process.on('SIGUSR1', () => { faultsOn = false; record({ event: 'faults off' }); });
process.on('SIGUSR2', () => { faultsOn = true; record({ event: 'faults on' }); });

function record(o) { logStream.write(JSON.stringify(o) + '\n'); }

// decide: the fault for request `what` ("METHOD PATH"), or null to forward it. Draws the same
// number of values whatever the outcome, so decisions depend on the seed and request order only.
function decide(what) {
  const r = random(), k = random();
  if (!faultsOn || r >= opt.rate || (opt.match && !opt.match.test(what))) return null;
  return opt.faults[Math.min(opt.faults.length - 1, Math.floor(k * opt.faults.length))];
}

const S3_ERRORS = {
  503: ['SlowDown', 'Please reduce your request rate.'],
  500: ['InternalError', 'We encountered an internal error. Please try again.'],
};
function s3Error(req, res, status, n) {
  const [code, message] = S3_ERRORS[status];
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<RequestId>fault-proxy-${n}</RequestId></Error>`;
  // Read the whole request first: answering mid-upload would leave its body on a kept-alive
  // connection, which the next request would be parsed from.
  req.resume();
  req.on('end', () => {
    res.writeHead(status, { 'Content-Type': 'application/xml',
                            'Content-Length': req.method === 'HEAD' ? 0 : Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

function forward(req, res, entry, t0, stall) {
  const up = (upTls ? https : http).request({
    host: opt.upstream.hostname, port: opt.upstream.port || (upTls ? 443 : 80), method: req.method,
    path: req.url, headers: req.headers, agent: upstreamAgent, servername: opt.upstream.hostname,
  }, (ur) => {
    entry.upstream = ur.statusCode;
    if (stall) {
      // the store has done the request; the client never hears about it
      ur.resume();
      setTimeout(() => { req.socket.destroy(); record(Object.assign(entry, { ms: Date.now() - t0 })); },
                 opt.stallMs).unref();
      return;
    }
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
    ur.on('end', () => { entry.status = ur.statusCode; record(Object.assign(entry, { ms: Date.now() - t0 })); });
  });
  up.on('error', (e) => {
    entry.error = e.message;
    if (!res.headersSent) { res.writeHead(502); res.end(); } else req.socket.destroy();
    record(Object.assign(entry, { status: 502, ms: Date.now() - t0 }));
  });
  req.pipe(up);
}

function handle(req, res) {
  const n = ++nreq, action = decide(`${req.method} ${req.url}`), t0 = Date.now();
  const entry = { n, conn: req.socket.connId, method: req.method, path: req.url,
                  action: action || 'forward' };
  if (action === '503' || action === '500') {
    res.on('finish', () => record(Object.assign(entry, { status: Number(action), ms: Date.now() - t0 })));
    s3Error(req, res, Number(action), n);
  } else if (action === 'reset') {
    record(Object.assign(entry, { ms: 0 }));
    req.socket.resetAndDestroy();
  } else {
    forward(req, res, entry, t0, action === 'stall');
  }
}
const server = opt.tlsCert
  ? https.createServer({ keepAlive: true, cert: fs.readFileSync(opt.tlsCert), key: fs.readFileSync(opt.tlsKey) },
                       (req, res) => delayed(req, res))
  : http.createServer({ keepAlive: true }, (req, res) => delayed(req, res));
// The body waits in the socket (paused) while the request is held back.
function delayed(req, res) {
  if (opt.delayMs === 0) return handle(req, res);
  req.pause();
  setTimeout(() => handle(req, res), opt.delayMs);
}
// node's own limits would end a stalled or slow request before --stall-ms does
server.requestTimeout = 0;
server.headersTimeout = 0;
server.keepAliveTimeout = 60000;
server.on(opt.tlsCert ? 'secureConnection' : 'connection', (s) => { s.connId = ++nconn; });
server.on('clientError', (e, s) => { s.destroy(); });
server.on('error', (e) => { process.stderr.write(`s3-fault-proxy: ${e.code || e.message}\n`); process.exit(1); });
server.listen(opt.port, opt.address, () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
