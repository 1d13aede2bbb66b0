// SPDX-License-Identifier: MIT
// Regenerates the interop vectors with Node's crypto (an implementation independent of ours):
//   node tests/data/jwt/generate.mjs tests/data/jwt
// Writes rs256.pub.pem, es256.pub.pem and tokens.json. The tokens carry iat/nbf/exp around
// 1700000000 (2023-11-14); tst_jwtverifier pins its clock there.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2] ?? '.';
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const claims = {sub: 'interop-user', iss: 'https://idp.example', aud: ['mtw', 'other'],
                roles: ['reader', 'writer'], iat: 1700000000, nbf: 1700000000, exp: 1700003600};

function token(alg, sign) {
  const input = b64url(JSON.stringify({alg, typ: 'JWT'})) + '.' + b64url(JSON.stringify(claims));
  return input + '.' + b64url(sign(Buffer.from(input)));
}

const rsa = crypto.generateKeyPairSync('rsa', {modulusLength: 2048});
const ec = crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'});
fs.writeFileSync(path.join(out, 'rs256.pub.pem'), rsa.publicKey.export({type: 'spki', format: 'pem'}));
fs.writeFileSync(path.join(out, 'es256.pub.pem'), ec.publicKey.export({type: 'spki', format: 'pem'}));
const secret = 'interop-secret-0123456789abcdef-0123456789';
const tokens = {
  secret,
  claims,
  HS256: token('HS256', (d) => crypto.createHmac('sha256', secret).update(d).digest()),
  HS512: token('HS512', (d) => crypto.createHmac('sha512', secret).update(d).digest()),
  RS256: token('RS256', (d) => crypto.sign('sha256', d, rsa.privateKey)),
  ES256: token('ES256', (d) => crypto.sign('sha256', d, {key: ec.privateKey, dsaEncoding: 'ieee-p1363'})),
};
fs.writeFileSync(path.join(out, 'tokens.json'), JSON.stringify(tokens, null, 2) + '\n');
