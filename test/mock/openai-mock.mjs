// A mock OpenAI-compatible provider for aigw's tests: real wire formats
// (chat completions JSON and SSE, embeddings, images, OpenAI error bodies).
// The requested model name selects the behaviour:
//   mock-ok (any other name)  normal answers
//   mock-500                  HTTP 500 with an OpenAI error body
//   mock-429                  HTTP 429, Retry-After: 7
//   mock-401                  HTTP 401 invalid_api_key
//   mock-400                  HTTP 400 invalid_request_error
//   mock-timeout              never answers
//   mock-slow                 answers after 3 s
//   mock-malformed            HTTP 200 with a body that is not JSON
//   mock-truncated            a stream that stops before finishing
//   mock-long                 a stream of MOCK_LONG_CHUNKS chunks (default 3000) sent at once,
//                             then held open (callStats.longHeld counts it, once node has
//                             handed every byte to the socket) until GET /release-long
//   mock-video (POST /videos) an asynchronous video job, OpenAI's videos API: queued,
//                             then in_progress, completed after MOCK_VIDEO_POLLS polls
//                             of GET /videos/{id} (default 3); mock-video-fail fails
//                             at its second poll; MOCK_VIDEO_POLLS=0 never completes
// DELETE /videos/{id} deletes a job (OpenAI's answer: {id, object: "video.deleted", deleted: true}).
// GET /videos-stats counts the video submissions, polls and deletes per prompt.
//   mock-redirect             HTTP 302 to /hooks/redirected on this server (a client must not follow it)
// It also receives deliveries: POST /hooks/NAME records the body and headers
// (a NAME starting with "flaky" answers 503 to its first delivery of each
// Idempotency-Key); GET /hooks lists what was received.
// Streams send MOCK_CHUNKS chunks (default 8) every MOCK_INTERVAL_MS (default 0).
// GET /call-stats counts chat completion requests, streams completed and streams the
// client closed early, and mock-timeout calls the client closed.
// Usage: node openai-mock.mjs PORT  (prints "listening PORT" when ready)
import http from 'node:http';

const port = Number(process.argv[2] || 0);
const chunks = Number(process.env.MOCK_CHUNKS || 8);
const interval = Number(process.env.MOCK_INTERVAL_MS || 0);
let requests = 0;
const videoPolls = Number(process.env.MOCK_VIDEO_POLLS ?? 3);
const videos = new Map();       // id -> job
const videoStats = {};          // prompt -> {posts, polls}
const hooks = [];
const flakySeen = new Set();
const callStats = { chatRequests: 0, streamsCompleted: 0, streamsClosedEarly: 0, hungClosed: 0, longHeld: 0 };
const longChunks = Number(process.env.MOCK_LONG_CHUNKS || 3000);
let longReleased = false;

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function error(res, status, message, type, code, headers) {
  send(res, status, { error: { message, type, param: null, code } }, headers);
}

function chat(res, req) {
  const text = 'Hello from the mock provider.';
  const usage = { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 };
  if (!req.stream) {
    return send(res, 200, {
      id: 'chatcmpl-mock', object: 'chat.completion', created: 1700000000, model: req.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'stop' }],
      usage,
    });
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1700000000, model: req.model };
  const frames = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
  const long = req.model === 'mock-long';
  for (let i = 0; i < (long ? longChunks : chunks); i++)
    frames.push({ ...base, choices: [{ index: 0, delta: { content: `tok${i} ` }, finish_reason: null }] });
  const truncated = req.model === 'mock-truncated';
  if (long) {
    // every content chunk at once, then held until released; the rest as usual
    const held = frames.length;
    for (let i = 0; i < held; i++) res.write(`data: ${JSON.stringify(frames[i])}\n\n`);
    frames.splice(0, held, { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (req.stream_options && req.stream_options.include_usage)
      frames.push({ ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: longChunks, total_tokens: 9 + longChunks } });
    const finish = () => {
      for (const f of frames) res.write(`data: ${JSON.stringify(f)}\n\n`);
      res.end('data: [DONE]\n\n');
      callStats.streamsCompleted++;
    };
    const hold = () => {
      if (res.destroyed) return;
      if (longReleased) return finish();
      setTimeout(hold, 20);
    };
    const drained = () => { callStats.longHeld++; hold(); };
    return res.writableLength === 0 ? drained() : res.once('drain', drained);
  }
  if (!truncated) {
    frames.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (req.stream_options && req.stream_options.include_usage)
      frames.push({ ...base, choices: [], usage: { prompt_tokens: 9, completion_tokens: chunks, total_tokens: 9 + chunks } });
  }
  let i = 0;
  res.on('close', () => { if (!res.writableEnded && !truncated) callStats.streamsClosedEarly++; });
  const next = () => {
    if (res.destroyed) return;
    if (i < frames.length) {
      res.write(`data: ${JSON.stringify(frames[i++])}\n\n`);
      if (truncated && i === 3) return res.destroy();
      return interval ? setTimeout(next, interval) : setImmediate(next);
    }
    res.end('data: [DONE]\n\n');
    callStats.streamsCompleted++;
  };
  next();
}

const server = http.createServer((hreq, res) => {
  let raw = '';
  hreq.on('data', (d) => { raw += d; });
  hreq.on('end', () => {
    requests++;
    if (hreq.method === 'GET' && hreq.url === '/stats') return send(res, 200, { requests });
    if (hreq.method === 'GET' && hreq.url === '/hooks') return send(res, 200, hooks);
    if (hreq.url === '/hooks/redirected') {
      hooks.push({ name: 'redirected', method: hreq.method });
      return send(res, 200, { ok: true });
    }
    if (hreq.method === 'POST' && hreq.url.startsWith('/hooks/')) {
      const name = hreq.url.slice(7);
      const key = hreq.headers['idempotency-key'] || '';
      if (name.startsWith('flaky') && !flakySeen.has(key)) { flakySeen.add(key); return send(res, 503, { error: 'try again' }); }
      hooks.push({ name, key, type: hreq.headers['x-easyai-event-type'], auth: hreq.headers.authorization || null, body: JSON.parse(raw || '{}') });
      return send(res, 200, { ok: true });
    }
    if (hreq.method === 'GET' && hreq.url === '/videos-stats') return send(res, 200, videoStats);
    if (hreq.method === 'GET' && hreq.url === '/call-stats') return send(res, 200, callStats);
    if (hreq.method === 'GET' && hreq.url === '/release-long') { longReleased = true; return send(res, 200, { ok: true }); }
    if ((hreq.headers.authorization || '') !== 'Bearer sk-mock')
      return error(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    if (hreq.method === 'GET' && /\/videos\/[^/]+$/.test(hreq.url)) return pollVideo(res, hreq.url.split('/').pop());
    if (hreq.method === 'DELETE' && /\/videos\/[^/]+$/.test(hreq.url)) return deleteVideo(res, hreq.url.split('/').pop());
    let req;
    try { req = JSON.parse(raw); } catch { return error(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null); }
    switch (req.model) {
      case 'mock-500': return error(res, 500, 'The server had an error while processing your request.', 'server_error', null);
      case 'mock-429': return error(res, 429, 'Rate limit reached for requests.', 'requests', 'rate_limit_exceeded', { 'retry-after': '7' });
      case 'mock-401': return error(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      case 'mock-400': return error(res, 400, "Invalid value for 'temperature'.", 'invalid_request_error', 'invalid_parameter');
      case 'mock-timeout': res.on('close', () => { callStats.hungClosed++; }); return;
      case 'mock-redirect':
        res.writeHead(302, { location: `http://127.0.0.1:${server.address().port}/hooks/redirected`, 'content-length': 0 });
        return res.end();
      case 'mock-malformed': res.writeHead(200, { 'content-type': 'application/json' }); return res.end('{"id": "chatcmpl-mock", "choices": [');
      case 'mock-slow': return setTimeout(() => route(hreq, res, req), 3000);
      default: return route(hreq, res, req);
    }
  });
});

function videoObject(job) {
  return { id: job.id, object: 'video', model: job.model, status: job.status, progress: job.progress,
           created_at: 1700000000, seconds: job.seconds, size: job.size,
           ...(job.status === 'failed' ? { error: { code: 'moderation_blocked', message: 'The video job was blocked.' } } : {}) };
}

function submitVideo(res, req) {
  const id = `video_${videos.size + 1}_${Date.now()}`;
  const job = { id, model: req.model, prompt: req.prompt, status: 'queued', progress: 0, polls: 0,
                seconds: String(req.seconds || '4'), size: req.size || '1280x720' };
  videos.set(id, job);
  const st = videoStats[req.prompt] || (videoStats[req.prompt] = { posts: 0, polls: 0 });
  st.posts++;
  return send(res, 200, videoObject(job));
}

function pollVideo(res, id) {
  const job = videos.get(id);
  if (!job) return error(res, 404, `Video ${id} not found.`, 'invalid_request_error', 'not_found');
  job.polls++;
  videoStats[job.prompt].polls++;
  if (job.model === 'mock-video-fail' && job.polls >= 2) job.status = 'failed';
  else if (videoPolls > 0 && job.polls >= videoPolls) { job.status = 'completed'; job.progress = 100; }
  else { job.status = 'in_progress'; job.progress = Math.min(99, job.polls * 30); }
  return send(res, 200, videoObject(job));
}

function deleteVideo(res, id) {
  const job = videos.get(id);
  if (!job) return error(res, 404, `Video ${id} not found.`, 'invalid_request_error', 'not_found');
  videos.delete(id);
  videoStats[job.prompt].deletes = (videoStats[job.prompt].deletes || 0) + 1;
  return send(res, 200, { id, object: 'video.deleted', deleted: true });
}

function route(hreq, res, req) {
  if (hreq.url.endsWith('/videos')) return submitVideo(res, req);
  if (hreq.url.endsWith('/chat/completions')) { callStats.chatRequests++; return chat(res, req); }
  if (hreq.url.endsWith('/embeddings')) {
    const inputs = Array.isArray(req.input) ? req.input : [req.input];
    return send(res, 200, {
      object: 'list', model: req.model,
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2, 0.3] })),
      usage: { prompt_tokens: 4 * inputs.length, total_tokens: 4 * inputs.length },
    });
  }
  if (hreq.url.endsWith('/images/generations'))
    return send(res, 200, { created: 1700000000, data: Array.from({ length: req.n || 1 }, () => ({ url: 'https://example.invalid/img.png' })) });
  return error(res, 404, `Unknown path ${hreq.url}`, 'invalid_request_error', null);
}

server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => process.exit(0));
