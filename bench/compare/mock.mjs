// Benchmark mock of an OpenAI-compatible provider (the fixed-answer case is
// served by nginx; this covers what nginx cannot do without extra modules).
//   node mock.mjs delay PORT MS            every POST answers the fixed chat
//                                          completion after MS milliseconds
//   node mock.mjs sse PORT CHUNKS INTERVAL every POST answers an SSE stream: a
//                                          role chunk at once, then CHUNKS content
//                                          chunks every INTERVAL ms, a finish
//                                          chunk, a usage chunk when
//                                          stream_options.include_usage, [DONE]
// Prints "listening PORT" when ready.
import fs from 'node:fs';
import http from 'node:http';

const [mode, portArg, a, b] = process.argv.slice(2);
const port = Number(portArg);
const FIXED = fs.readFileSync(new URL('./fixed.json', import.meta.url), 'utf8').trim();

// Answers the fixed completion after `ms` milliseconds.
function delayed(ms) {
  return (req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(FIXED) });
      res.end(FIXED);
    }, ms));
  };
}

// Streams `chunks` content chunks, one every `interval` ms.
function streaming(chunks, interval) {
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1700000000, model: 'bench-model' };
  const frame = (o) => `data: ${JSON.stringify({ ...base, ...o })}\n\n`;
  const first = frame({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
  const content = Array.from({ length: chunks },
    (_, i) => frame({ choices: [{ index: 0, delta: { content: `t${i} ` }, finish_reason: null }] }));
  const finish = frame({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
  const usage = frame({ choices: [], usage: { prompt_tokens: 9, completion_tokens: chunks, total_tokens: 9 + chunks } });
  return (req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let wantUsage = false;
      try { wantUsage = Boolean(JSON.parse(body).stream_options?.include_usage); } catch { /* not JSON: no usage */ }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(first);
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed) { clearInterval(timer); return; }
        if (i < chunks) { res.write(content[i++]); return; }
        clearInterval(timer);
        res.end(finish + (wantUsage ? usage : '') + 'data: [DONE]\n\n');
      }, interval);
      res.on('close', () => clearInterval(timer));
    });
  };
}

const handler = mode === 'sse' ? streaming(Number(a || 64), Number(b || 20)) : delayed(Number(a || 20));
const server = http.createServer({ keepAliveTimeout: 60000 }, handler);
server.maxConnections = 100000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
