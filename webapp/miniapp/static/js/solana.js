// The little of Solana's wire format the page needs: base58/base64, the compact-u16 ("shortvec")
// length prefix, reading a transaction's signature slots and signer keys, and placing a
// signature. Transaction layout: shortvec(n) · n×64-byte signatures · message; a v0 message
// starts with 0x80, then the 3-byte header, shortvec(k) · k×32-byte static keys, blockhash, ….

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
const INDEX = new Map([...ALPHABET].map((c, i) => [c, i]));

export function base58Encode(bytes) {
  const digits = [];
  for (const byte of bytes) {
    let carry = byte;
    for (let i = 0; i < digits.length; i++) {
      carry += digits[i] << 8;
      digits[i] = carry % 58;
      carry = Math.floor(carry / 58);
    }
    while (carry) {
      digits.push(carry % 58);
      carry = Math.floor(carry / 58);
    }
  }
  let out = '';
  for (const byte of bytes) {
    if (byte !== 0) break;
    out += '1'; // each leading zero byte is a leading '1'
  }
  for (let i = digits.length - 1; i >= 0; i--) out += ALPHABET[digits[i]];
  return out;
}

export function base58Decode(text) {
  const bytes = [];
  for (const ch of text) {
    let carry = INDEX.get(ch);
    if (carry === undefined) throw new Error(`not base58: ${JSON.stringify(ch)}`);
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === '1') zeros++;
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[out.length - 1 - i] = bytes[i];
  return out;
}

export function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Decode a compact-u16 at offset: [value, bytes used]. At most 3 bytes, value <= 0xffff. */
export function decodeShortVec(bytes, offset = 0) {
  let value = 0;
  for (let i = 0; i < 3; i++) {
    if (offset + i >= bytes.length) throw new Error('shortvec: truncated');
    const b = bytes[offset + i];
    value |= (b & 0x7f) << (7 * i);
    if ((b & 0x80) === 0) {
      // The runtime rejects non-minimal encodings (a trailing zero byte) and values over u16.
      if (i > 0 && b === 0) throw new Error('shortvec: not minimal');
      if (value > 0xffff) throw new Error('shortvec: overflow');
      return [value, i + 1];
    }
  }
  throw new Error('shortvec: too long');
}

export function encodeShortVec(value) {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new Error('shortvec: out of range');
  const out = [];
  let v = value;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if (v === 0) {
      out.push(b);
      return Uint8Array.from(out);
    }
    out.push(b | 0x80);
  }
}

/**
 * Read a serialized transaction: its signature slots, the message bytes (what is signed), the
 * message version ('legacy' or 0), header and static account keys (the first
 * numRequiredSignatures keys are the signers, in signature-slot order).
 */
export function parseTransaction(bytes) {
  const [count, used] = decodeShortVec(bytes, 0);
  const sigStart = used;
  const msgStart = sigStart + 64 * count;
  if (msgStart >= bytes.length) throw new Error('transaction: truncated signatures');
  const message = bytes.subarray(msgStart);
  let p = 0;
  let version = 'legacy';
  if (message[0] & 0x80) {
    version = message[0] & 0x7f;
    if (version !== 0) throw new Error(`transaction: unsupported message version ${version}`);
    p = 1;
  }
  if (p + 3 > message.length) throw new Error('transaction: truncated header');
  const header = {
    numRequiredSignatures: message[p],
    numReadonlySigned: message[p + 1],
    numReadonlyUnsigned: message[p + 2],
  };
  p += 3;
  const [nKeys, kUsed] = decodeShortVec(message, p);
  p += kUsed;
  if (p + 32 * nKeys + 32 > message.length) throw new Error('transaction: truncated keys');
  const accountKeys = [];
  for (let i = 0; i < nKeys; i++) accountKeys.push(message.slice(p + 32 * i, p + 32 * (i + 1)));
  p += 32 * nKeys;
  const recentBlockhash = message.slice(p, p + 32);
  if (header.numRequiredSignatures !== count) {
    throw new Error(`transaction: ${count} signature slots for ${header.numRequiredSignatures} signers`);
  }
  if (count > nKeys) throw new Error('transaction: more signers than keys');
  const signatures = [];
  for (let i = 0; i < count; i++) signatures.push(bytes.slice(sigStart + 64 * i, sigStart + 64 * (i + 1)));
  return { signatures, sigStart, message: bytes.slice(msgStart), version, header, accountKeys, recentBlockhash };
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The signature slot of a signer (32-byte public key), or -1 when it is not a signer. */
export function signerIndex(parsed, publicKey) {
  for (let i = 0; i < parsed.header.numRequiredSignatures; i++) {
    if (equalBytes(parsed.accountKeys[i], publicKey)) return i;
  }
  return -1;
}

/** A copy of the transaction with a 64-byte signature placed in the signer's slot. */
export function withSignature(bytes, publicKey, signature) {
  if (signature.length !== 64) throw new Error('signature must be 64 bytes');
  const parsed = parseTransaction(bytes);
  const slot = signerIndex(parsed, publicKey);
  if (slot < 0) throw new Error('this wallet is not a signer of the transaction');
  const out = Uint8Array.from(bytes);
  out.set(signature, parsed.sigStart + 64 * slot);
  return out;
}

/** True when two serialized transactions carry the same message (signatures aside). */
export function sameMessage(a, b) {
  return equalBytes(parseTransaction(a).message, parseTransaction(b).message);
}

/** The signature of a signer slot as base58 (a Solana transaction id), or '' when unsigned. */
export function signatureOf(bytes, slot = 0) {
  const sig = parseTransaction(bytes).signatures[slot];
  return sig && sig.some((b) => b !== 0) ? base58Encode(sig) : '';
}
