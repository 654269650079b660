// A mock of server-main's internal API key verification endpoint
// (seed 003 section 5.3) for aigw's tests:
//   POST /internal/platform/auth/verify-api-key  {"apiKey": "sk-..."}
//   with "Authorization: Bearer TOKEN" (403 with another token).
// The key's prefix selects the answer:
//   sk-smuser...   200 {"code":200,"data":{claims of a basic user}}
//   sk-smop...     200 with bare claims of an operator
//   sk-smboom...   HTTP 500
//   anything else  401
// GET /calls answers {"calls": {key: n}, "auth": last Authorization, "actor": last X-EasyAI-Actor}.
// Usage: node server-main-mock.mjs PORT TOKEN  (prints "listening PORT" when ready)
import http from 'node:http';

const port = Number(process.argv[2] || 0);
const token = process.argv[3] || 'server-main-token';
const calls = {};
let lastAuth = null;
let lastActor = null;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (d) => { raw += d; });
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/calls') return send(res, 200, { calls, auth: lastAuth, actor: lastActor });
    if (req.method !== 'POST' || req.url !== '/internal/platform/auth/verify-api-key')
      return send(res, 404, { code: 404, message: 'not found' });
    lastAuth = req.headers.authorization || null;
    lastActor = req.headers['x-easyai-actor'] || null;
    let key = '';
    try { key = JSON.parse(raw).apiKey || ''; } catch { return send(res, 400, { code: 400, message: 'bad json' }); }
    calls[key] = (calls[key] || 0) + 1;
    if (lastAuth !== `Bearer ${token}`) return send(res, 403, { code: 403, message: 'bad service token' });
    if (key.startsWith('sk-smuser'))
      return send(res, 200, { code: 200, message: 'success', data: {
        sub: 'sm-user-1', username: 'sm-alice', role: 'user', tenantId: 'org-sm', tenantKey: 'org-sm',
        apiKeyId: 'smk-1', apiKeyName: 'server-main key', source: 'server-main' } });
    if (key.startsWith('sk-smop'))
      return send(res, 200, { sub: 'sm-op-1', username: 'sm-oscar', role: 'operator', tenantId: 'org-sm', apiKeyId: 'smk-2' });
    if (key.startsWith('sk-smboom')) return send(res, 500, { code: 500, message: 'server-main is broken' });
    return send(res, 401, { code: 401, message: 'invalid api key' });
  });
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
