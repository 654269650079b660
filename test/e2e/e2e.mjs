// End-to-end tests of aigw-http: the official openai client, the compatible
// routes with fetch, malformed requests on raw sockets, and SSE replay.
// Prints TAP lines numbered from TAP_START + 1.
import OpenAI, { toFile } from 'openai';
import net from 'node:net';
import crypto from 'node:crypto';

const URL_ = process.env.AIGW_URL;
const KEY = process.env.AIGW_API_KEY;
const USER_KEY = process.env.AIGW_USER_KEY;
let n = Number(process.env.TAP_START || 0);
let failed = 0;

function ok(cond, name, extra) {
  n += 1;
  if (cond) console.log(`ok ${n} - ${name}`);
  else {
    failed += 1;
    console.log(`not ok ${n} - ${name}`);
    if (extra !== undefined) console.log(`# ${String(typeof extra === 'string' ? extra : JSON.stringify(extra)).slice(0, 600)}`);
  }
}
async function check(name, fn) {
  try {
    const r = await fn();
    ok(r === true, name, r);
  } catch (e) {
    ok(false, name, `${e && e.constructor && e.constructor.name}: ${e && e.message}`);
  }
}
async function expectError(name, cls, status, fn) {
  try {
    await fn();
    ok(false, name, 'no error');
  } catch (e) {
    ok(e instanceof cls && e.status === status, name, `${e.constructor.name} ${e.status} ${e.message}`);
  }
}
const api = (path, init = {}) => fetch(URL_ + path, {
  ...init, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', ...(init.headers || {}) },
});
function raw(payload, { waitMs = 3000 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(Number(new URL(URL_).port), '127.0.0.1');
    let data = '';
    const done = () => { s.destroy(); resolve(data); };
    s.setTimeout(waitMs, done);
    s.on('data', (d) => { data += d.toString('latin1'); });
    s.on('end', done);
    s.on('error', done);
    s.on('connect', () => { if (payload !== null) s.write(payload); });
  });
}
const statusOf = (resp) => Number((/^HTTP\/1\.[01] (\d{3})/.exec(resp) || [])[1] || 0);
const b64url = (s) => Buffer.from(s).toString('base64url');
function jwt(payload, secret) {
  const h = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64url(JSON.stringify(payload));
  const sig = crypto.createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

const client = new OpenAI({ baseURL: `${URL_}/v1`, apiKey: KEY, maxRetries: 0 });
const root = new OpenAI({ baseURL: URL_, apiKey: USER_KEY, maxRetries: 0 });
let chatTaskId = null;

await check('SDK chat completion (non-streamed) returns the simulated answer', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'sim-chat', messages: [{ role: 'user', content: 'Hello gateway' }] }).withResponse();
  chatTaskId = response.headers.get('x-aigw-task-id');
  return data.object === 'chat.completion' && data.choices[0].message.content.includes('Hello gateway')
    && data.usage.total_tokens > 0 || data;
});
await check('chat response names request id, provider, platform, attempts and task', async () => {
  const r = await api('/v1/chat/completions', { method: 'POST', headers: { 'x-request-id': 'e2e-req-42' },
    body: JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'hi' }] }) });
  const h = Object.fromEntries(r.headers);
  return (r.status === 200 && h['x-request-id'] === 'e2e-req-42' && h['x-aigw-provider'] === 'simulation'
    && h['x-aigw-platform'] === 'simulation' && h['x-aigw-attempts'] === '1' && /^[0-9a-f-]{36}$/.test(h['x-aigw-task-id'])) || h;
});
await check('SDK streamed chat yields chat.completion.chunk deltas that add up to the answer', async () => {
  const stream = await client.chat.completions.create({ model: 'sim-chat', stream: true,
    messages: [{ role: 'user', content: 'stream this please' }] });
  let text = ''; let chunks = 0; let finish = null;
  for await (const c of stream) {
    chunks += 1;
    if (c.object !== 'chat.completion.chunk') return c;
    text += c.choices[0]?.delta?.content || '';
    finish = c.choices[0]?.finish_reason || finish;
  }
  return (chunks > 2 && text.includes('stream') && text.includes('please') && finish === 'stop') || { chunks, text, finish };
});
await check('a stream cancelled through the API (GET /v1/ai/cancel/:taskId) ends at once, long before its provider would', async () => {
  const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
  const t0 = Date.now();
  const r = await api('/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'sim-chat', stream: true,
    messages: [{ role: 'user', content: 'cancel me' }], simulation_profile: { content: words, chunkIntervalMs: 200 } }) });
  const taskId = r.headers.get('x-aigw-task-id');
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let body = '';
  const first = await reader.read();
  body += decoder.decode(first.value || new Uint8Array());
  const c = await (await api(`/v1/ai/cancel/${taskId}`)).json();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    body += decoder.decode(value);
  }
  const elapsed = Date.now() - t0;
  const chunks = body.split('\n\n').filter((l) => l.includes('chat.completion.chunk')).length;
  // 60 words at 200 ms would take 12 s
  return (c.cancelled === true && elapsed < 6000 && chunks < 40 && body.includes('cancel') && !body.includes('timed out')
    && body.endsWith('data: [DONE]\n\n')) || { c, elapsed, chunks, tail: body.slice(-300) };
});
await check('raw SSE stream is text/event-stream with data: lines and ends with data: [DONE]', async () => {
  const r = await api('/v1/chat/completions', { method: 'POST',
    body: JSON.stringify({ model: 'sim-chat', stream: true, messages: [{ role: 'user', content: 'raw' }] }) });
  const body = await r.text();
  const lines = body.split('\n\n').filter(Boolean);
  return (r.headers.get('content-type').startsWith('text/event-stream') && body.endsWith('data: [DONE]\n\n')
    && lines.every((l) => l.startsWith('data: ')) && !!r.headers.get('x-request-id')) || body.slice(0, 300);
});
await check('SDK chat through the mock OpenAI provider (JSON and stream)', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'to the mock' }] }).withResponse();
  const stream = await client.chat.completions.create({ model: 'gpt-e2e', stream: true,
    messages: [{ role: 'user', content: 'stream from the mock' }] });
  let text = ''; let chunks = 0;
  for await (const c of stream) { chunks += 1; text += c.choices[0]?.delta?.content || ''; }
  return (data.object === 'chat.completion' && typeof data.choices[0].message.content === 'string'
    && response.headers.get('x-aigw-platform') === 'mock' && response.headers.get('x-aigw-simulated') === null
    && chunks >= 3 && text.length > 0) || { data, chunks, text };
});
await check('a wallet without balance is a 402 insufficient_quota (SDK APIError status 402)', async () => {
  const poor = new OpenAI({ baseURL: `${URL_}/v1`, apiKey: USER_KEY, maxRetries: 0 });
  try {
    await poor.chat.completions.create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'x' }] });
    return 'no error';
  } catch (e) {
    return (e instanceof OpenAI.APIError && e.status === 402 && e.error.type === 'insufficient_quota') || `${e.status} ${e.message}`;
  }
});
await expectError('a provider 429 surfaces as RateLimitError (429)', OpenAI.RateLimitError, 429, () =>
  client.chat.completions.create({ model: 'gpt-e2e-429', messages: [{ role: 'user', content: 'x' }] }));
await check('a provider 500 surfaces as an SDK InternalServerError (5xx)', async () => {
  try {
    await client.chat.completions.create({ model: 'gpt-e2e-500', messages: [{ role: 'user', content: 'x' }] });
    return 'no error';
  } catch (e) {
    return (e instanceof OpenAI.InternalServerError && e.status >= 500 && e.error && typeof e.error.message === 'string')
      || `${e.constructor.name} ${e.status} ${e.message}`;
  }
});
await check('x-portkey-config reaches the router: a single target on another platform, with its model', async () => {
  const cfg = { strategy: { mode: 'single' }, targets: [{ platform: 'simulation', override_params: { model: 'sim-chat' } }] };
  const { data, response } = await client.chat.completions
    .create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'routed' }] },
      { headers: { 'x-portkey-config': JSON.stringify(cfg) } }).withResponse();
  return (response.headers.get('x-aigw-platform') === 'simulation' && data.object === 'chat.completion')
    || { platform: response.headers.get('x-aigw-platform'), data };
});
await check('an invalid x-aigw-config is a 400 invalid_config naming the header (SDK BadRequestError)', async () => {
  try {
    await client.chat.completions.create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-aigw-config': '{"strategy": {"mode": "round_robin"}, "targets": [{"platform": "simulation"}]}' } });
    return 'no error';
  } catch (e) {
    return (e instanceof OpenAI.BadRequestError && e.status === 400 && e.error.code === 'invalid_config'
      && /^invalid x-aigw-config: strategy\.mode/.test(e.error.message)) || `${e.constructor.name} ${e.status} ${e.message}`;
  }
});
await check('SDK embeddings return a vector', async () => {
  const e = await client.embeddings.create({ model: 'sim-embedding', input: 'hello' });
  return (e.data.length === 1 && e.data[0].embedding.length > 0) || e;
});
await check('SDK image generation returns an image', async () => {
  const i = await client.images.generate({ model: 'sim-image', prompt: 'a lighthouse', n: 2 });
  return (i.data.length === 2 && typeof i.data[0].url === 'string') || i;
});
await check('SDK image edit (multipart upload) returns an image', async () => {
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
  const i = await client.images.edit({ model: 'sim-image', prompt: 'make it blue',
    image: await toFile(png, 'in.png', { type: 'image/png' }) });
  return (i.data.length === 1 && typeof i.data[0].url === 'string') || i;
});
await check('SDK models.list lists the simulation models', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  return (ids.includes('sim-chat') && ids.includes('sim-embedding')) || ids;
});
await expectError('a wrong API key surfaces as AuthenticationError (401)', OpenAI.AuthenticationError, 401, () =>
  new OpenAI({ baseURL: `${URL_}/v1`, apiKey: 'sk-not-a-key-0000000000000000', maxRetries: 0 })
    .chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'x' }] }));
await expectError('a request without messages surfaces as BadRequestError (400)', OpenAI.BadRequestError, 400, () =>
  client.chat.completions.create({ model: 'sim-chat', messages: [] }));
await expectError('a basic user on a power route surfaces as PermissionDeniedError (403)', OpenAI.PermissionDeniedError, 403,
  () => root.get('/integration-platform'));
await expectError('an unknown route surfaces as NotFoundError (404)', OpenAI.NotFoundError, 404, () => client.get('/no-such-route'));
await check('error bodies are OpenAI-shaped with a request id header', async () => {
  const r = await fetch(`${URL_}/v1/models`, { headers: { authorization: 'Bearer sk-wrong-wrong-wrong-wrong-wrong' } });
  const b = await r.json();
  return (r.status === 401 && b.error && b.error.type === 'authentication_error' && b.error.code === 'invalid_api_key'
    && typeof b.error.message === 'string' && !!r.headers.get('x-request-id') && !!r.headers.get('www-authenticate')) || b;
});
await check('405 names the allowed methods', async () => {
  const r = await api('/healthz', { method: 'POST' });
  return (r.status === 405 && r.headers.get('allow') === 'GET') || r.status;
});
await check('JWT (HS256, server-main claims) authenticates /api/v1/me', async () => {
  const t = jwt({ sub: 'sm-user-7', username: 'carol', role: 'creator', tenantId: 'tn-1',
    exp: Math.floor(Date.now() / 1000) + 600 }, 'e2e-jwt-secret');
  const r = await fetch(`${URL_}/api/v1/me`, { headers: { authorization: `Bearer ${t}` } });
  const b = await r.json();
  return (r.status === 200 && b.userId === 'sm-user-7' && b.permission === 'creat' && b.tenantId === 'tn-1') || b;
});
await check('local accounts: register, login, token, own API keys (create, use, list, disable); wrong password 401, duplicate 409', async () => {
  const post = (p, b) => fetch(URL_ + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const r = await post('/api/v1/auth/register', { username: 'dora', password: 'long enough pw' });
  const rb = await r.json();
  const l = await (await post('/api/v1/auth/login', { username: 'dora', password: 'long enough pw' })).json();
  const me = await (await fetch(`${URL_}/api/v1/me`, { headers: { authorization: `Bearer ${l.accessToken}` } })).json();
  const bad = await post('/api/v1/auth/login', { username: 'dora', password: 'wrong password' });
  const dup = await post('/api/v1/auth/register', { username: 'dora', password: 'long enough pw' });
  const short = await post('/api/v1/auth/register', { username: 'eve', password: 'short' });
  const auth = { authorization: `Bearer ${l.accessToken}`, 'content-type': 'application/json' };
  const ck = await (await fetch(`${URL_}/api/v1/api-keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'dora key' }) })).json();
  const viaKey = await (await fetch(`${URL_}/api/v1/me`, { headers: { authorization: `Bearer ${ck.key}` } })).json();
  const list = await (await fetch(`${URL_}/api/v1/api-keys`, { headers: auth })).json();
  const dis = await fetch(`${URL_}/api/v1/api-keys/${ck.id}/disable`, { method: 'PATCH', headers: auth });
  const after = await fetch(`${URL_}/api/v1/me`, { headers: { authorization: `Bearer ${ck.key}` } });
  if (!(viaKey.username === 'dora' && list.data.length === 1 && !JSON.stringify(list).includes(ck.key)
        && dis.status === 200 && after.status === 401)) return { ck, viaKey, list, dis: dis.status, after: after.status };
  return (r.status === 201 && typeof rb.accessToken === 'string' && me.username === 'dora' && me.permission === 'basic'
    && bad.status === 401 && dup.status === 409 && short.status === 422) || { rb, me, bad: bad.status, dup: dup.status };
});
await check('the internal service token with X-EasyAI-Actor authenticates', async () => {
  const r = await fetch(`${URL_}/api/v1/me`, { headers: { authorization: 'Bearer e2e-internal-token', 'x-easyai-actor': 'easyai-server-main' } });
  const b = await r.json();
  return (r.status === 200 && b.actor === 'easyai-server-main' && b.authType === 'internal') || b;
});
await check('request-level test mode: an API key may not ask for it (403 test_mode_not_allowed); the internal service token may', async () => {
  let denied;
  try {
    await client.chat.completions.create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'X-EasyAI-Test-Mode': 'simulation' } });
    denied = 'no error';
  } catch (e) {
    denied = (e instanceof OpenAI.PermissionDeniedError && e.status === 403 && e.error.code === 'test_mode_not_allowed')
      || `${e.constructor.name} ${e.status} ${e.message}`;
  }
  const r = await fetch(`${URL_}/v1/chat/completions`, { method: 'POST', headers: {
    authorization: 'Bearer e2e-internal-token', 'x-easyai-actor': 'easyai-server-main', 'content-type': 'application/json',
    'x-easyai-test-mode': 'simulation' },
    body: JSON.stringify({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'simulate me' }] }) });
  const b = await r.json();
  return (denied === true && r.status === 200 && r.headers.get('x-aigw-simulated') === 'true' && b.simulated === true
    && b.choices[0].message.content.includes('simulate me')) || { denied, status: r.status, b };
});
await check('x-aigw-platform reaches the router: the named platform serves, a platform without the model answers 404', async () => {
  const { response } = await client.chat.completions.create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'x' }] },
    { headers: { 'x-aigw-platform': 'mock' } }).withResponse();
  let other;
  try {
    await client.chat.completions.create({ model: 'gpt-e2e', messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-aigw-platform': 'simulation' } });
    other = 'no error';
  } catch (e) {
    other = e.status;
  }
  return (response.headers.get('x-aigw-platform') === 'mock' && other === 404) || { platform: response.headers.get('x-aigw-platform'), other };
});
await check('x-comfy-api-key authenticates', async () => {
  const r = await fetch(`${URL_}/api/v1/me`, { headers: { 'x-comfy-api-key': USER_KEY } });
  const b = await r.json();
  return (r.status === 200 && b.username === 'e2e-user' && b.permission === 'basic') || b;
});
await check('site route POST /chat/completions (no /v1) answers like /v1', async () => {
  const r = await api('/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'site' }] }) });
  const b = await r.json();
  return (r.status === 200 && b.choices[0].message.content.includes('site')) || b;
});
await check('GET /models/list and /v1/embeddings/models answer in ResOp shape', async () => {
  const a = await (await api('/models/list')).json();
  const e = await (await api('/v1/embeddings/models')).json();
  return (a.code === 200 && a.data.length >= 4 && e.data.every((m) => m.modelType === 'embedding') && e.data.length >= 1) || { a, e };
});
await check('integration-platform admin routes: list, then dynamic-priority/:id reaches its handler', async () => {
  const l = await (await api('/integration-platform')).json();
  const sim = l.data.list.find((p) => p.platform_key === 'simulation');
  const r = await api(`/integration-platform/dynamic-priority/${sim.id}`, { method: 'PATCH', body: JSON.stringify({ dynamicPriority: 5 }) });
  const b = await r.json();
  const c = await api(`/integration-platform/dynamic-priority/${sim.id}`, { method: 'DELETE' });
  const d = await c.json();
  return (r.status === 200 && b.data.dynamic_priority === 5 && c.status === 200 && d.data.dynamic_priority === undefined
    && sim.credentials === undefined) || { b, d };
});
await check('platform create, platform-api CRUD and snapshots; credentials never returned', async () => {
  const c = await (await api('/integration-platform', { method: 'POST', body: JSON.stringify({ provider: 'openai',
    platformKey: 'e2e-openai', name: 'E2E', baseUrl: 'http://127.0.0.1:9/v1', credentials: { apiKey: 'sk-secret-e2e' } }) })).json();
  const id = c.data.id;
  const a = await (await api('/integration/platform-api', { method: 'POST', body: JSON.stringify({ platformId: id,
    apiKey: 'chat', name: 'Chat', path: '/chat/completions' }) })).json();
  const g = await (await api(`/integration/platform-api/${a.data.id}`)).json();
  const u = await (await api(`/integration/platform-api/${a.data.id}`, { method: 'PATCH', body: JSON.stringify({ timeoutMs: 5000 }) })).json();
  const d = await api(`/integration/platform-api/${a.data.id}`, { method: 'DELETE' });
  const gone = await api(`/integration/platform-api/${a.data.id}`);
  const snaps = await (await api(`/integration-platform/snapshots/platform/${id}`)).json();
  const detail = await (await api(`/integration-platform/${id}`)).text();
  await api(`/integration-platform/${id}`, { method: 'DELETE' });
  return (c.code === 201 && c.data.hasCredentials === true && g.data.path === '/chat/completions' && u.data.timeout_ms === 5000
    && d.status === 200 && gone.status === 404 && Array.isArray(snaps.data) && !detail.includes('sk-secret-e2e')) || { c, g, u };
});
await check('pricing: estimate (console and estimatedBilling forms) and rules', async () => {
  const e = await (await api('/api/v1/pricing/estimate', { method: 'POST', body: JSON.stringify({ model: 'sim-image', prompt: 'x', n: 2 }) })).json();
  const w = await (await api('/integration-platform/models/estimatedBilling/wf-7', { method: 'POST',
    body: JSON.stringify({ model: 'sim-image', prompt: 'x', n: 2 }) })).json();
  const r = await api('/api/v1/pricing/rules');
  const bad = await api('/api/v1/pricing/estimate', { method: 'POST', body: JSON.stringify({ prompt: 'x' }) });
  return (e.phase === 'estimate' && Number(e.total) > 0 && w.code === 200 && w.data.total === e.total
    && r.status === 200 && bad.status === 422) || { e, w, bad: bad.status };
});
let videoId = null;
await check('POST /v1/video/generations answers 202 with a task id at once', async () => {
  const r = await api('/v1/video/generations', { method: 'POST', body: JSON.stringify({ model: 'sim-video', prompt: 'waves', seconds: 5 }) });
  const b = await r.json();
  videoId = b.taskId;
  return (r.status === 202 && /^[0-9a-f-]{36}$/.test(b.taskId)) || b;
});
await check('GET /v1/ai/result/:taskId reaches the video result', async () => {
  for (let i = 0; i < 100; i++) {
    const b = await (await api(`/v1/ai/result/${videoId}`)).json();
    if (b.status === 'succeeded') return (b.result && b.result.object === 'video') || b;
    if (['failed_final', 'cancelled'].includes(b.status)) return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'timeout';
});
await check('GET /v1/ai/cancel/:taskId on a finished task answers cancelled=false', async () => {
  const b = await (await api(`/v1/ai/cancel/${videoId}`)).json();
  return (b.cancelled === false && b.status === 'succeeded') || b;
});
await check('another user cannot read the task (404)', async () => {
  const r = await fetch(`${URL_}/v1/ai/result/${videoId}`, { headers: { authorization: `Bearer ${USER_KEY}` } });
  return r.status === 404 || r.status;
});
await check('SSE task events: full replay, then only events after Last-Event-ID', async () => {
  const all = await (await api(`/api/v1/tasks/${chatTaskId}/events`)).text();
  const ids = [...all.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  const first = ids[0];
  const rest = await (await api(`/api/v1/tasks/${chatTaskId}/events`, { headers: { 'last-event-id': String(first) } })).text();
  const restIds = [...rest.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  return (ids.length >= 2 && all.includes('event: end') && restIds.length === ids.length - 1
    && restIds.every((i) => i > first)) || { all: all.slice(0, 400), rest: rest.slice(0, 200) };
});
await check('GET /api/v1/tasks/:taskId shows the task with its attempts', async () => {
  const b = await (await api(`/api/v1/tasks/${chatTaskId}`)).json();
  return (b.id === chatTaskId && b.status === 'succeeded' && Array.isArray(b.attempts) && b.attempts.length >= 1) || b;
});
await check('console runtime routes: clients, queues, task replay, callback replay', async () => {
  const c = await api('/api/v1/runtime/clients');
  const q = await (await api('/api/v1/runtime/queues')).json();
  const r = await (await api(`/api/v1/runtime/tasks/${chatTaskId}/replay`, { method: 'POST' })).json();
  const cb = await (await api(`/api/v1/runtime/tasks/${chatTaskId}/callbacks/replay`, { method: 'POST' })).json();
  const w = await (await api('/api/v1/runtime/rate-limit-windows')).json();
  if (!Array.isArray(w.windows) || !Array.isArray(w.concurrencyLeases)) return w;
  const denied = await fetch(`${URL_}/api/v1/runtime/queues`, { headers: { authorization: `Bearer ${USER_KEY}` } });
  return (c.status === 200 && Array.isArray(q.data) && r.events.length >= 2 && r.events[0].seq === 1
    && typeof cb.requeued === 'number' && denied.status === 403) || { q, r, cb };
});
await check('/readyz is ready and /metrics has request counters, latency histograms and queue depth', async () => {
  const rz = await fetch(`${URL_}/readyz`);
  const m = await (await fetch(`${URL_}/metrics`)).text();
  return (rz.status === 200 && m.includes('aigw_http_requests_total{route="/v1/chat/completions",method="POST",status="200"}')
    && m.includes('aigw_http_request_duration_seconds_bucket') && m.includes('aigw_queue_depth')
    && m.includes('aigw_http_in_flight')) || m.slice(0, 500);
});

await check('the console is served at / (files, index.html for client routes) with x-request-id; API paths stay JSON', async () => {
  const a = await fetch(`${URL_}/assets/app.js`);
  const i = await fetch(`${URL_}/settings/platforms`);
  const api404 = await fetch(`${URL_}/v1/nothing-here`);
  const body = await i.text();
  return (a.status === 200 && (await a.text()).includes('console.log') && !!a.headers.get('x-request-id')
    && i.status === 200 && body.includes('aigw console') && api404.status === 404
    && (await api404.json()).error.type === 'not_found_error') || { a: a.status, i: i.status, api: api404.status };
});

// Malformed and hostile requests: clear 4xx answers, never a crash.
const port = new URL(URL_).port;
const smuggle = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`);
ok(statusOf(smuggle) === 400 && /x-request-id:/i.test(smuggle), 'Content-Length with Transfer-Encoding is rejected (400)', smuggle.slice(0, 200));
const dupcl = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}`);
ok(statusOf(dupcl) === 400, 'a repeated Content-Length is rejected (400)', dupcl.slice(0, 200));
const negcl = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`);
ok(statusOf(negcl) === 400, 'a negative Content-Length is rejected (400)', negcl.slice(0, 200));
const junk = await raw('\x00\x01GARBAGE \xff\xfe\r\n\r\n');
ok(statusOf(junk) === 400 || junk === '', 'a garbage request line gets 400 or a closed connection', junk.slice(0, 200));
const bigHeader = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40000)}\r\n\r\n`);
ok([400, 413, 431].includes(statusOf(bigHeader)) || bigHeader === '', 'oversized headers are refused', bigHeader.slice(0, 200));
const bigBody = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{`);
ok(statusOf(bigBody) === 413, 'a body over the limit is refused with 413', bigBody.slice(0, 200));
const badJson = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"model":`);
ok(statusOf(badJson) === 400 && badJson.includes('invalid_request_error'), 'invalid JSON gets an OpenAI-shaped 400', badJson.slice(0, 300));
const binBody = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Length: 4\r\nConnection: close\r\n\r\n\xff\x00\xfe\x01`);
ok(statusOf(binBody) === 400, 'a binary body where JSON is expected gets 400', binBody.slice(0, 300));
const t0 = Date.now();
const slow = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: `, { waitMs: 8000 });
ok(Date.now() - t0 < 7000, 'a client that stops mid-headers is timed out', `${Date.now() - t0} ms: ${slow.slice(0, 100)}`);
const badPath = await raw(`GET /v1/%00%ff/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
ok([400, 401, 404].includes(statusOf(badPath)), 'an encoded NUL and dot-dot in the path are harmless', badPath.slice(0, 200));
const badUtf8 = await raw(`GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xc3\x28\xff\r\nConnection: close\r\n\r\n`);
ok(statusOf(badUtf8) === 401, 'invalid UTF-8 in a header is a 401, not a crash', badUtf8.slice(0, 200));
const chunked = await raw(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
  (() => { const b = JSON.stringify({ model: 'sim-chat', messages: [{ role: 'user', content: 'chunked body' }] }); return `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`; })());
ok(statusOf(chunked) === 200 && chunked.includes('chunked body'), 'a chunked request body is accepted', chunked.slice(0, 300));
await check('after the malformed requests the front still answers', async () => (await fetch(`${URL_}/healthz`)).status === 200);

console.log(`# port ${port}, ${failed} failed`);
process.exit(failed ? 1 : 0);
