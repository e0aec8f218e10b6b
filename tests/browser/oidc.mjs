// A stand-in OIDC issuer on 127.0.0.1 for the browser tests: discovery and a JWKS with one RSA
// key, and RS256 bearer tokens signed with it (node:crypto only; the app fetches plain http only
// from loopback).
import { createServer } from "node:http";
import { generateKeyPairSync, sign } from "node:crypto";

const base64url = (data) => Buffer.from(data).toString("base64url");

/** Starts the issuer; `token(claims)` signs a token for `audience` that is valid for an hour. */
export async function startIssuer(audience) {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = "browser-test";
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
  let issuer = "";
  const server = createServer((req, res) => {
    const path = req.url.split("?")[0];
    const documents = {
      "/.well-known/openid-configuration": { issuer, jwks_uri: `${issuer}/keys` },
      "/keys": { keys: [jwk] },
    };
    const body = documents[path];
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { error: "not found" }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  return {
    issuer,
    token(claims) {
      const now = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
      const payload = base64url(JSON.stringify({ iss: issuer, aud: audience, iat: now, nbf: now, exp: now + 3600, ...claims }));
      const signature = sign("sha256", Buffer.from(`${header}.${payload}`), privateKey);
      return `${header}.${payload}.${base64url(signature)}`;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
