// The demo wallet (only when the server runs `solai demo`, setting demo_wallet): an Ed25519 key
// generated here with WebCrypto and kept in this browser's localStorage, offered as the injected
// provider Phantom would inject (connect, signMessage, signTransaction). The key never leaves
// the browser; the demo funds its address on the simulated chain when it is linked.
// Loaded as a module before the page's module, so the page finds it as window.phantom.solana.

import { base58Encode } from './solana.js';

const STORE = 'solai.demoWallet';

async function loadKey() {
  const saved = localStorage.getItem(STORE);
  if (saved) {
    try {
      const jwk = JSON.parse(saved);
      const priv = await crypto.subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign']);
      return { priv, address: base58Encode(b64urlBytes(jwk.x)) };
    } catch {
      localStorage.removeItem(STORE); // unreadable (another browser version): make a new one
    }
  }
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
  localStorage.setItem(STORE, JSON.stringify(jwk));
  return { priv: pair.privateKey, address: base58Encode(b64urlBytes(jwk.x)) };
}

function b64urlBytes(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

let keyPromise = null;
const key = () => (keyPromise ??= loadKey());
const sign = async (bytes) => new Uint8Array(await crypto.subtle.sign('Ed25519', (await key()).priv, bytes));

if (window.crypto?.subtle && !window.phantom?.solana) {
  window.phantom = {
    solana: {
      isDemoWallet: true,
      publicKey: null,
      isConnected: false,
      async connect() {
        const { address } = await key();
        this.publicKey = { toBase58: () => address, toString: () => address };
        this.isConnected = true;
        return { publicKey: this.publicKey };
      },
      async signMessage(message) {
        return { signature: await sign(message), publicKey: (await this.connect()).publicKey };
      },
      // As Phantom does: sign the transaction's message bytes, return the signed transaction.
      async signTransaction(tx) {
        const { address } = await key();
        tx.addSignature(address, await sign(tx.message.serialize()));
        return tx;
      },
    },
  };
}
