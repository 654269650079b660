// Samples memory of the benchmarked processes every 500 ms until SIGTERM, then
// prints one JSON line. Groups:
//   aigw-http, portkey           the process (and its children)
//   pg-backends, pg-workers,     children of the postmaster, told apart by
//   pg-other                     their process title
// For each group: peak of the summed VmRSS and of the summed proportional set
// size (Pss, /proc/PID/smaps_rollup, which splits shared_buffers pages among the
// processes that touched them) and the largest single-process VmHWM.
//   node memwatch.mjs FRONT_PID PORTKEY_PID POSTMASTER_PID OUTFILE
//   node memwatch.mjs cpu FRONT_PID PORTKEY_PID POSTMASTER_PID
//     prints each group's CPU ticks (1/100 s) so far, at once
import fs from 'node:fs';

const cpuOnly = process.argv[2] === 'cpu';
const args = process.argv.slice(cpuOnly ? 3 : 2);
const [frontPid, portkeyPid, pmPid] = args.slice(0, 3).map(Number);
const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return ''; } };
const kb = (text, field) => { const m = new RegExp(`${field}:\\s+(\\d+)`).exec(text); return m ? Number(m[1]) : 0; };
const ppid = (pid) => { const s = read(`/proc/${pid}/stat`); const m = /\) \S (\d+)/.exec(s); return m ? Number(m[1]) : 0; };
const groups = {};
const cpu0 = new Map(); const cpu1 = new Map(); const groupOf = new Map();
const ticks = (pid) => { const s = read(`/proc/${pid}/stat`); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); };
const note = (g, rss, pss, hwm) => {
  const e = groups[g] || (groups[g] = { peakRssKb: 0, peakPssKb: 0, maxHwmKb: 0, procs: 0, cur: null });
  if (!e.cur) e.cur = { rss: 0, pss: 0, procs: 0 };
  e.cur.rss += rss; e.cur.pss += pss; e.cur.procs += 1; e.maxHwmKb = Math.max(e.maxHwmKb, hwm);
};
function classify(pid) {
  if (pid === frontPid) return 'aigw-http';
  const cmd = read(`/proc/${pid}/cmdline`).replace(/\0/g, ' ');
  if (/aigw (task worker|launcher|reaper|outbox)/.test(cmd)) return 'pg-workers';
  if (/aigw_http|postgres: \S+ \S+ \[local\]/.test(cmd)) return 'pg-backends';
  return 'pg-other';
}
function sample() {
  for (const e of Object.values(groups)) e.cur = null;
  const pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  for (const pid of pids) {
    let g = null;
    if (pid === frontPid) g = 'aigw-http';
    else if (pid === portkeyPid || (portkeyPid && ppid(pid) === portkeyPid)) g = 'portkey';
    else if (pmPid && ppid(pid) === pmPid) g = classify(pid);
    else if (pid === pmPid) g = 'pg-other';
    if (!g) continue;
    const st = read(`/proc/${pid}/status`);
    const pss = kb(read(`/proc/${pid}/smaps_rollup`), 'Pss');
    note(g, kb(st, 'VmRSS'), pss, kb(st, 'VmHWM'));
    const t = ticks(pid);
    if (!cpu0.has(pid)) cpu0.set(pid, t);
    cpu1.set(pid, t); groupOf.set(pid, g);
  }
  for (const e of Object.values(groups)) {
    if (!e.cur) continue;
    e.peakRssKb = Math.max(e.peakRssKb, e.cur.rss);
    e.peakPssKb = Math.max(e.peakPssKb, e.cur.pss);
    e.procs = Math.max(e.procs, e.cur.procs);
  }
}
if (cpuOnly) {
  sample();
  const out = {};
  for (const [pid, g] of groupOf) out[g] = (out[g] || 0) + cpu1.get(pid);
  console.log(JSON.stringify(out));
  process.exit(0);
}
sample();
const timer = setInterval(sample, 500);
process.on('SIGTERM', () => {
  clearInterval(timer);
  sample();
  for (const e of Object.values(groups)) { delete e.cur; e.cpuSeconds = 0; }
  for (const [pid, g] of groupOf) groups[g].cpuSeconds += (cpu1.get(pid) - cpu0.get(pid)) / 100;
  fs.writeFileSync(args[3] || '/dev/stdout', `${JSON.stringify(groups)}\n`);
  process.exit(0);
});
