// A loopback OpenID provider configured like a Finnish Trust Network identification broker, for
// regflow's OIDC adapter tests: panva's oidc-provider with signed request objects required,
// private_key_jwt client authentication, PKCE (S256) required and ID tokens signed RS256 then
// encrypted RSA-OAEP / A128CBC-HS256 for the client.
//
//   node server.mjs CONFIG.json      (or REGFLOW_OIDC_PROVIDER_CONFIG=CONFIG.json node server.mjs)
//
// CONFIG.json (written by the pytest fixture) holds the host and port (0: any free port), the
// provider's private signing JWK set, the client's registration (client_id, redirect_uris,
// public JWK set), the accounts (id -> claims), the standalone claim names and the acr values.
// Once listening the server prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, on
// stdout; it exits when stdin closes, so it never outlives the test run.
//
// No browser is needed: the interaction endpoint takes the user's choice as query parameters,
//   GET /interaction/UID?account=ID[&acr=VALUE]   the user identifies as account ID
//   GET /interaction/UID?cancel=1                 the user cancels at the bank (access_denied)
//   GET /interaction/UID                          a login page whose forms send those queries
//                                                 (the browser tests drive it)
// and a few test hooks, which only this test server has, script the broker's misbehaviour:
//   POST /__test__/next-token   JSON plan for the next token endpoint answer only:
//        {"delay_ms": n}          answer n ms late (a slow broker)
//        {"reset": true}          drop the connection without answering
//        {"status": n}            answer HTTP n with {"error": "server_error"}
//        {"set": {...}, "shift": {"exp": -900}, "drop": ["hetu"]}   edit the ID token's claims
//        {"sign_with": "foreign"|"rotated", "kid": "..."}           sign it with another key
//        {"unencrypted": true}    answer the signed ID token without encrypting it
//        {"header": {...}}        add these parameters to the ID token's JWS header (crit, ...)
//        {"pad_bytes": n, "chunked": true}   add n bytes of padding to the JSON answer, sent
//                                 with a Content-Length or, with chunked, without one
//   POST /__test__/answer-reused-codes   {"enabled": true}: a code redeemed again gets the
//        answer it got the first time (a broker that fails to keep codes single-use)
//   POST /__test__/publish-rotated   add the "rotated" key to the provider's JWK set
//   POST /__test__/reset             forget any plan and hook, unpublish the rotated key
// Editing a token needs the client's private decryption key, which the config carries for this
// purpose only (a real broker never has it).

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import process from 'node:process';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { CompactEncrypt, CompactSign, compactDecrypt, importJWK } from 'jose';
import Provider from 'oidc-provider';

const configPath = process.argv[2] ?? process.env.REGFLOW_OIDC_PROVIDER_CONFIG;
if (!configPath) {
  process.stderr.write('usage: node server.mjs CONFIG.json\n');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));

const SIG_ALG = 'RS256';
const ENC_ALG = 'RSA-OAEP';
const ENC_ENC = 'A128CBC-HS256';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const signingJwk = config.signing_jwks.keys[0];
const otherJwks = { foreign: config.foreign_jwk, rotated: config.rotated_jwk };
const clientEncJwk = config.client.jwks.keys.find((key) => key.use === 'enc');

let nextTokenPlan = null;
let rotatedPublished = false;
let answerReusedCodes = false;
const answeredCodes = new Map(); // code -> the token answer it got, for answerReusedCodes

function publicJwk({ kty, n, e, kid }) {
  return { kty, n, e, kid, use: 'sig', alg: SIG_ALG };
}

function decodeSegment(segment) {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

// Re-issue an ID token the provider made, edited as the plan says.
async function tamper(idToken, plan) {
  const decryptionKey = await importJWK(config.client_decryption_jwk, ENC_ALG);
  const { plaintext } = await compactDecrypt(idToken, decryptionKey);
  const claims = decodeSegment(decoder.decode(plaintext).split('.')[1]);
  const now = Math.floor(Date.now() / 1000);
  for (const [name, seconds] of Object.entries(plan.shift ?? {})) {
    claims[name] = (claims[name] ?? now) + seconds;
  }
  Object.assign(claims, plan.set ?? {});
  for (const name of plan.drop ?? []) delete claims[name];

  const signerJwk = plan.sign_with ? otherJwks[plan.sign_with] : signingJwk;
  const extra = plan.header ?? {};
  // jose signs a crit header only for the extensions it is told the caller understands
  const crit = Object.fromEntries((extra.crit ?? []).map((name) => [name, true]));
  const signed = await new CompactSign(encoder.encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: SIG_ALG, typ: 'JWT', kid: plan.kid ?? signerJwk.kid, ...extra })
    .sign(await importJWK(signerJwk, SIG_ALG), { crit });
  if (plan.unencrypted) return signed;
  return new CompactEncrypt(encoder.encode(signed))
    .setProtectedHeader({ alg: ENC_ALG, enc: ENC_ENC, cty: 'JWT', kid: clientEncJwk.kid })
    .encrypt(await importJWK(clientEncJwk, ENC_ALG));
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// A plain, accessible page listing the accounts; it posts nothing the query interface lacks.
function loginPage(uid) {
  const choices = Object.entries(config.accounts).map(([id, claims], index) => {
    const label = escapeHtml(claims.name ?? id);
    const checked = index === 0 ? ' checked' : '';
    return `<div><input type="radio" id="account-${escapeHtml(id)}" name="account" `
      + `value="${escapeHtml(id)}"${checked}> <label for="account-${escapeHtml(id)}">${label}</label></div>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test broker: identify</title></head>
<body><main><h1>Test broker: identify</h1>
<form method="get" action="/interaction/${escapeHtml(uid)}">
<fieldset><legend>Identify as</legend>${choices.join('')}</fieldset>
<button type="submit" data-testid="broker-identify">Identify</button>
</form>
<form method="get" action="/interaction/${escapeHtml(uid)}">
<input type="hidden" name="cancel" value="1">
<button type="submit" data-testid="broker-cancel">Cancel</button>
</form></main></body></html>`;
}

const server = createServer();
await new Promise((resolve) => {
  server.listen(config.port ?? 0, config.host ?? '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://${config.host ?? '127.0.0.1'}:${port}`;

const standaloneClaims = Object.fromEntries((config.claims ?? []).map((name) => [name, null]));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: config.client.client_id,
      redirect_uris: config.client.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: SIG_ALG,
      request_object_signing_alg: SIG_ALG,
      require_signed_request_object: true,
      id_token_signed_response_alg: SIG_ALG,
      id_token_encrypted_response_alg: ENC_ALG,
      id_token_encrypted_response_enc: ENC_ENC,
      jwks: config.client.jwks,
    },
  ],
  jwks: config.signing_jwks,
  acrValues: config.acr_values,
  claims: {
    acr: null,
    auth_time: null,
    sid: null,
    iss: null,
    // FTN brokers always state the level of assurance: acr is part of every ID token.
    openid: ['sub', 'acr', 'auth_time'],
    profile: ['given_name', 'family_name', 'name', 'urn:oid:2.5.4.42', 'urn:oid:2.5.4.4'],
    ...standaloneClaims,
  },
  // FTN brokers put the person in the ID token, not only behind the userinfo endpoint.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    requestObjects: { enabled: true, requireSignedRequestObject: true },
    encryption: { enabled: true },
    claimsParameter: { enabled: true },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
  },
  enabledJWA: {
    clientAuthSigningAlgValues: [SIG_ALG],
    requestObjectSigningAlgValues: [SIG_ALG],
    idTokenSigningAlgValues: [SIG_ALG],
    idTokenEncryptionAlgValues: [ENC_ALG],
    idTokenEncryptionEncValues: [ENC_ENC],
  },
  pkce: { required: () => true },
  cookies: { keys: ['regflow-test-provider-only'] },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, accountId) {
    const account = config.accounts[accountId];
    if (!account) return undefined;
    return { accountId, claims: async () => ({ sub: accountId, ...account }) };
  },
  // A broker asks no consent of its own: grant the client what it asked for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
    grant.addOIDCClaims(Object.keys(ctx.oidc.claims?.id_token ?? {}));
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path.startsWith('/__test__/') && ctx.method === 'POST') {
    if (ctx.path === '/__test__/next-token') {
      nextTokenPlan = await readJson(ctx.req);
    } else if (ctx.path === '/__test__/publish-rotated') {
      rotatedPublished = true;
    } else if (ctx.path === '/__test__/answer-reused-codes') {
      answerReusedCodes = Boolean((await readJson(ctx.req)).enabled);
    } else if (ctx.path === '/__test__/reset') {
      nextTokenPlan = null;
      rotatedPublished = false;
      answerReusedCodes = false;
      answeredCodes.clear();
    } else {
      ctx.status = 404;
      return;
    }
    ctx.status = 204;
    return;
  }

  const interaction = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (interaction && ctx.method === 'GET') {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { account, acr, cancel } = ctx.query;
    let result;
    if (cancel) {
      result = { error: 'access_denied', error_description: 'the user cancelled at the bank' };
    } else if (account && config.accounts[account]) {
      const requested = details.params.acr_values?.split(' ')[0];
      result = { login: { accountId: account, acr: acr ?? requested ?? config.acr_values[0] } };
    } else if (account === undefined) {
      // The broker's login page, for the browser tests: a form that sends the same query.
      ctx.type = 'html';
      ctx.set('Cache-Control', 'no-store');
      ctx.body = loginPage(interaction[1]);
      return;
    } else {
      ctx.status = 400;
      ctx.body = { error: 'pass ?account=ID (a configured account) or ?cancel=1' };
      return;
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return;
  }

  if (ctx.path === '/token' && ctx.method === 'POST') {
    const planned = nextTokenPlan !== null;
    const plan = nextTokenPlan ?? {};
    nextTokenPlan = null;
    if (plan.delay_ms) await sleep(plan.delay_ms);
    if (plan.reset) {
      ctx.req.socket.destroy();
      ctx.respond = false;
      return;
    }
    if (plan.status) {
      ctx.status = plan.status;
      ctx.body = { error: 'server_error' };
      return;
    }
    await next();
    const code = ctx.oidc?.params?.code;
    if (ctx.status === 200 && ctx.body?.id_token && planned) {
      ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, plan) };
    }
    if (ctx.status === 200 && code) {
      answeredCodes.set(code, ctx.body);
    } else if (answerReusedCodes && code && answeredCodes.has(code)) {
      ctx.status = 200;
      ctx.body = answeredCodes.get(code);
    }
    if (plan.pad_bytes) {
      const text = JSON.stringify({ ...ctx.body, padding: 'x'.repeat(plan.pad_bytes) });
      if (plan.chunked) {
        const chunks = [];
        for (let at = 0; at < text.length; at += 65536) chunks.push(text.slice(at, at + 65536));
        ctx.body = Readable.from(chunks); // a stream: no Content-Length
      } else {
        ctx.body = text;
      }
      ctx.type = 'json';
    }
    return;
  }

  await next();
  if (ctx.path === '/jwks' && rotatedPublished && ctx.status === 200) {
    ctx.body = { keys: [...ctx.body.keys, publicJwk(otherJwks.rotated)] };
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
