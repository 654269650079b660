// Turns bench/run.sh's raw results into the one table it prints (Markdown).
//   node table.mjs results.tsv meta.json mem.json rows.json
// results.tsv: round, system, scenario, metric, value. Every figure is the median
// over rounds; "added" figures are per-round differences with the direct run of
// the same round, then the median.
import fs from 'node:fs';

const [resultsFile, metaFile, memFile, rowsFile] = process.argv.slice(2);
const readJson = (f) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return {}; } };
const meta = readJson(metaFile);
const mem = readJson(memFile);
const rows = readJson(rowsFile);
const R = {};   // R[scenario][system][round][metric]
for (const line of fs.readFileSync(resultsFile, 'utf8').split('\n')) {
  if (!line) continue;
  const [round, sys, scen, metric, ...rest] = line.split('\t');
  const raw = rest.join('\t');
  let value = raw;
  if (metric === 'json' || metric === 'cpu') { try { value = JSON.parse(raw); } catch { value = { parseError: raw.slice(0, 120) }; } }
  else value = Number(raw);
  ((R[scen] ??= {})[sys] ??= {})[round] ??= {};
  if (metric === 'json') Object.assign(R[scen][sys][round], value);
  else if (metric === 'cpu') R[scen][sys][round].cpu = value;
  else R[scen][sys][round][metric] = value;
}
const median = (xs) => {
  const a = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((x, y) => x - y);
  if (!a.length) return null;
  const m = Math.floor(a.length / 2);
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
};
const rounds = (scen, sys) => Object.values(R[scen]?.[sys] ?? {});
const med = (scen, sys, metric) => median(rounds(scen, sys).map((r) => r[metric]));
// Per-round difference system minus direct, then median.
const added = (scen, sys, metric) => {
  const d = R[scen]?.direct ?? {};
  return median(Object.entries(R[scen]?.[sys] ?? {}).map(([rd, r]) => (d[rd] ? r[metric] - d[rd][metric] : NaN)));
};
const ms = (us, digits = 2) => (us === null ? 'n/a' : `${(us / 1000).toFixed(digits)} ms`);
const num = (x) => (x === null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const errs = (scen, sys) => {
  const e = rounds(scen, sys).reduce((s, r) => s + (r.non2xx || 0) + (r.sockerr || 0), 0);
  const n = rounds(scen, sys).reduce((s, r) => s + (r.requests || 0), 0);
  return e ? ` (${num(e)} of ${num(n)} failed)` : '';
};
const msm = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(2)} ms`);
const mb = (kb) => (kb ? `${(kb / 1024).toFixed(0)} MB` : 'n/a');
const verdict = (ok) => (ok === null ? '' : ok ? '**met**' : '**missed**');

const out = [];
const row = (...cells) => out.push(`| ${cells.join(' | ')} |`);
out.push(`Machine: ${meta.machine}; ${meta.pg}; Portkey ${meta.portkey} on node ${meta.node}; nginx ${meta.nginx}; wrk ${meta.wrk}.`);
out.push(`${meta.rounds} interleaved rounds of ${meta.seconds} s per wrk run (aigw, Portkey, direct, repeated); medians. ${meta.date}.`);
out.push(`Load average: ${meta.load}`);
out.push('');
row('figure', 'aigw', 'Portkey', 'direct (mock)', 'aigw target');
row('---', '---', '---', '---', '---');

// Added latency at one connection.
const a50 = added('lat1', 'aigw', 'p50_us'); const p50 = added('lat1', 'portkey', 'p50_us');
const a99 = added('lat1', 'aigw', 'p99_us'); const p99 = added('lat1', 'portkey', 'p99_us');
if (R.lat1) {
  row('added latency p50, 1 connection', ms(a50, 3) + errs('lat1', 'aigw'), ms(p50, 3) + errs('lat1', 'portkey'),
    `p50 ${ms(med('lat1', 'direct', 'p50_us'), 3)}`,
    `≤ 1.0 ms and ≤ ½ Portkey: ${verdict(a50 === null || p50 === null ? null : a50 <= 1000 && a50 <= p50 / 2)}`);
  row('added latency p99, 1 connection', ms(a99, 3), ms(p99, 3), `p99 ${ms(med('lat1', 'direct', 'p99_us'), 3)}`, '');
  row('req/s, 1 connection', num(med('lat1', 'aigw', 'rps')), num(med('lat1', 'portkey', 'rps')), num(med('lat1', 'direct', 'rps')), '');
}
for (const [kind, label] of [['fast', 'mock answers at once'], ['slow', 'mock answers after 20 ms']]) {
  for (const c of [32, 256]) {
    const s = `${kind}${c}`;
    if (!R[s]) continue;
    const ar = med(s, 'aigw', 'rps'); const pr = med(s, 'portkey', 'rps');
    const ap = med(s, 'aigw', 'p99_us'); const pp = med(s, 'portkey', 'p99_us');
    const target = s === 'fast32' ? `≥ 3× Portkey with lower p99: ${verdict(ar === null || pr === null ? null : ar >= 3 * pr && ap < pp)}` : '';
    row(`req/s, ${c} connections, ${label}`, num(ar) + errs(s, 'aigw'), num(pr) + errs(s, 'portkey'), num(med(s, 'direct', 'rps')) + errs(s, 'direct'),
      s === 'fast32' && ar !== null && pr ? `${target} (${(ar / pr).toFixed(2)}×)` : target);
    row(`p99, ${c} connections, ${label}`, ms(ap), ms(pp), ms(med(s, 'direct', 'p99_us')), '');
  }
}
// CPU per request in the 32-connection runs: ticks (1/100 s) of each process group.
const cpuPer = (scen, sys, groups) => median(rounds(scen, sys).map((r) => {
  if (!r.cpu || !r.cpu.requests) return NaN;
  const d = groups.reduce((s, g) => s + ((r.cpu.after[g] || 0) - (r.cpu.before[g] || 0)), 0);
  return (d * 10) / r.cpu.requests;   // ms per request
}));
for (const [kind, label] of [['fast', 'mock at once'], ['slow', 'mock after 20 ms']]) {
  const s = `${kind}32`;
  if (!rounds(s, 'aigw').some((r) => r.cpu)) continue;
  const parts = [['aigw-http', 'aigw-http'], ['pg-backends', 'backends'], ['pg-workers', 'workers'], ['pg-other', 'other PostgreSQL']]
    .map(([g, name]) => `${name} ${msm(cpuPer(s, 'aigw', [g]))}`).join(', ');
  row(`CPU per request, 32 connections, ${label}`, `${msm(cpuPer(s, 'aigw', ['aigw-http', 'pg-backends', 'pg-workers', 'pg-other']))} (${parts})`,
    msm(cpuPer(s, 'portkey', ['portkey'])), '', '');
}
// Streams.
for (const n of Object.keys(R).filter((k) => k.startsWith('stream')).map((k) => Number(k.slice(6))).sort((x, y) => x - y)) {
  const s = `stream${n}`;
  const okAll = (sys) => rounds(s, sys).every((r) => r.ok === n);
  const describe = (sys) => {
    const rs = rounds(s, sys);
    if (!rs.length) return 'n/a';
    const okMed = median(rs.map((r) => r.ok));
    if (okMed === 0) {
      const reasons = {};
      for (const r of rs) for (const [k, v] of Object.entries(r.failures || {})) reasons[k] = (reasons[k] || 0) + v;
      const top = Object.entries(reasons).sort((x, y) => y[1] - x[1])[0];
      return `fails: 0 of ${n} streams complete (${top ? top[0].replace(/\|/g, '/') : 'no answer'})`;
    }
    return null;
  };
  const cell = (sys, f) => describe(sys) ?? f();
  const addT = (sys, m) => cell(sys, () => msm(added(s, sys, m)));
  const at99 = added(s, 'aigw', 'ttfcP99');
  row(`streams ×${n} (${meta.chunks} chunks, ${meta.intervalMs} ms): added time to first chunk p50`, addT('aigw', 'ttfcP50'), addT('portkey', 'ttfcP50'),
    `p50 ${msm(med(s, 'direct', 'ttfcP50'))}`, '');
  row(`streams ×${n}: added time to first chunk p99`, addT('aigw', 'ttfcP99'), addT('portkey', 'ttfcP99'),
    `p99 ${msm(med(s, 'direct', 'ttfcP99'))}`,
    n === 1000 ? `≤ 2 ms: ${verdict(at99 === null ? null : at99 <= 2)}` : '');
  const sd = (sys) => cell(sys, () => {
    const rs = rounds(s, sys);
    return `${num(med(s, sys, 'stalled'))} / ${num(med(s, sys, 'dropped'))} (max ${num(Math.max(...rs.map((r) => r.stalled ?? 0)))} / ${num(Math.max(...rs.map((r) => r.dropped ?? 0)))}); longest gap ${med(s, sys, 'maxGap')?.toFixed(0)} ms`;
  });
  const astalled = med(s, 'aigw', 'stalled');
  row(`streams ×${n}: stalled (gap > 100 ms) / dropped chunks`, sd('aigw'), sd('portkey'), sd('direct'),
    n === 1000 ? `zero stalled: ${verdict(astalled === null ? null : astalled === 0 && okAll('aigw'))}` : '');
  const done = (sys) => `${num(med(s, sys, 'ok'))} of ${n}; at most ${num(med(s, sys, 'maxOpen'))} open at once` +
    (sys === 'aigw' ? ` (failures over all rounds: ${Object.entries(rounds(s, sys).reduce((acc, r) => {
      for (const [k, v] of Object.entries(r.failures || {})) acc[k.slice(0, 70).replace(/\|/g, '/')] = (acc[k.slice(0, 70).replace(/\|/g, '/')] || 0) + v;
      return acc; }, {})).map(([k, v]) => `${v}× ${k}…`).join('; ') || 'none'})` : '');
  row(`streams ×${n}: streams completed with [DONE]`, done('aigw'), describe('portkey') ?? done('portkey'), done('direct'), '');
}
// Memory.
const g = (k) => mem[k] || {};
row('peak memory: gateway process', `aigw-http: RSS ${mb(g('aigw-http').maxHwmKb)}`, `RSS ${mb(g('portkey').maxHwmKb)}`, '', '');
row('peak memory: PostgreSQL backends', `${g('pg-backends').procs ?? 0} backends: Pss ${mb(g('pg-backends').peakPssKb)} together, largest RSS ${mb(g('pg-backends').maxHwmKb)}`, '—', '', '');
row('peak memory: aigw workers (launcher, task workers, reaper)', `${g('pg-workers').procs ?? 0} processes: Pss ${mb(g('pg-workers').peakPssKb)} together, largest RSS ${mb(g('pg-workers').maxHwmKb)}`, '—', '', '');
row('peak memory: other PostgreSQL processes', `Pss ${mb(g('pg-other').peakPssKb)} (postmaster, checkpointer, walwriter, …; shared_buffers ${meta.sharedBuffers})`, '—', '', '');
// Durability.
if (rows.tasks) {
  const per = (x) => (x / rows.tasks).toFixed(2);
  const ins = Object.entries(rows.ins || {}).filter(([, v]) => v >= rows.tasks / 2).map(([k, v]) => `${k} ${per(v)}`).join(', ');
  const upd = Object.entries(rows.upd || {}).filter(([, v]) => v >= rows.tasks / 2).map(([k, v]) => `${k} ${per(v)}`).join(', ');
  row('aigw rows per request (all runs)', `${num(rows.tasks)} tasks, ${num(rows.succeeded)} succeeded, ${num(rows.finalBilled)} with a final billing; per task: ` +
    `attempts ${per(rows.attempts)}, events ${per(rows.events)}, wallet transactions ${per(rows.walletTx)} (${Object.keys(rows.walletTxTypes || {}).join(', ')}), settlement outbox ${per(rows.settlementOutbox)}`,
  '— (nothing stored)', '', 'task, attempt, billing committed for each');
  row('aigw writes per request (pg_stat)', `rows inserted: ${ins}; rows updated: ${upd}; transactions committed ${per(rows.xactCommit)} (synchronous_commit ${rows.settings?.synchronous_commit}); WAL ${(rows.walBytes / rows.tasks / 1024).toFixed(1)} kB`, '', '', '');
}
console.log(out.join('\n'));
