#!/usr/bin/env node
// Interop check for minebench's stratum *client* (`minebench run --pool`): a pool built on
// the Server of the npm package `stratum` (pocesar/node-stratum), a Stratum v1
// implementation written elsewhere, which verifies every share independently.
//
//   node server.js [--host 127.0.0.1] [--port 0] [--difficulty 0.0005] [--timeout 120]
//                  [--log FILE]
//
// Per connection: answers mining.subscribe with a fresh 4-byte extranonce1 and
// extranonce2_size 4, mining.authorize with true (any worker name), then sends
// mining.set_difficulty (--difficulty) and a first mining.notify (clean_jobs true), then a new
// job every second: clean_jobs false, except every third one (every 3 s, from 2 s after the
// first), which is a new "block" (new prevhash) with clean_jobs true and retires every earlier
// job. Jobs replaced without clean_jobs stay valid.
//
// Every mining.submit is checked here with node's crypto, from the standard Stratum
// conventions and independently of minebench's code: coinbase = coinb1 | extranonce1 |
// extranonce2 | coinb2, double SHA-256, merkle root up the branch, the 80-byte header (version,
// prevhash with each 4-byte word of the notify's hex reversed, root, the submitted ntime,
// nbits, the submitted nonce; version/nbits/ntime/nonce are big-endian hex of the numbers the
// header stores little-endian), double SHA-256, compared as a 256-bit little-endian number with
// the share target of the difficulty the job was sent with (difficulty 1 = 0xffff * 2^208).
// Answers: result true, or an error [code, message, null] with the usual positive Stratum codes:
// 21 job not found (unknown, or retired by a clean job: "stale"), 22 duplicate, 23 low
// difficulty, 24 unauthorized worker, 20 malformed (field count/hex/sizes, ntime out of range,
// version bits although version rolling was never agreed).
//
// At the end (SIGINT, SIGTERM, or --timeout seconds) prints ONE JSON line on stdout:
//   {"submitted":n,"accepted":n,"rejected":{reason:n},"jobs":n,"clean_jobs":n,"invalid":n,
//    "difficulty":d,"connections":[{per connection: the same counts, user, extranonce1,
//    configure_answer, ...}],"library_errors":{...},"timed_out":bool}
// `invalid` counts shares that failed verification (low difficulty, malformed, unauthorized);
// `rejected` also holds stale / job_not_found / duplicate. Progress and any invalid share (with
// its header and hash) go to stderr; --log FILE records every line on the wire.
//
// The protocol side goes through the package's Server: the TCP listener, line parsing and
// dispatch (processCommands), the 'mining' event with its deferred for each request, the
// responses (its subscribe / authorize / submit / error commands), set_difficulty and notify
// (Server#sendToId with its commands). Workarounds and oddities of stratum@0.2.4, documented
// where they are applied below:
//   A. Server#newConnection splits each TCP chunk on '\n' and parses every piece, without
//      carrying a partial line over to the next chunk: a request cut by a segment boundary is
//      lost (two JSON.parse errors, no answer). We replace that 'data' listener with one that
//      frames whole lines and hands them to the library's own Server#handleData.
//   B. The library answers a request it has no command for -- minebench's first line,
//      mining.configure (BIP 310 version rolling) -- with error [-3,"Method not found",null]
//      and reports 'mining.error'. Left as is on purpose: minebench must cope with a pool that
//      refuses configure (it then rolls extranonce2 only; a share with version bits is rejected
//      here as malformed).
//   C. The library's own error table uses negative codes (-21 stale, -22 duplicate, -23 low
//      difficulty); the Stratum convention (and minebench's reason names) use 21/22/23, so we
//      reject through the library's error command with the positive codes. Its submit command
//      can only answer true/false (result), not an error.
//   D. The first element of the subscribe result is built by the library as
//      [["mining.set_difficulty", X], ["mining.notify", Y]] with X named "difficulty" in its
//      API; by convention both are subscription ids, so we pass the subscription id there and
//      send the real difficulty with mining.set_difficulty.
//   E. Responses are written asynchronously (the 'mining' deferred goes through bluebird), so
//      to send set_difficulty and notify only *after* the authorize answer we hook the
//      connection's stratumSend and start the jobs right after the library has queued that
//      answer on the socket.
//   F. After a peer's FIN the library destroys its Client object ($destroy nulls every field),
//      so per-connection counts live in our own records and job timers stop on 'close'.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const stratum = require('stratum');
const STRATUM_VERSION = require('stratum/package.json').version;

// ------------------------------------------------------------------ options --

function usage(msg) {
  if (msg) console.error(`stratum-feed-interop server: ${msg}`);
  console.error('usage: node server.js [--host H] [--port P] [--difficulty D] [--timeout S] [--log FILE]');
  process.exit(2);
}

const opts = { host: '127.0.0.1', port: 0, difficulty: 0.0005, timeout: 120, log: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[i + 1];
  switch (a) {
    case '--host': opts.host = v; i++; break;
    case '--port': opts.port = Number(v); i++; break;
    case '--difficulty': opts.difficulty = Number(v); i++; break;
    case '--timeout': opts.timeout = Number(v); i++; break;
    case '--log': opts.log = v; i++; break;
    default: usage(`unknown argument ${JSON.stringify(a)}`);
  }
}
if (!opts.host) usage('--host needs a value');
if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) usage('bad --port');
if (!(opts.difficulty > 0) || !Number.isFinite(opts.difficulty)) usage('bad --difficulty');
if (!(opts.timeout > 0)) usage('bad --timeout');

const EXTRANONCE2_SIZE = 4;
const JOB_INTERVAL_MS = 1000;
const CLEAN_EVERY = 3; // every third job is a clean one (a new block)
const NTIME_WINDOW = 7200; // a submitted ntime may run this far past the job's
const MAX_LINE = 64 * 1024;

const t0 = Date.now();
const logFd = opts.log ? fs.openSync(opts.log, 'w') : null;

function wire(conn, dir, text) {
  if (logFd === null) return;
  for (const line of String(text).split('\n')) {
    if (line.length) fs.writeSync(logFd, `${((Date.now() - t0) / 1000).toFixed(3)} #${conn.n} ${dir} ${line}\n`);
  }
}

function note(msg) {
  console.error(`stratum-feed-interop server: ${msg}`);
}

// ------------------------------------------------------------------ hashing --

function sha256d(buf) {
  return crypto.createHash('sha256').update(crypto.createHash('sha256').update(buf).digest()).digest();
}

const DIFF1 = 0xffffn << 208n;

// share target = diff1 / difficulty (the difficulty may be fractional).
function shareTarget(difficulty) {
  const SCALE = 10n ** 18n;
  return (DIFF1 * SCALE) / BigInt(Math.round(difficulty * 1e18));
}

// A hash is a 256-bit little-endian number (byte 31 most significant).
function hashValue(h) {
  return BigInt('0x' + Buffer.from(h).reverse().toString('hex'));
}

const isHex = (s, digits) => typeof s === 'string' && s.length === digits && /^[0-9a-fA-F]*$/.test(s);

// notify's prevhash: the header's 32 bytes with each 4-byte word reversed.
function wordSwap(buf) {
  const b = Buffer.from(buf);
  for (let i = 0; i < b.length; i += 4) b.subarray(i, i + 4).reverse();
  return b;
}

function varint(n) {
  if (n < 0xfd) return Buffer.from([n]);
  throw new Error('varint too large');
}

// ---------------------------------------------------------------------- jobs --

let jobSeq = 0;

// A plausible job: a coinbase with a BIP 34 height push, room for extranonce1 | extranonce2
// (8 bytes) in its scriptSig, a tag and one P2PKH output; a merkle branch of two random
// transaction hashes; a random previous block hash (low 32 bits zero, as a real one's are).
function makeJob(conn, clean) {
  if (clean || !conn.prevhash) {
    conn.height += 1;
    const prev = crypto.randomBytes(32);
    prev.fill(0, 28); // header byte order: the hash's most significant bytes come last
    conn.prevhash = prev;
  }
  jobSeq += 1;
  const id = jobSeq.toString(16);
  const height = Buffer.alloc(3);
  height.writeUIntLE(conn.height, 0, 3);
  const tag = Buffer.from(`/npm-stratum@${STRATUM_VERSION} feed-interop/`);
  const en = conn.extranonce1.length + EXTRANONCE2_SIZE;
  const scriptSigLen = 1 + 3 + 1 + en + 1 + tag.length;
  const coinb1 = Buffer.concat([
    Buffer.from('01000000', 'hex'), // tx version
    Buffer.from([1]), // one input
    Buffer.alloc(32), Buffer.from('ffffffff', 'hex'), // null prevout
    varint(scriptSigLen),
    Buffer.from([3]), height, // BIP 34 height
    Buffer.from([en]), // push extranonce1 | extranonce2
  ]);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(312500000n);
  const coinb2 = Buffer.concat([
    Buffer.from([tag.length]), tag,
    Buffer.from('ffffffff', 'hex'), // sequence
    Buffer.from([1]), value, // one output
    Buffer.from('1976a914', 'hex'), crypto.randomBytes(20), Buffer.from('88ac', 'hex'),
    Buffer.from('00000000', 'hex'), // lock time
  ]);
  const now = Math.floor(Date.now() / 1000);
  conn.ntime = Math.max(now, conn.ntime + 1);
  const job = {
    id,
    prevhash: conn.prevhash,
    coinb1,
    coinb2,
    branch: [crypto.randomBytes(32), crypto.randomBytes(32)],
    version: 0x20000000,
    nbits: 0x1703a30c,
    ntime: conn.ntime,
    clean: !!clean,
    difficulty: conn.difficulty,
  };
  job.target = shareTarget(job.difficulty);
  return job;
}

function notifyParams(job) {
  const hex32 = (n) => n.toString(16).padStart(8, '0');
  return [
    job.id,
    wordSwap(job.prevhash).toString('hex'),
    job.coinb1.toString('hex'),
    job.coinb2.toString('hex'),
    job.branch.map((b) => b.toString('hex')),
    hex32(job.version),
    hex32(job.nbits),
    hex32(job.ntime),
    job.clean,
  ];
}

function header(job, extranonce1, extranonce2, ntime, nonce, version) {
  let root = sha256d(Buffer.concat([job.coinb1, extranonce1, extranonce2, job.coinb2]));
  for (const b of job.branch) root = sha256d(Buffer.concat([root, b]));
  const h = Buffer.alloc(80);
  h.writeUInt32LE(version, 0);
  job.prevhash.copy(h, 4);
  root.copy(h, 36);
  h.writeUInt32LE(ntime, 68);
  h.writeUInt32LE(job.nbits, 72);
  h.writeUInt32LE(nonce, 76);
  return h;
}

// ------------------------------------------------------------- connections --

const conns = []; // our records, one per connection, kept after it closes
const byId = new Map(); // library client id -> record
const libraryErrors = {}; // 'mining.error' messages the library reported -> count
let finished = false;

function newRecord(client) {
  const n = conns.length + 1;
  const rec = {
    n,
    id: client.id,
    peer: `${client.socket.remoteAddress}:${client.socket.remotePort}`,
    extranonce1: Buffer.from((0x6d620000 + n).toString(16).padStart(8, '0'), 'hex'),
    subscription: crypto.randomBytes(8).toString('hex'),
    difficulty: opts.difficulty,
    users: new Set(),
    user: null,
    configureId: undefined,
    configureAnswer: null,
    height: 840000,
    prevhash: null,
    ntime: 0,
    jobs: new Map(), // valid job id -> job
    retired: new Set(), // job ids replaced by a clean job
    seen: new Set(), // accepted shares
    timer: null,
    ticks: 0,
    closed: false,
    stats: {
      submitted: 0, accepted: 0, rejected: {}, invalid: 0,
      jobs: 0, clean_jobs: 0, with_version_bits: 0,
    },
  };
  conns.push(rec);
  byId.set(client.id, rec);
  return rec;
}

function sendJob(server, rec, clean) {
  if (rec.closed || finished) return;
  const job = makeJob(rec, clean);
  if (clean) {
    for (const id of rec.jobs.keys()) rec.retired.add(id);
    rec.jobs.clear();
  }
  rec.jobs.set(job.id, job);
  rec.stats.jobs += 1;
  rec.stats.clean_jobs += clean ? 1 : 0;
  server.sendToId(rec.id, 'notify', notifyParams(job)).catch((e) => note(`#${rec.n} notify not sent: ${e}`));
}

// Right after the authorize answer: the difficulty, the first job, then a job a second.
function startJobs(server, rec) {
  if (rec.timer || rec.closed) return;
  server.sendToId(rec.id, 'set_difficulty', [rec.difficulty])
    .catch((e) => note(`#${rec.n} set_difficulty not sent: ${e}`));
  sendJob(server, rec, true);
  rec.timer = setInterval(() => {
    rec.ticks += 1;
    // Clean at 2 s, 5 s, 8 s, ...: a run of a few seconds sees at least one clean switch.
    sendJob(server, rec, rec.ticks % CLEAN_EVERY === CLEAN_EVERY - 1);
  }, JOB_INTERVAL_MS);
}

function stopJobs(rec) {
  rec.closed = true;
  if (rec.timer) clearInterval(rec.timer);
  rec.timer = null;
}

const REJECT = {
  malformed: [20, 'Malformed share'],
  job_not_found: [21, 'Job not found'],
  stale: [21, 'Stale share (job replaced by a clean job)'],
  duplicate: [22, 'Duplicate share'],
  low_difficulty: [23, 'Low difficulty share'],
  unauthorized: [24, 'Unauthorized worker'],
};
const INVALID = new Set(['malformed', 'low_difficulty', 'unauthorized']);

// -> {ok: true} or {reason, detail}
function verify(rec, params) {
  if (!Array.isArray(params) || (params.length !== 5 && params.length !== 6) ||
      !params.every((p) => typeof p === 'string')) {
    return { reason: 'malformed', detail: `params ${JSON.stringify(params)}` };
  }
  const [worker, jobId, en2Hex, ntimeHex, nonceHex, vbHex] = params;
  if (!rec.users.has(worker)) return { reason: 'unauthorized', detail: `worker ${JSON.stringify(worker)}` };
  const job = rec.jobs.get(jobId);
  if (!job) return { reason: rec.retired.has(jobId) ? 'stale' : 'job_not_found', detail: `job ${jobId}` };
  if (!isHex(en2Hex, 2 * EXTRANONCE2_SIZE)) return { reason: 'malformed', detail: `extranonce2 ${en2Hex}` };
  if (!isHex(ntimeHex, 8)) return { reason: 'malformed', detail: `ntime ${ntimeHex}` };
  if (!isHex(nonceHex, 8)) return { reason: 'malformed', detail: `nonce ${nonceHex}` };
  if (vbHex !== undefined) {
    rec.stats.with_version_bits += 1;
    // We never agree to version rolling (the library refuses mining.configure).
    return { reason: 'malformed', detail: `version bits ${vbHex} although version rolling was not agreed` };
  }
  const ntime = parseInt(ntimeHex, 16);
  if (ntime < job.ntime || ntime > job.ntime + NTIME_WINDOW) {
    return { reason: 'malformed', detail: `ntime ${ntimeHex} outside the job's ${job.ntime.toString(16)}..+${NTIME_WINDOW}s` };
  }
  const key = [jobId, en2Hex, ntimeHex, nonceHex].join('/').toLowerCase();
  if (rec.seen.has(key)) return { reason: 'duplicate', detail: key };
  const hdr = header(job, rec.extranonce1, Buffer.from(en2Hex, 'hex'), ntime, parseInt(nonceHex, 16), job.version);
  const hash = sha256d(hdr);
  if (hashValue(hash) > job.target) {
    return {
      reason: 'low_difficulty',
      detail: `header ${hdr.toString('hex')} hash ${Buffer.from(hash).reverse().toString('hex')} ` +
        `target ${job.target.toString(16).padStart(64, '0')} (difficulty ${job.difficulty})`,
    };
  }
  rec.seen.add(key);
  return { ok: true };
}

// ------------------------------------------------------------------ server --

const server = stratum.Server.$create({
  // No RPC. The whole settings object replaces the library's defaults (a shallow _.defaults),
  // so all four fields are given. toobusy: the library drops new connections while the event
  // loop lags more than this (ms); generous, a loaded CI box must not turn minebench away.
  settings: { host: opts.host, port: opts.port, hostname: opts.host, toobusy: 1000 },
});

server.on('connection', (client) => {
  const rec = newRecord(client);
  note(`#${rec.n} connection from ${rec.peer}`);

  // Workaround A: whole lines only, then the library's own parser and dispatcher.
  client.socket.removeAllListeners('data');
  let partial = Buffer.alloc(0);
  client.socket.on('data', (chunk) => {
    partial = partial.length ? Buffer.concat([partial, chunk]) : chunk;
    const cut = partial.lastIndexOf(0x0a);
    if (cut < 0) {
      if (partial.length > MAX_LINE) {
        note(`#${rec.n} a line over ${MAX_LINE} bytes; closing`);
        client.socket.destroy();
      }
      return;
    }
    const lines = partial.subarray(0, cut + 1);
    partial = Buffer.from(partial.subarray(cut + 1));
    for (const line of lines.toString().split('\n')) {
      if (!line.trim()) continue;
      wire(rec, '<-', line);
      try {
        const m = JSON.parse(line);
        if (m && m.method === 'mining.configure') rec.configureId = m.id;
      } catch (e) { /* the library reports it */ }
    }
    server.handleData(client, lines);
  });

  // Wire log, and the configure answer for the summary.
  const libSend = client.send;
  client.send = function (data) {
    wire(rec, '->', data);
    if (rec.configureId !== undefined && rec.configureAnswer === null) {
      try {
        const m = JSON.parse(String(data));
        if (m.id === rec.configureId) rec.configureAnswer = String(data).trim();
      } catch (e) { /* not ours to judge */ }
    }
    return libSend.call(this, data);
  };

  // Workaround E: jobs start once the authorize answer is on the socket.
  const libStratumSend = client.stratumSend;
  client.stratumSend = function (data, bypass, name) {
    const p = libStratumSend.call(this, data, bypass, name);
    if (name === 'authorize' && data && data.result === true) startJobs(server, rec);
    return p;
  };

  // Workaround F.
  client.socket.on('close', () => {
    stopJobs(rec);
    note(`#${rec.n} closed: ${JSON.stringify(summary(rec))}`);
  });
});

server.on('mining', (req, deferred, client) => {
  const rec = byId.get(client.id);
  if (!rec) {
    deferred.reject([20, 'Unknown connection', null]);
    return;
  }
  switch (req.method) {
    case 'subscribe':
      // Library command subscribe(id, difficulty, subscription, extranonce1, extranonce2_size);
      // see D for its "difficulty".
      deferred.resolve([rec.subscription, rec.subscription, rec.extranonce1.toString('hex'), EXTRANONCE2_SIZE]);
      break;
    case 'authorize': {
      const user = Array.isArray(req.params) ? req.params[0] : undefined;
      if (typeof user === 'string' && user.length) {
        rec.users.add(user);
        if (rec.user === null) rec.user = user;
      }
      deferred.resolve([typeof user === 'string' && user.length > 0]);
      break;
    }
    case 'submit': {
      rec.stats.submitted += 1;
      const v = verify(rec, req.params);
      if (v.ok) {
        rec.stats.accepted += 1;
        deferred.resolve([true]);
      } else {
        rec.stats.rejected[v.reason] = (rec.stats.rejected[v.reason] || 0) + 1;
        if (INVALID.has(v.reason)) {
          rec.stats.invalid += 1;
          note(`#${rec.n} INVALID share (${v.reason}) ${JSON.stringify(req.params)}: ${v.detail}`);
        }
        const [code, msg] = REJECT[v.reason];
        // Workaround C: the library's error command with the positive Stratum code.
        deferred.reject([code, msg, null]);
      }
      break;
    }
    case 'get_transactions':
      deferred.resolve([[]]);
      break;
    default:
      deferred.reject([20, `Unsupported method mining.${req.method}`, null]);
  }
});

// Oddity B (mining.configure) and anything else the library could not handle.
server.on('mining.error', (err) => {
  const msg = String(err && err.message ? err.message : err);
  libraryErrors[msg] = (libraryErrors[msg] || 0) + 1;
  if (libraryErrors[msg] === 1) note(`the library reported: ${msg}`);
});

function summary(rec) {
  return {
    n: rec.n,
    peer: rec.peer,
    user: rec.user,
    extranonce1: rec.extranonce1.toString('hex'),
    extranonce2_size: EXTRANONCE2_SIZE,
    difficulty: rec.difficulty,
    configure_answer: rec.configureAnswer,
    ...rec.stats,
  };
}

function finish(why) {
  if (finished) return;
  finished = true;
  for (const rec of conns) stopJobs(rec);
  const per = conns.map(summary);
  const rejected = {};
  for (const c of per) {
    for (const [k, v] of Object.entries(c.rejected)) rejected[k] = (rejected[k] || 0) + v;
  }
  const sum = (f) => per.reduce((a, c) => a + c[f], 0);
  const out = {
    submitted: sum('submitted'),
    accepted: sum('accepted'),
    rejected,
    jobs: sum('jobs'),
    clean_jobs: sum('clean_jobs'),
    invalid: sum('invalid'),
    difficulty: opts.difficulty,
    stratum_version: STRATUM_VERSION,
    connections: per,
    library_errors: libraryErrors,
    timed_out: why === 'timeout',
    wall_s: Number(((Date.now() - t0) / 1000).toFixed(3)),
  };
  note(`stopping (${why})`);
  try { server.close(); } catch (e) { /* already closed */ }
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
}

process.on('SIGINT', () => finish('SIGINT'));
process.on('SIGTERM', () => finish('SIGTERM'));
setTimeout(() => finish('timeout'), opts.timeout * 1000).unref();
// Keep the process alive until a signal or the timeout even with no connection.
const keepAlive = setInterval(() => {}, 1 << 30);

server.listen().then(() => {
  const a = server.server.address();
  note(`npm stratum@${STRATUM_VERSION} Server listening on ${a.address}:${a.port} ` +
    `(difficulty ${opts.difficulty}, extranonce2_size ${EXTRANONCE2_SIZE})`);
}, (e) => {
  note(`cannot listen: ${e}`);
  clearInterval(keepAlive);
  process.exit(1);
});
server.server.on('error', (e) => {
  note(`listener error: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
