// End-to-end tests of aigw-http's identity features and the routes of issue 9:
// sk- keys verified by server-main (test/mock/server-main-mock.mjs) with the
// front's cache, platform presets, platform API debug execution through the
// mock provider, and the tenant/user console routes with server-main sync.
// Prints TAP lines numbered from TAP_START + 1.
import OpenAI from 'openai';

const URL_ = process.env.AIGW_URL;
const KEY = process.env.AIGW_API_KEY;
const SM_URL = process.env.SERVER_MAIN_URL;
const MOCK_URL = process.env.MOCK_PROVIDER_URL;
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
const call = (path, key, init = {}) => fetch(URL_ + path, {
  ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers || {}) },
});
const smCalls = async () => (await (await fetch(`${SM_URL}/calls`)).json());
const rnd = () => Math.random().toString(16).slice(2).padEnd(12, '0');

const userKey = `sk-smuser${rnd()}${rnd()}`;
const opKey = `sk-smop${rnd()}${rnd()}`;
const badKey = `sk-smnobody${rnd()}${rnd()}`;
const boomKey = `sk-smboom${rnd()}${rnd()}`;

await check('a key server-main accepts gives its claims (source server-main, api_key) and is verified once', async () => {
  const a = await call('/api/v1/me', userKey);
  const me = await a.json();
  const b = await call('/api/v1/me', userKey);
  const c = await smCalls();
  return (a.status === 200 && b.status === 200 && me.source === 'server-main' && me.authType === 'api_key'
    && me.userId === 'sm-user-1' && me.tenantId === 'org-sm' && me.apiKeyId === 'smk-1' && me.permission === 'basic'
    && c.calls[userKey] === 1) || { status: a.status, me, calls: c.calls[userKey] };
});
await check('server-main is called with its service token, the actor header and {"apiKey"}', async () => {
  const c = await smCalls();
  return (c.auth === 'Bearer e2e-sm-token' && c.actor === 'aigw-gateway') || c;
});
await check('the official openai client runs a chat with a server-main key (x-comfy-api-key works too)', async () => {
  const client = new OpenAI({ baseURL: `${URL_}/v1`, apiKey: userKey, maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'sim-chat', messages: [{ role: 'user', content: 'verified by server-main' }] });
  const comfy = await fetch(`${URL_}/api/v1/me`, { headers: { 'x-comfy-api-key': opKey } });
  const me = await comfy.json();
  return (r.choices[0].message.content.includes('verified by server-main') && comfy.status === 200
    && me.userId === 'sm-op-1' && me.permission === 'power') || { r, me };
});
await check('a key server-main rejects is a 401 invalid_api_key, and the rejection is cached briefly', async () => {
  const client = new OpenAI({ baseURL: `${URL_}/v1`, apiKey: badKey, maxRetries: 0 });
  let first = null;
  try { await client.models.list(); } catch (e) { first = e; }
  const again = await call('/api/v1/me', badKey);
  const c = await smCalls();
  return (first instanceof OpenAI.AuthenticationError && first.status === 401 && again.status === 401
    && (await again.json()).error.code === 'invalid_api_key' && c.calls[badKey] === 1)
    || { first: first && first.status, again: again.status, calls: c.calls[badKey] };
});
await check('server-main failing is a 503 verification_unavailable, not cached', async () => {
  const a = await call('/api/v1/me', boomKey);
  const body = await a.json();
  const b = await call('/api/v1/me', boomKey);
  const c = await smCalls();
  return (a.status === 503 && body.error.code === 'verification_unavailable' && b.status === 503
    && a.headers.get('retry-after') === '1' && c.calls[boomKey] === 2) || { status: a.status, body, calls: c.calls[boomKey] };
});
await check('a client cannot send the verification headers itself', async () => {
  const forged = `sk-forged${rnd()}${rnd()}`;
  const r = await call('/api/v1/me', forged, { headers: {
    'x-aigw-verified-key-hash': 'whatever', 'x-aigw-verified-claims': '{"sub":"evil","role":"admin"}' } });
  return r.status === 401 || r.status;
});
await check('local keys never reach server-main', async () => {
  const r = await call('/api/v1/me', KEY);
  const c = await smCalls();
  return (r.status === 200 && (await r.json()).source === 'gateway' && !(KEY in c.calls)) || c;
});

// Presets and platform API execution.
let presetId = null;
await check('POST /integration-platform/preset builds a platform from the catalog (known models, inherited prices)', async () => {
  const r = await call('/integration-platform/preset', KEY, { method: 'POST', body: JSON.stringify({
    provider: 'openai', platformKey: 'e2e-openai-preset', baseUrl: MOCK_URL, credentials: { apiKey: 'sk-mock' },
    models: ['openai/gpt-4o-mini', 'text-embedding-3-small'] }) });
  const b = await r.json();
  presetId = b.data && b.data.id;
  const again = await call('/integration-platform/preset', KEY, { method: 'POST',
    body: JSON.stringify({ provider: 'openai', platformKey: 'e2e-openai-preset' }) });
  const none = await call('/integration-platform/preset', KEY, { method: 'POST', body: JSON.stringify({ provider: 'acme' }) });
  return (r.status === 201 && b.data.auth_type === 'bearer' && b.data.status === 'enabled' && b.data.hasCredentials === true
    && b.data.models.map((m) => m.modelName).sort().join() === 'gpt-4o-mini,text-embedding-3-small'
    && again.status === 409 && none.status === 404) || { status: r.status, b, again: again.status, none: none.status };
});
await check('POST /integration/platform-api/execute runs the config through a worker to the provider', async () => {
  const created = await call('/integration/platform-api', KEY, { method: 'POST', body: JSON.stringify({
    platformId: presetId, apiKey: 'chat', name: 'chat completions', path: '/v1/chat/completions',
    bodyTemplate: { model: 'gpt-4o-mini', temperature: 0 } }) });
  const cfg = (await created.json()).data;
  const r = await call('/integration/platform-api/execute', KEY, { method: 'POST', body: JSON.stringify({
    id: cfg.id, params: { messages: [{ role: 'user', content: 'debug the platform' }] } }) });
  const b = await r.json();
  return (created.status === 201 && r.status === 200 && b.object === 'chat.completion'
    && b.choices[0].message.content === 'Hello from the mock provider.'
    && r.headers.get('x-aigw-platform') === 'e2e-openai-preset' && r.headers.get('x-aigw-simulated') === null
    && /^[0-9a-f-]{36}$/.test(r.headers.get('x-aigw-task-id'))) || { created: created.status, status: r.status, b };
});
await check('execute answers 422 for a config path no task worker runs and for a body without a config', async () => {
  const created = await call('/integration/platform-api', KEY, { method: 'POST', body: JSON.stringify({
    platformId: presetId, apiKey: 'workflow', name: 'a workflow', path: '/workflows/run' }) });
  const cfg = (await created.json()).data;
  const r = await call('/integration/platform-api/execute', KEY, { method: 'POST', body: JSON.stringify({ id: cfg.id }) });
  const missing = await call('/integration/platform-api/execute', KEY, { method: 'POST', body: JSON.stringify({}) });
  return (r.status === 422 && missing.status === 422) || { status: r.status, missing: missing.status };
});

// Console directory routes with server-main sync (service token).
const internal = { authorization: 'Bearer e2e-internal-token', 'x-easyai-actor': 'easyai-server-main', 'content-type': 'application/json' };
await check('server-main pushes tenants and users; an operator of one tenant sees only its own', async () => {
  const t = await fetch(`${URL_}/internal/platform/tenants/sync`, { method: 'POST', headers: internal,
    body: JSON.stringify({ tenants: [{ id: 'org-sm', name: 'SM Org' }, { id: 'org-other', name: 'Other Org' }] }) });
  const u = await fetch(`${URL_}/api/v1/users/sync`, { method: 'POST', headers: internal,
    body: JSON.stringify({ users: [{ id: 'sm-op-1', username: 'sm-oscar', tenantId: 'org-sm', role: 'operator' },
                                   { id: 'sm-x', username: 'sm-xavier', tenantId: 'org-other' }] }) });
  const list = await (await call('/api/v1/tenants', opKey)).json();
  const users = await (await call('/api/v1/users', opKey)).json();
  const all = await (await call('/api/v1/tenants', KEY)).json();
  return (t.status === 200 && u.status === 200 && list.total === 1 && list.data[0].externalTenantId === 'org-sm'
    && users.data.every((x) => x.tenantId === 'org-sm') && users.data.some((x) => x.username === 'sm-oscar')
    && all.total >= 2) || { t: t.status, u: u.status, list, users };
});
await check('wallet and recharge routes answer the caller\'s own records', async () => {
  const acc = await call('/api/v1/wallet/accounts', KEY);
  const order = await call('/api/v1/recharge/orders', KEY, { method: 'POST', body: JSON.stringify({ amount: 10 }) });
  const orders = await (await call('/api/v1/recharge/orders', KEY)).json();
  const sm = await call('/api/v1/wallet/accounts', userKey);
  return (acc.status === 200 && (await acc.json()).data.length >= 1 && order.status === 201 && orders.data.length >= 1
    && sm.status === 403) || { acc: acc.status, order: order.status, sm: sm.status };
});

console.log(`# identity: ${failed} failed`);
process.exit(failed ? 1 : 0);
