// A real OpenID Connect provider (npm oidc-provider, certified by the OpenID Foundation) for
// modelwrap's end-to-end authentication test. Listens on a free loopback port, issues JWT access
// tokens to one confidential client through the client-credentials grant, and prints one JSON
// line {"issuer": ..., "audience": ..., "client_id": ..., "client_secret": ...} once it is ready.
//
// usage: node tests/oidc/provider.js [AUDIENCE]
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const audience = process.argv[2] || 'urn:modelwrap:api'; // a resource indicator: an absolute URI
const clientId = 'modelwrap-e2e';
const clientSecret = randomBytes(24).toString('base64url');

// A fresh signing key per run: nothing secret lives in the repository.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'e2e-rsa-1', use: 'sig' };

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'predict read',
    }],
    scopes: ['openid', 'predict', 'read'],
    jwks: { keys: [signingKey] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Without a default resource the access token would be opaque, not a JWT.
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'predict read',
          audience,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, audience, client_id: clientId, client_secret: clientSecret })}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
