// Signing: Phantom's injected provider when the page runs where Phantom injects one (its
// in-app browser, the desktop extension), else Phantom's deeplink protocol through the bridge
// page /app/phantom (connect, signTransaction; the server holds the x25519 / NaCl box side).

import { api, appUrl, config, initData, t } from './core.js';
import {
  base58Decode, base58Encode, base64ToBytes, parseTransaction, signatureOf, signerIndex, withSignature,
} from './solana.js';

/** API paths of the wallet flows, in one place. */
export const PATHS = {
  challenge: '/me/wallet/challenge',
  link: '/me/wallet',
  phantomConnect: '/trade/phantom/connect',
  phantomConnected: '/trade/phantom/connected',
  phantomSign: '/trade/phantom/sign',
  phantomSigned: '/trade/phantom/signed',
};

/** The injected Phantom provider (window.phantom.solana, or the legacy window.solana), or null. */
export function injectedProvider() {
  for (const p of [window.phantom?.solana, window.solana]) {
    if (p && typeof p.signTransaction === 'function') return p;
  }
  return null;
}

function keyString(key) {
  if (!key) return null;
  if (typeof key === 'string') return key;
  if (key instanceof Uint8Array) return base58Encode(key);
  if (typeof key.toBase58 === 'function') return key.toBase58();
  return String(key);
}

/** Connect the injected wallet; returns its address. onlyIfTrusted connects silently or fails. */
export async function connectInjected(provider, { onlyIfTrusted = false } = {}) {
  const res = await provider.connect(onlyIfTrusted ? { onlyIfTrusted: true } : undefined);
  const address = keyString(res?.publicKey ?? provider.publicKey);
  if (!address) throw new Error(t('err_wallet_no_key'));
  return address;
}

/**
 * The minimal stand-in for a @solana/web3.js VersionedTransaction that Phantom's
 * signTransaction reads (version, message.serialize(), signatures, serialize()): the page does
 * not ship web3.js just to wrap bytes the server already built.
 */
export class WireTransaction {
  constructor(bytes) {
    this.bytes = Uint8Array.from(bytes);
    const parsed = parseTransaction(this.bytes);
    this.version = parsed.version;
    this.signatures = parsed.signatures;
    this.message = {
      version: parsed.version,
      header: parsed.header,
      staticAccountKeys: parsed.accountKeys,
      recentBlockhash: base58Encode(parsed.recentBlockhash),
      serialize: () => Uint8Array.from(parsed.message),
    };
  }

  /** Place a signature (as web3.js's VersionedTransaction.addSignature does). */
  addSignature(publicKey, signature) {
    const pk = typeof publicKey === 'string' ? base58Decode(publicKey) : publicKey.toBytes?.() ?? publicKey;
    this.bytes = withSignature(this.bytes, pk, Uint8Array.from(signature));
    this.signatures = parseTransaction(this.bytes).signatures;
  }

  serialize() {
    return Uint8Array.from(this.bytes);
  }
}

/** The signed bytes from whatever the provider returned: bytes, a transaction object, or a
 * detached {signature}. */
export function signedBytes(result, unsigned, publicKey) {
  if (result instanceof Uint8Array) return result;
  if (result instanceof ArrayBuffer) return new Uint8Array(result);
  if (result && typeof result.serialize === 'function') return new Uint8Array(result.serialize());
  if (result?.signature) return withSignature(unsigned, publicKey, new Uint8Array(result.signature));
  throw new Error(t('err_wallet_result'));
}

/** Ask the injected wallet to sign the server's unsigned base64 transaction; returns base64. */
export async function signInjected(provider, unsignedB64, address) {
  const unsigned = base64ToBytes(unsignedB64);
  const publicKey = base58Decode(address);
  const slot = signerIndex(parseTransaction(unsigned), publicKey);
  if (slot < 0) throw new Error(t('err_not_signer'));
  const result = await provider.signTransaction(new WireTransaction(unsigned));
  const signed = signedBytes(result, unsigned, publicKey);
  if (!signatureOf(signed, slot)) throw new Error(t('err_not_signed'));
  let bin = '';
  for (const b of signed) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Link the connected wallet to the account: sign the server's challenge message with it. */
export async function linkInjected(provider, address) {
  const challenge = await api(PATHS.challenge, { method: 'POST' });
  const bytes = new TextEncoder().encode(challenge.message);
  const res = await provider.signMessage(bytes, 'utf8');
  const sig = res?.signature ?? res;
  return api(PATHS.link, {
    method: 'POST',
    body: { address, nonce: challenge.nonce, signature: base58Encode(new Uint8Array(sig)) },
  });
}

/**
 * The bridge page for Phantom's deeplinks, opened outside Telegram (Phantom redirects to a
 * browser, not into the Mini App). The order travels in the query; the initData in the
 * #fragment, which browsers never send to a server.
 */
export function bridgeUrl(order) {
  const base = config.publicUrl || location.origin;
  const path = appUrl('/app/phantom', order);
  return `${base.replace(/\/$/, '')}${path}#tgWebAppData=${encodeURIComponent(initData())}`;
}
