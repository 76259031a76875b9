// A real, OpenID Certified identity provider (npm `oidc-provider`) for the Lakepass e2e tests.
//
// Usage: node oidc-provider.mjs <port|0> <lakepass redirect port> [id/access token ttl secs]
//
// Listens on 127.0.0.1 only. With port 0 it takes an ephemeral port; either way it prints one
// JSON line `{"issuer": "http://127.0.0.1:<port>"}` on stdout once it accepts connections.
// It knows one public native client, `lakepass-dev`, whose only redirect URI is
// `http://127.0.0.1:<redirect port>/callback` (Lakepass's `redirect_port`), requires PKCE,
// signs with a freshly generated RS256 key (never the library's development keys), and accepts
// any login on its built-in (devInteractions) login and consent pages. Storage is in memory.
// It exits when its stdin closes, so a test that dies cannot leave it running.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const [portArg, redirectPortArg, ttlArg = '3600'] = process.argv.slice(2);
const port = Number(portArg);
const redirectPort = Number(redirectPortArg);
const tokenTtl = Number(ttlArg);
if (![port, redirectPort, tokenTtl].every(Number.isInteger) || redirectPort <= 0 || tokenTtl <= 0) {
  console.error('usage: node oidc-provider.mjs <port|0> <lakepass redirect port> [token ttl secs]');
  process.exit(2);
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

// Any login is accepted: the account id is what was typed in the login form.
async function findAccount(_ctx, id) {
  return {
    accountId: id,
    async claims() {
      return { sub: id, email: `${id}@example.com`, email_verified: true };
    },
  };
}

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'lakepass-dev',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [`http://127.0.0.1:${redirectPort}/callback`],
      },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    findAccount,
    scopes: ['openid', 'email', 'offline_access'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Put email in the id_token itself (Lakepass shows it; federation may map it).
    conformIdTokenClaims: false,
    issueRefreshToken: async () => true,
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    ttl: { IdToken: tokenTtl, AccessToken: tokenTtl, RefreshToken: 86400 },
  });
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));
  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer }));
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
