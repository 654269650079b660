// Opens N concurrent streamed chat completions and measures, per stream, the
// time to the first SSE chunk and the gaps between chunks.
//   node streams.mjs URL BODY_JSON N RAMP_MS STALL_MS EXPECTED_CHUNKS [HEADER=VALUE ...]
// Streams start evenly over RAMP_MS (so that all N are open at once when each
// lasts longer than the ramp). A chunk is "stalled" when it arrives more than
// STALL_MS after the previous chunk of its stream; "dropped" counts expected
// content chunks that never arrived (streams that failed count all theirs).
// Prints one JSON line.
import http from 'node:http';

const [url, bodyJson, nArg, rampArg, stallArg, expArg, ...hdrArgs] = process.argv.slice(2);
const N = Number(nArg);
const RAMP = Number(rampArg);
const STALL = Number(stallArg);
const EXPECTED = Number(expArg);
const u = new URL(url);
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bodyJson) };
for (const h of hdrArgs) { const i = h.indexOf('='); headers[h.slice(0, i).toLowerCase()] = h.slice(i + 1); }
const CONTENT = /"content":\s*"[^"]/;   // a chunk carrying text (not the empty role chunk)
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const now = () => Number(process.hrtime.bigint()) / 1e6;

let open = 0; let maxOpen = 0;
const failures = {};
const fail = (k) => { failures[k] = (failures[k] || 0) + 1; };

// One stream: resolves with {ttfc, content, stalled, done, maxGap}.
function one() {
  return new Promise((resolve) => {
    const t0 = now();
    const r = { ttfc: null, content: 0, stalled: 0, done: false, maxGap: 0, ok: false };
    let last = null; let buf = ''; let settled = false;
    const finish = () => { if (!settled) { settled = true; resolve(r); } };
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers },
      (res) => {
        open += 1; maxOpen = Math.max(maxOpen, open);
        res.setEncoding('utf8');
        const isSse = String(res.headers['content-type'] || '').includes('text/event-stream');
        let errBody = '';
        res.on('data', (d) => {
          const t = now();
          if (res.statusCode !== 200 || !isSse) { errBody += d; return; }
          buf += d;
          let k;
          while ((k = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, k); buf = buf.slice(k + 2);
            const line = ev.split('\n').find((l) => l.startsWith('data:'));
            if (!line) continue;
            const data = line.slice(5).trim();
            if (r.ttfc === null) r.ttfc = t - t0;
            if (last !== null) {
              const gap = t - last;
              if (gap > r.maxGap) r.maxGap = gap;
              if (gap > STALL) r.stalled += 1;
            }
            last = t;
            if (data === '[DONE]') { r.done = true; continue; }
            // string tests instead of JSON.parse: the client must stay cheaper than what it measures
            if (data.startsWith('{"error"')) fail(`error chunk: ${data.slice(0, 80)}`);
            else if (CONTENT.test(data)) r.content += 1;
          }
        });
        res.on('end', () => {
          open -= 1;
          if (res.statusCode !== 200 || !isSse) fail(`HTTP ${res.statusCode}: ${errBody.slice(0, 80)}`);
          else if (!r.done) fail('stream ended without [DONE]');
          r.ok = res.statusCode === 200 && isSse && r.done;
          finish();
        });
        res.on('error', () => { open -= 1; fail('response error'); finish(); });
      });
    req.on('error', (e) => { fail(`connect ${e.code}`); finish(); });
    req.setTimeout(60000, () => { fail('timeout'); req.destroy(); });
    req.end(bodyJson);
  });
}

const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.ceil((p / 100) * a.length) - 1)] : null);
const started = [];
const t0 = now();
for (let i = 0; i < N; i++) {
  started.push(new Promise((res) => setTimeout(() => one().then(res), (RAMP * i) / N)));
}
const rs = await Promise.all(started);
const ttfc = rs.filter((r) => r.ttfc !== null).map((r) => r.ttfc).sort((x, y) => x - y);
const ok = rs.filter((r) => r.ok).length;
const dropped = rs.reduce((s, r) => s + Math.max(0, EXPECTED - r.content), 0);
console.log(JSON.stringify({
  streams: N, ok, maxOpen, seconds: +((now() - t0) / 1000).toFixed(2),
  ttfcP50: pct(ttfc, 50), ttfcP99: pct(ttfc, 99),
  stalled: rs.reduce((s, r) => s + r.stalled, 0), dropped,
  maxGap: Math.max(0, ...rs.map((r) => r.maxGap)), failures,
}));
