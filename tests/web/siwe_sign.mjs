// Signs Sign-In with Ethereum messages for tests/web/test_siwe.py the way a dapp built on the reference libraries
// would: the message is read and written by `siwe` (npm), the signature is ethers' personal_sign (EIP-191).
//
// stdin: JSON, one request or a list of them:
//   {"privateKey": "0x…",            the signing key
//    "message": "…",                 optional: a message to start from (parsed by siwe), e.g. the server's
//    "set": {"chainId": 1, …},       optional: fields to change (siwe's names: domain, uri, nonce, issuedAt, …)
//    "drop": ["statement"],          optional: fields to leave out
//    "replace": [["Version: 1", "Version: 2"]]}   optional: text edits after siwe wrote the message, for what
//                                                  siwe itself refuses to write
// stdout: JSON {"message", "signature", "address"} (or a list, in order).
import { readFileSync } from "node:fs";

import { Wallet } from "ethers";
import siwe from "siwe";

const FIELDS = [
  "scheme", "domain", "address", "statement", "uri", "version", "chainId", "nonce", "issuedAt", "expirationTime",
  "notBefore", "requestId", "resources",
];

async function sign(request) {
  const wallet = new Wallet(request.privateKey);
  const base = request.message ? new siwe.SiweMessage(request.message) : {};
  const fields = {};
  for (const name of FIELDS) {
    if (base[name] !== undefined) fields[name] = base[name];
  }
  Object.assign(fields, request.set || {});
  for (const name of request.drop || []) delete fields[name];
  let message = new siwe.SiweMessage(fields).prepareMessage();
  for (const [from, to] of request.replace || []) {
    if (!message.includes(from)) throw new Error(`nothing to replace: ${JSON.stringify(from)}`);
    message = message.replace(from, to);
  }
  return { message, signature: await wallet.signMessage(message), address: wallet.address };
}

const input = JSON.parse(readFileSync(0, "utf8"));
const output = Array.isArray(input) ? await Promise.all(input.map(sign)) : await sign(input);
process.stdout.write(JSON.stringify(output));
