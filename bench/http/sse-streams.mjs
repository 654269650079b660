// Opens N concurrent streamed chat completions against aigw-http and reports
// how many completed with [DONE], plus the front's peak RSS (sampled from
// /proc/PID/status while the streams are open).
import http from 'node:http';
import fs from 'node:fs';

const [url, key, nStr, pidStr] = process.argv.slice(2);
const N = Number(nStr || 2000);
const pid = Number(pidStr);
const u = new URL(url);
const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const body = JSON.stringify({ model: 'sim-chat', stream: true,
  messages: [{ role: 'user', content: 'one two three four five six seven eight' }],
  simulation_profile: { latencyMs: 3000, chunkIntervalMs: 200 } });

const rss = () => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return 0; }
};
let peak = rss();
const base = peak;
let open = 0; let maxOpen = 0;
const outcomes = {};
const note = (k) => { outcomes[k] = (outcomes[k] || 0) + 1; };
const sampler = setInterval(() => { peak = Math.max(peak, rss()); }, 100);
const t0 = Date.now();
const one = () => new Promise((resolve) => {
  const req = http.request({ host: u.hostname, port: u.port, path: '/v1/chat/completions', method: 'POST', agent,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
  (res) => {
    open += 1; maxOpen = Math.max(maxOpen, open);
    let tail = '';
    res.on('data', (d) => { tail = (tail + d.toString()).slice(-64); });
    res.on('end', () => { open -= 1; const good = res.statusCode === 200 && tail.includes('data: [DONE]'); note(good ? 'done' : `status ${res.statusCode}`); resolve(good); });
    res.on('error', () => { open -= 1; resolve(false); });
  });
  req.on('error', (e) => { note(`error ${e.code}`); resolve(false); });
  req.setTimeout(120000, () => { req.destroy(); resolve(false); });
  req.end(body);
});
const results = await Promise.all(Array.from({ length: N }, one));
clearInterval(sampler);
peak = Math.max(peak, rss());
const done = results.filter(Boolean).length;
console.log(JSON.stringify({ streams: N, completedWithDone: done, maxOpenAtOnce: maxOpen,
  seconds: (Date.now() - t0) / 1000, frontRssKbBefore: base, frontRssKbPeak: peak,
  frontRssMbPeak: Math.round(peak / 1024), outcomes }));
