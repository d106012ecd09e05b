#!/usr/bin/env node
// Test identity provider for the sasl-oauth test suite.
//
//   node tests/idp/server.mjs --port PORT [--state DIR] [--rotate] [--access-ttl S]
//        [--device-ttl S] [--refresh-ttl S] [--cc-username NAME] [--host 127.0.0.1] [--log]
//
// Starts npm `oidc-provider` on http://HOST:PORT (issuer exactly that URL, no
// trailing slash), prints `ready http://HOST:PORT` on stdout once listening and
// exits 0 on SIGTERM/SIGINT. `--port 0` picks a free port (read it from the
// ready line). See README.md in this folder for clients, resources and the
// /admin endpoints (key rotation, outage simulation, request counters).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

// oidc-provider prints its NOTICEs with console.info (stdout); stdout is
// reserved for the single `ready` line.
console.info = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');

// ---------------------------------------------------------------- options
const envInt = (name, dflt) => (process.env[name] !== undefined ? process.env[name] : dflt);
let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: envInt('IDP_PORT', undefined) },
      host: { type: 'string', default: process.env.IDP_HOST || '127.0.0.1' },
      state: { type: 'string', default: process.env.IDP_STATE },
      rotate: { type: 'boolean', default: false },
      'access-ttl': { type: 'string', default: envInt('IDP_ACCESS_TTL', '300') },
      'device-ttl': { type: 'string', default: envInt('IDP_DEVICE_TTL', '600') },
      'refresh-ttl': { type: 'string', default: envInt('IDP_REFRESH_TTL', String(24 * 3600)) },
      'cc-username': { type: 'string', default: process.env.IDP_CC_USERNAME || 'alice' },
      log: { type: 'boolean', default: !!process.env.IDP_LOG },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  }));
} catch (err) {
  console.error(`server.mjs: ${err.message}`);
  process.exit(2);
}
if (args.help || args.port === undefined) {
  console.error('usage: node server.mjs --port PORT [--state DIR] [--rotate] [--access-ttl S] '
    + '[--device-ttl S] [--refresh-ttl S] [--cc-username NAME] [--host ADDR] [--log]');
  process.exit(args.help ? 0 : 2);
}
function seconds(name, value) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`server.mjs: --${name} must be a positive integer (seconds), got ${value}`);
    process.exit(2);
  }
  return n;
}
const ttl = {
  access: seconds('access-ttl', args['access-ttl']),
  device: seconds('device-ttl', args['device-ttl']),
  refresh: seconds('refresh-ttl', args['refresh-ttl']),
};
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`server.mjs: bad --port ${args.port}`);
  process.exit(2);
}
const log = args.log ? (...a) => console.error('[idp]', ...a) : () => {};

// ------------------------------------------------------------------- keys
// Private JWKS, first key of each algorithm signs. Rotation prepends a new
// generation (RS256 + ES256 + EdDSA) and keeps the old public keys published.
function generation() {
  const stamp = `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
  const jwk = (type, opts) => crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' });
  return [
    { ...jwk('rsa', { modulusLength: 2048 }), kid: `rs256-${stamp}`, alg: 'RS256', use: 'sig' },
    { ...jwk('ec', { namedCurve: 'P-256' }), kid: `es256-${stamp}`, alg: 'ES256', use: 'sig' },
    { ...jwk('ed25519'), kid: `eddsa-${stamp}`, alg: 'EdDSA', use: 'sig' },
  ];
}

const publicPart = ({ d, p, q, dp, dq, qi, ...pub }) => pub;

function writeJson(file, value) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

const stateDir = args.state ? path.resolve(args.state) : undefined;
const privateFile = stateDir && path.join(stateDir, 'jwks.private.json');
const publicFile = stateDir && path.join(stateDir, 'jwks.public.json');

let keys;
if (privateFile && fs.existsSync(privateFile)) {
  keys = JSON.parse(fs.readFileSync(privateFile, 'utf8')).keys;
  if (args.rotate) keys = [...generation(), ...keys];
} else {
  keys = generation();
}

function persistKeys() {
  if (!stateDir) return;
  fs.mkdirSync(stateDir, { recursive: true });
  writeJson(privateFile, { keys });
  writeJson(publicFile, { keys: keys.map(publicPart) });
}
persistKeys();

// ---------------------------------------------------------------- clients
const REDIRECT = 'http://127.0.0.1/callback';
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const clients = [
  {
    client_id: 'sasl-oauth-test',
    client_secret: 'test-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials', 'refresh_token', 'authorization_code', DEVICE],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  {
    // same as above, authenticating with client_secret_post
    client_id: 'sasl-oauth-post',
    client_secret: 'post-secret',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials', 'refresh_token', 'authorization_code', DEVICE],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  {
    // public client for the sasl-oauth tool: device flow, code flow + PKCE
    // (native: any port on the loopback redirect is accepted, RFC 8252)
    client_id: 'sasl-oauth-public',
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    grant_types: ['refresh_token', 'authorization_code', DEVICE],
    response_types: ['code'],
    redirect_uris: [REDIRECT],
  },
  {
    // the plugin's introspection credentials (client_secret_basic)
    client_id: 'resource-server',
    client_secret: 'rs-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
  {
    // the same, for testing the plugin's client_secret_post option
    client_id: 'resource-server-post',
    client_secret: 'rs-post-secret',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
];

// Login name carried by client_credentials tokens (claim `username`; `sub`
// stays the client id, as oidc-provider does for this grant).
const ccUsernames = {
  'sasl-oauth-test': args['cc-username'],
  'sasl-oauth-post': 'bob',
};

// -------------------------------------------------------------- resources
// identifier -> resource server info. All JWT variants for IMAP share the
// audience urn:sasl-oauth:imap so one plugin configuration accepts them all.
const RESOURCE_SCOPE = 'mail admin';
const resources = {
  'urn:sasl-oauth:imap': { audience: 'urn:sasl-oauth:imap', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'urn:sasl-oauth:imap:es256': { audience: 'urn:sasl-oauth:imap', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  'urn:sasl-oauth:imap:eddsa': { audience: 'urn:sasl-oauth:imap', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } },
  'urn:sasl-oauth:opaque': { audience: 'urn:sasl-oauth:opaque', accessTokenFormat: 'opaque' },
  'urn:sasl-oauth:other': { audience: 'urn:sasl-oauth:other', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } },
  'urn:sasl-oauth:other:opaque': { audience: 'urn:sasl-oauth:other', accessTokenFormat: 'opaque' },
};

// ----------------------------------------------------------------- storage
// oidc-provider's built-in memory adapter keeps a store per Provider instance
// (so rebuilding the Provider on rotation would forget every token) and caps
// it at ~1000 entries (LRU). This one is shared by all instances, has no size
// cap and drops entries a minute after they expire.
const store = new Map(); // key -> { value, exp (ms epoch, 0 = never) }
const grantMembers = new Map(); // grantId -> Set of keys
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

function storeGet(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.exp && e.exp <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return e.value;
}
// Entries are kept GRACE seconds past their expiry so that the provider, not
// the store, judges expiry: an expired device code then yields `expired_token`
// (RFC 8628) rather than `invalid_grant`.
const GRACE = 60;
function storeSet(key, value, expiresIn) {
  store.set(key, { value, exp: typeof expiresIn === 'number' ? Date.now() + (expiresIn + GRACE) * 1000 : 0 });
}
setInterval(() => {
  const now = Date.now();
  for (const [key, e] of store) if (e.exp && e.exp <= now) store.delete(key);
  for (const [grantId, keys] of grantMembers) {
    for (const key of keys) if (!store.has(key)) keys.delete(key);
    if (!keys.size) grantMembers.delete(grantId);
  }
}, 30_000).unref();

class SharedMemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) storeSet(`userCode:${payload.userCode}`, id, expiresIn);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
    storeSet(key, payload, expiresIn);
  }

  async find(id) { return storeGet(this.key(id)); }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = storeGet(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    for (const key of grantMembers.get(grantId) || []) store.delete(key);
    grantMembers.delete(grantId);
  }
}

// ---------------------------------------------------------------- provider
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
let issuer; // set once listening

function emailOf(name) {
  return name.includes('@') ? name : `${name}@example.test`;
}

function configuration() {
  return {
    adapter: SharedMemoryAdapter,
    clients: structuredClone(clients),
    jwks: { keys: structuredClone(keys) },
    cookies: { keys: cookieKeys },
    // devInteractions accept any login name with any password: the account is
    // the login name.
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub, preferred_username: sub, email: emailOf(sub), email_verified: true,
          };
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['preferred_username'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, resourceIndicator) {
          const info = resources[resourceIndicator];
          if (!info) throw new errors.InvalidTarget();
          return { scope: RESOURCE_SCOPE, accessTokenTTL: ttl.access, ...structuredClone(info) };
        },
      },
    },
    async extraTokenClaims(ctx, token) {
      const username = token.accountId || ccUsernames[token.clientId] || token.clientId;
      // Group membership for claim rules: every account is staff, and all
      // but those named outsider* are mail-users too.
      const groups = username.startsWith('outsider') ? ['staff'] : ['staff', 'mail-users'];
      return { username, email: emailOf(username), groups };
    },
    ttl: {
      AccessToken: () => ttl.access,
      ClientCredentials: () => ttl.access,
      DeviceCode: () => ttl.device,
      RefreshToken: () => ttl.refresh,
      AuthorizationCode: () => 60,
      IdToken: () => 3600,
      Interaction: () => 3600,
      Session: () => 24 * 3600,
      Grant: () => Math.max(ttl.refresh, 24 * 3600),
    },
  };
}

let provider;
let providerCallback;
function buildProvider() {
  const p = new Provider(issuer, configuration());
  p.on('server_error', (ctx, err) => console.error('[idp] server_error', err));
  if (args.log) {
    for (const ev of ['grant.error', 'introspection.error', 'revocation.error', 'authorization.error']) {
      p.on(ev, (ctx, err) => log(ev, err.message, err.error_description || ''));
    }
  }
  provider = p;
  providerCallback = p.callback();
}

function rotate({ dropOld = false } = {}) {
  const fresh = generation();
  keys = dropOld ? fresh : [...fresh, ...keys];
  persistKeys();
  buildProvider();
  log('rotated; signing kids', fresh.map((k) => k.kid).join(' '));
  return fresh.map((k) => k.kid);
}

// ----------------------------------------------------------- admin + server
// Misbehaviour for outage tests: normal | error (503) | garbage (200, not
// JSON) | hang (never answers) | slow (answers after `delay` ms).
let mode = { mode: 'normal', delay: 0, path: '' };
let counters = {};

function sendJson(res, status, body) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function admin(req, res, url) {
  const q = url.searchParams;
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'POST /admin/rotate':
      return sendJson(res, 200, { signing_kids: rotate({ dropOld: q.get('drop_old') === '1' }), kids: keys.map((k) => k.kid) });
    case 'GET /admin/keys':
      return sendJson(res, 200, { kids: keys.map((k) => k.kid) });
    case 'POST /admin/mode': {
      const m = q.get('mode') || 'normal';
      if (!['normal', 'error', 'garbage', 'hang', 'slow'].includes(m)) return sendJson(res, 400, { error: `unknown mode ${m}` });
      mode = { mode: m, delay: Number(q.get('delay') || 0), path: q.get('path') || '' };
      log('mode', JSON.stringify(mode));
      return sendJson(res, 200, mode);
    }
    case 'GET /admin/counters':
      return sendJson(res, 200, counters);
    case 'POST /admin/counters/reset':
      counters = {};
      return sendJson(res, 200, counters);
    case 'POST /admin/ttl':
      for (const k of ['access', 'device', 'refresh']) {
        if (!q.has(k)) continue;
        const n = Number(q.get(k));
        if (!Number.isInteger(n) || n < 1) return sendJson(res, 400, { error: `bad ${k}` });
        ttl[k] = n;
      }
      return sendJson(res, 200, ttl);
    case 'POST /admin/static-token': {
      // An opaque access token with exactly the given value (e.g. the KITTEN
      // slides' vF9d…Cg==), stored as oidc-provider stores its own, so that
      // the provider's introspection endpoint answers active for it.
      const token = q.get('token');
      const username = q.get('username');
      if (!token || !username || token.length > 1024 || /[\s\x00-\x1f]/.test(token)) {
        return sendJson(res, 400, { error: 'token and username are required (token: no spaces, at most 1024 chars)' });
      }
      const lifetime = q.has('ttl') ? Number(q.get('ttl')) : ttl.access;
      if (!Number.isInteger(lifetime) || lifetime < 1) return sendJson(res, 400, { error: 'bad ttl' });
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iat: now,
        exp: now + lifetime,
        jti: token,
        kind: 'AccessToken',
        format: 'opaque',
        clientId: q.get('client_id') || 'sasl-oauth-test',
        accountId: username, // introspection's `sub`
        extra: { username, email: emailOf(username) },
        ...(q.get('scope') ? { scope: q.get('scope') } : {}),
        ...(q.get('aud') ? { aud: q.get('aud') } : {}),
      };
      storeSet(`AccessToken:${token}`, payload, lifetime);
      log('static token for', username);
      return sendJson(res, 200, { username, scope: payload.scope, aud: payload.aud, exp: payload.exp });
    }
    default:
      return sendJson(res, 404, { error: `no admin route ${route}` });
  }
}

const server = http.createServer((req, res) => {
  let url;
  try {
    url = new URL(req.url, issuer);
  } catch {
    return sendJson(res, 400, { error: 'bad url' });
  }
  if (url.pathname.startsWith('/admin/')) return admin(req, res, url);

  const counterKey = url.pathname.replace(/^\/(interaction|auth|device)\/[^/]+/, '/$1/:uid');
  counters[counterKey] = (counters[counterKey] || 0) + 1;
  if (args.log) res.on('finish', () => log(req.method, req.url.replace(/\?.*/, '?…'), res.statusCode));

  const affected = mode.mode !== 'normal' && url.pathname.startsWith(mode.path);
  if (affected) {
    switch (mode.mode) {
      case 'error':
        return sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'simulated outage' });
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('<html>this is not JSON {"keys": [\n');
      case 'hang':
        return undefined; // never answered; destroyed at shutdown
      case 'slow':
        return setTimeout(() => providerCallback(req, res), mode.delay);
      default:
    }
  }
  return providerCallback(req, res);
});

server.on('error', (err) => {
  console.error(`server.mjs: ${err.message}`);
  process.exit(1);
});

server.listen(port, args.host, () => {
  const addr = server.address();
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  issuer = `http://${host}:${addr.port}`;
  buildProvider();
  process.stdout.write(`ready ${issuer}\n`);
});

function shutdown(signal) {
  log('shutting down on', signal);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGUSR2', () => rotate());
