#!/usr/bin/env node
// Interop check for `minebench pool`: mine against it with a Stratum v1 client
// written by someone else, the npm package `stratum` (pocesar/node-stratum).
//
//   node client.js HOST PORT [MIN_SPAN_SECONDS]
//
// Connects, subscribes, authorizes as worker "npm-stratum", waits for
// mining.set_difficulty and mining.notify, then submits
//   - 5 shares that meet the share target   -> expects result true
//   - 1 share that does NOT meet the target -> expects error code 23
//   - the first share again                 -> expects error code 22
// Exits 0 with a one-line summary if every expectation held, non-zero with a
// message otherwise. The whole run is capped at 60 s.
//
// The last valid share is held back until MIN_SPAN_SECONDS (default 1.5) after
// the first one was accepted: `minebench pool` only turns a closed connection
// into a report case when its accepted shares span at least one --sample
// window (default 1 s); a faster run is listed under `skipped` instead
// ("shares for less than one 1s window").
//
// Everything on the wire (connect, JSON framing, request ids, subscribe /
// authorize / submit requests, parsing of responses and of the
// set_difficulty / notify broadcasts) goes through the package's Client. The
// header, merkle root and share check are computed here from the standard
// Stratum conventions, independently of minebench's code.
//
// package.json overrides stratum's `uuid: "*"` dependency to 9.0.1: "*" now
// resolves to uuid 14, which is ESM-only and which stratum's require('uuid')
// can only load on Node >= 20.19 / 22.12 (require of ESM); 9.0.1 also loads on
// the Node 18 that Debian 12's apt installs.
//
// Three defects of stratum@0.2.4's Client are worked around below, and one
// difference noted (the pool is not at fault for any of them):
//   0. The Client constructor binds its socket 'data' handler with
//      better-curry's predefine(handleData, [self]). better-curry@1.6.0 (the
//      only published version; stratum depends on "*") keeps appending call
//      arguments to the predefined list and returns the first call's argument
//      forever: predefine(fn, ['self']) called with 'chunk1', 'chunk2' passes
//      ('self', 'chunk1') both times. So every TCP chunk after the first is
//      processed as a replay of the first one (the subscribe response comes
//      back again where the authorize response should be). The library also
//      splits each chunk on '\n' without carrying a partial line over to the
//      next chunk. We replace that listener with one that frames complete
//      lines and hands them to the library's own Client#handleData.
//   1. Client#stratumSend registers `pending[data.id || this.currentId++]`, but
//      every request is built with `id: this.currentId`, so the id never
//      advances and every request goes out as id 1. We advance
//      `client.currentId` ourselves after each request so ids are unique and
//      responses can be matched to requests.
//   2. Client#fullfill does `throw new Error(command)` on any response whose
//      `error` is set; the throw is caught and re-emitted as 'mining.error'
//      with the message "[object Object]", so the error code and the request id
//      are lost. We wrap fullfill on the instance to hand error responses to
//      the waiting request instead (everything else still goes through the
//      library's own fullfill).
//   3. (A difference, not a client defect.) The library's own Server uses
//      negative error codes (-23 'Low difficulty share', ...). The Stratum
//      convention, which minebench follows, is positive (23); this check
//      expects the positive codes.
'use strict';

const crypto = require('crypto');
const stratum = require('stratum');
const STRATUM_VERSION = require('stratum/package.json').version;

const WORKER = 'npm-stratum';
const PASSWORD = 'x';
const N_VALID = 5;
const TIMEOUT_MS = 60 * 1000;
const CHUNK = 20000; // nonces per slice before yielding to the event loop

const host = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3]);
const minSpanS = process.argv[4] === undefined ? 1.5 : Number(process.argv[4]);
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !(minSpanS >= 0) || minSpanS > 30) {
  console.error('usage: node client.js HOST PORT [MIN_SPAN_SECONDS (0..30, default 1.5)]');
  process.exit(2);
}

let stage = 'connecting';
let finished = false;
const t0 = Date.now();

function fail(msg) {
  if (finished) return;
  finished = true;
  console.error(`stratum-interop: FAIL (${stage}): ${msg}`);
  process.exit(1);
}

setTimeout(() => fail(`timed out after ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);

// ---------------------------------------------------------------- hashing --

function sha256d(buf) {
  const once = crypto.createHash('sha256').update(buf).digest();
  return crypto.createHash('sha256').update(once).digest();
}

function hexBytes(hex, what, len) {
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new Error(`${what} is not a hex string: ${JSON.stringify(hex)}`);
  }
  const b = Buffer.from(hex, 'hex');
  if (len !== undefined && b.length !== len) {
    throw new Error(`${what} is ${b.length} bytes, expected ${len}: ${hex}`);
  }
  return b;
}

// notify's prevhash carries the header bytes with each 4-byte word reversed.
function prevhashToHeaderBytes(hex) {
  const b = hexBytes(hex, 'prevhash', 32);
  for (let i = 0; i < 32; i += 4) {
    b.subarray(i, i + 4).reverse();
  }
  return b;
}

function be32(hex, what) {
  return hexBytes(hex, what, 4).readUInt32BE(0);
}

const DIFF1 = 0xffffn << 208n; // 0x00000000ffff0000...0000

// share target = diff1 / difficulty; the difficulty may be fractional.
function shareTarget(difficulty) {
  if (typeof difficulty !== 'number' || !(difficulty > 0) || !Number.isFinite(difficulty)) {
    throw new Error(`unusable difficulty ${JSON.stringify(difficulty)}`);
  }
  const SCALE = 10n ** 18n;
  const scaled = BigInt(Math.round(difficulty * 1e18));
  if (scaled === 0n) throw new Error(`difficulty ${difficulty} too small`);
  return (DIFF1 * SCALE) / scaled;
}

// The hash is compared as a 256-bit little-endian number (byte 31 most significant).
function hashValue(h) {
  return BigInt('0x' + Buffer.from(h).reverse().toString('hex'));
}

function meets(h, target, topByte) {
  if (h[31] > topByte) return false; // fast reject without BigInt
  return hashValue(h) <= target;
}

// 80-byte header with nonce 0; the caller writes the nonce at offset 76.
function buildHeader(job, extranonce1, en2Hex) {
  const coinbase = Buffer.concat([
    hexBytes(job.coinb1, 'coinb1'),
    hexBytes(extranonce1, 'extranonce1'),
    hexBytes(en2Hex, 'extranonce2'),
    hexBytes(job.coinb2, 'coinb2'),
  ]);
  let root = sha256d(coinbase);
  for (const [i, br] of job.branch.entries()) {
    root = sha256d(Buffer.concat([root, hexBytes(br, `merkle_branch[${i}]`, 32)]));
  }
  const header = Buffer.alloc(80);
  header.writeUInt32LE(be32(job.version, 'version'), 0);
  prevhashToHeaderBytes(job.prevhash).copy(header, 4);
  root.copy(header, 36);
  header.writeUInt32LE(be32(job.ntime, 'ntime'), 68);
  header.writeUInt32LE(be32(job.nbits, 'nbits'), 72);
  return header;
}

const nonceHex = (n) => n.toString(16).padStart(8, '0'); // BE hex of the u32

let hashes = 0;

// Search nonces from `start` for one whose hash does (want=true) or does not
// (want=false) meet the target, yielding to the event loop every CHUNK nonces.
async function search(header, target, start, want, skip) {
  const topByte = target >= (1n << 256n) ? 255 : Number(target >> 248n);
  const hdr = Buffer.from(header);
  for (let n = start; n <= 0xffffffff;) {
    const end = Math.min(n + CHUNK, 0x100000000);
    for (; n < end; n++) {
      if (skip && skip.has(n)) continue;
      hdr.writeUInt32LE(n, 76);
      const h = sha256d(hdr);
      hashes++;
      if (meets(h, target, topByte) === want) return { nonce: n, hash: h };
    }
    if (finished) return null;
    await new Promise(setImmediate);
  }
  return null;
}

// ----------------------------------------------------------- the client --

const client = stratum.Client.$create();

// Defect 0: replace the library's broken 'data' listener (see the top of the
// file) with one that frames whole lines and then calls the library's parser.
client.socket.removeAllListeners('data');
let partial = Buffer.alloc(0);
client.socket.on('data', (chunk) => {
  partial = partial.length ? Buffer.concat([partial, chunk]) : chunk;
  const cut = partial.lastIndexOf(0x0a);
  if (cut < 0) return;
  const lines = partial.subarray(0, cut + 1);
  partial = Buffer.from(partial.subarray(cut + 1));
  client.handleData(client, lines);
});

// The library emits 'error' with the client itself, not the cause; the raw
// socket's 'error' carries the actual reason.
client.socket.prependListener('error', (e) => fail(`socket error: ${e && e.message ? e.message : e}`));
client.on('error', () => fail('socket error'));
client.on('end', () => fail('the pool closed the connection'));
client.on('mining.error', (e) => {
  fail(`stratum library reported: ${e && e.stack ? e.stack : JSON.stringify(e)}`);
});

const waiting = new Map(); // request id -> {method, resolve}

function settle(command) {
  const w = waiting.get(command.id);
  if (!w) {
    fail(`response to an unknown request id: ${JSON.stringify(command)}`);
    return;
  }
  waiting.delete(command.id);
  w.resolve({ result: command.result, error: command.error == null ? null : command.error, raw: command });
}

// Quirk 2: keep error responses away from the library's `throw new Error(command)`.
const libFullfill = client.fullfill;
client.fullfill = function (command) {
  const e = command && command.error;
  const isError = e !== undefined && e !== null && !(Array.isArray(e) && e.length === 0);
  if (isError && command.id !== null && command.id !== undefined) {
    delete this.pending[command.id];
    settle(command);
    return undefined;
  }
  return libFullfill.call(this, command);
};

// Send one request through the library and resolve with its response.
function request(method, send) {
  const id = client.currentId; // the id the library is about to put on the wire
  return new Promise((resolve, reject) => {
    waiting.set(id, { method, resolve });
    let p;
    try {
      p = send();
    } finally {
      client.currentId = id + 1; // quirk 1: the library never advances it
    }
    p.then(
      () => {},
      (err) => {
        waiting.delete(id);
        reject(new Error(`${method}: the library refused to send it: ${JSON.stringify(err)}`));
      }
    );
  });
}

let difficulty = null;
let job = null;
let onDifficulty;
let onJob;
const gotDifficulty = new Promise((r) => { onDifficulty = r; });
const gotJob = new Promise((r) => { onJob = r; });

client.on('mining', (data, socket, type) => {
  if (type === 'broadcast') {
    // the library strips the "mining." prefix from broadcast methods
    if (data.method === 'set_difficulty') {
      difficulty = data.params[0];
      onDifficulty(difficulty);
    } else if (data.method === 'notify') {
      const p = data.params;
      if (!Array.isArray(p) || p.length < 9) {
        fail(`mining.notify with ${Array.isArray(p) ? p.length : 'no'} params: ${JSON.stringify(data)}`);
        return;
      }
      const next = {
        id: p[0], prevhash: p[1], coinb1: p[2], coinb2: p[3], branch: p[4],
        version: p[5], nbits: p[6], ntime: p[7], clean: p[8],
      };
      if (job && next.id !== job.id && next.clean) {
        fail(`the pool replaced job ${job.id} with ${next.id} (clean_jobs) mid-check; run the pool without --job-interval`);
        return;
      }
      if (!job) {
        job = next;
        onJob(job);
      }
    }
    return;
  }
  if (type === 'result') settle(data);
});

function expectTrue(what, res) {
  if (res.error !== null || res.result !== true) {
    throw new Error(`${what}: expected result true, got ${JSON.stringify(res.raw)}`);
  }
}

function expectCode(what, res, code) {
  const e = res.error;
  if (!Array.isArray(e) || e[0] !== code) {
    throw new Error(`${what}: expected error code ${code}, got ${JSON.stringify(res.raw)}`);
  }
  return e;
}

async function main() {
  await client.connect({ host, port });

  stage = 'subscribe';
  const sub = await request('mining.subscribe', () => client.stratumSubscribe(`npm-stratum/${STRATUM_VERSION}`));
  if (sub.error !== null || !Array.isArray(sub.result) || sub.result.length < 3) {
    throw new Error(`bad subscribe response: ${JSON.stringify(sub.raw)}`);
  }
  const extranonce1 = sub.result[1];
  const en2Size = sub.result[2];
  hexBytes(extranonce1, 'extranonce1');
  if (!Number.isInteger(en2Size) || en2Size < 1 || en2Size > 32) {
    throw new Error(`bad extranonce2_size in ${JSON.stringify(sub.raw)}`);
  }

  stage = 'authorize';
  const auth = await request('mining.authorize', () => client.stratumAuthorize(WORKER, PASSWORD));
  expectTrue('authorize', auth);
  if (client.authorized !== true) throw new Error('the library did not record the authorization');

  stage = 'waiting for set_difficulty and notify';
  await Promise.all([gotDifficulty, gotJob]);
  const target = shareTarget(difficulty);

  stage = 'mining';
  const shares = [];
  let firstAcceptedAt = 0;
  const used = new Set();
  let en2 = 0;
  let header = buildHeader(job, extranonce1, en2.toString(16).padStart(en2Size * 2, '0'));
  let next = 0;
  while (shares.length < N_VALID) {
    const found = await search(header, target, next, true);
    if (finished) return;
    if (!found) { // nonce space exhausted: roll extranonce2
      en2++;
      header = buildHeader(job, extranonce1, en2.toString(16).padStart(en2Size * 2, '0'));
      next = 0;
      used.clear();
      continue;
    }
    next = found.nonce + 1;
    used.add(found.nonce);
    if (shares.length === N_VALID - 1) {
      const wait = firstAcceptedAt + minSpanS * 1000 - Date.now();
      if (wait > 0) {
        stage = 'holding the last valid share (min span)';
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    const params = [WORKER, job.id, en2.toString(16).padStart(en2Size * 2, '0'), job.ntime, nonceHex(found.nonce)];
    stage = `submit valid share ${shares.length + 1}/${N_VALID}`;
    const res = await request('mining.submit', () => client.stratumSubmit(...params));
    expectTrue(`valid share ${shares.length + 1} ${JSON.stringify(params)}`, res);
    if (shares.length === 0) firstAcceptedAt = Date.now();
    shares.push({ params, header: Buffer.from(header) });
    stage = 'mining';
  }

  // A share that does not meet the target: same job and extranonce2 as the
  // first share, the first nonce after it whose hash is above the target.
  stage = 'find a low-difficulty nonce';
  const first = shares[0];
  const firstNonce = parseInt(first.params[4], 16);
  const low = await search(first.header, target, firstNonce + 1, false, used);
  if (!low) throw new Error('could not find a nonce that misses the target');
  const lowParams = [WORKER, job.id, first.params[2], job.ntime, nonceHex(low.nonce)];
  stage = 'submit low-difficulty share';
  const lowRes = await request('mining.submit', () => client.stratumSubmit(...lowParams));
  const lowErr = expectCode(`low-difficulty share ${JSON.stringify(lowParams)}`, lowRes, 23);

  stage = 'submit duplicate share';
  const dupRes = await request('mining.submit', () => client.stratumSubmit(...first.params));
  const dupErr = expectCode(`duplicate of share 1 ${JSON.stringify(first.params)}`, dupRes, 22);

  finished = true;
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(
    `stratum-interop OK: npm stratum@${STRATUM_VERSION} client vs ${host}:${port}: ` +
      `${N_VALID}/${N_VALID} shares accepted at difficulty ${difficulty} (${hashes} hashes), ` +
      `low-difficulty share -> ${JSON.stringify(lowErr)}, duplicate -> ${JSON.stringify(dupErr)}, ${secs} s`
  );
  client.removeAllListeners();
  client.socket.destroy();
  process.exit(0);
}

main().catch((e) => fail(e && e.message ? e.message : String(e)));
