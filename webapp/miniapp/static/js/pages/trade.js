// The buy / sell panel: amount presets, slippage, priority fee, a live quote, then
// prepare → sign in the wallet → submit (one Idempotency-Key per order) → follow to confirmation.

import {
  $, put, ApiError, api, appUrl, banner, boot, config, errorText, fmtSol, fmtTokens, h, haptic, openExternal,
  riskChips, shortAddr, sleep, t, tg, uuid, whoAmI,
} from '../core.js';
import { bridgeUrl, connectInjected, injectedProvider, linkInjected, signInjected } from '../wallet.js';

const BUY_PRESETS = ['0.05', '0.1', '0.25', '0.5', '1'];
const QUOTE_DEBOUNCE_MS = 350;
const POLL_MS = 1000;
const POLL_LIMIT_MS = 120_000;
const CONFIRM_CODES = new Set(['confirmation_required', 'needs_confirmation', 'confirm_required']);
const TERMINAL = new Set(['confirmed', 'failed', 'expired']);

const prefill = config.prefill || {};
const state = {
  mint: config.mint || '',
  side: prefill.side === 'sell' ? 'sell' : 'buy',
  slippageBps: null,
  priorityFee: 0,
  token: null,
  quote: null,
  me: null,
  wallet: null, // the connected injected wallet's address
  busy: false,
  pending: null, // {fingerprint, key, preparedId, signed, tradeId}: one order, retried as one
};
const provider = injectedProvider();

/** Decimal text → integer raw units with `decimals` places, exactly (no float rounding). */
export function toRaw(text, decimals) {
  const clean = String(text).trim().replace(',', '.');
  if (!/^\d+(\.\d+)?$/.test(clean)) return null;
  const [whole, frac = ''] = clean.split('.');
  if (frac.length > decimals) return null;
  const raw = BigInt(whole + frac.padEnd(decimals, '0'));
  return raw > 0n && raw < 1n << 63n ? Number(raw) : null;
}

function decimals() {
  return state.side === 'buy' ? 9 : state.token?.decimals ?? 6;
}

function amount() {
  return toRaw($('#amount').value, decimals());
}

function fingerprint() {
  return JSON.stringify([state.mint, state.side, amount(), state.slippageBps, state.priorityFee]);
}

function symbol() {
  return state.token?.symbol ? `$${state.token.symbol}` : shortAddr(state.mint);
}

// -- rendering ---------------------------------------------------------------------------------

function pressOnly(group, button) {
  for (const b of group.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
}

function renderPresets() {
  const box = $('#amount-presets');
  $('#amount-label').textContent = state.side === 'buy' ? t('amount_sol') : t('amount_tokens', { symbol: symbol() });
  if (state.side === 'buy') {
    box.replaceChildren(
      ...BUY_PRESETS.map((v) =>
        h('button', { type: 'button', 'aria-pressed': String($('#amount').value === v), onclick: () => setAmount(v) }, `${v} SOL`),
      ),
    );
  } else {
    box.replaceChildren();
  }
}

function setAmount(v) {
  $('#amount').value = v;
  renderPresets();
  requestQuote();
}

function renderButton() {
  const btn = $('#submit');
  const amt = amount();
  let label;
  if (state.side === 'buy') label = amt ? t('buy_for', { amount: fmtSol(amt) }) : t('buy');
  else label = amt ? t('sell_amount', { amount: fmtTokens(amt, decimals()), symbol: symbol() }) : t('sell');
  btn.textContent = label;
  btn.classList.toggle('buy', state.side === 'buy');
  btn.classList.toggle('sell', state.side === 'sell');
  const blocked = state.side === 'buy' && (state.quote?.risk?.blocks_buy ?? state.token?.risk?.blocks_buy);
  btn.disabled = state.busy || !state.mint || !amt || !state.quote || Boolean(blocked);
}

function renderQuote(q, error) {
  const dl = $('#quote');
  if (error) {
    dl.replaceChildren(h('dt', {}, t('quote')), h('dd', { class: 'bad' }, error));
    return;
  }
  if (!q) {
    dl.replaceChildren();
    return;
  }
  const outIsSol = q.side === 'sell';
  const fmtOut = (v) => (outIsSol ? fmtSol(v) : `${fmtTokens(v, state.token?.decimals)} ${symbol()}`);
  const fmtIn = (v) => (outIsSol ? `${fmtTokens(v, state.token?.decimals)} ${symbol()}` : fmtSol(v));
  const impact = Number(q.price_impact_pct || 0);
  put(
    dl,
    h('dt', {}, t('you_pay')), h('dd', {}, fmtIn(q.in_amount)),
    h('dt', {}, t('you_receive')), h('dd', {}, `≈ ${fmtOut(q.out_amount)}`),
    h('dt', {}, t('minimum_received')), h('dd', {}, fmtOut(q.min_out_amount)),
    h('dt', {}, t('price_impact')), h('dd', { class: impact > 5 ? 'bad' : '' }, `${impact.toFixed(2)}%`),
    h('dt', {}, t('slippage')), h('dd', {}, `${(q.slippage_bps / 100).toFixed(2)}%`),
    q.route?.length ? [h('dt', {}, t('route')), h('dd', {}, q.route.map((r) => r.label).join(' → '))] : null,
  );
  if (q.risk) $('#token-risk').replaceChildren(...riskChips(q.risk));
}

function renderWallet() {
  const box = $('#wallet');
  const linked = state.me?.wallet;
  const rows = [];
  if (provider) {
    if (state.wallet) {
      rows.push(h('span', {}, t('wallet_connected'), ' ', h('span', { class: 'addr', title: state.wallet }, shortAddr(state.wallet))));
      if (linked && linked !== state.wallet) rows.push(h('span', { class: 'bad' }, t('wallet_other_linked', { wallet: shortAddr(linked) })));
    } else {
      rows.push(h('button', { type: 'button', class: 'btn ghost', onclick: () => connect(false) }, t('connect_phantom')));
    }
  } else if (tg) {
    rows.push(h('span', {}, t('sign_in_phantom_hint')));
    rows.push(h('button', { type: 'button', class: 'btn ghost', id: 'open-phantom', onclick: openBridge }, t('open_in_phantom')));
  } else {
    rows.push(h('span', {}, t('no_wallet')));
  }
  if (linked) rows.push(h('span', {}, t('wallet_linked'), ' ', h('span', { class: 'addr', title: linked }, shortAddr(linked))));
  put(box, rows);
}

const STEP_KEYS = ['prepare', 'sign', 'submit', 'confirm'];

function steps(active, { error = null, done = false } = {}) {
  const ol = $('#steps');
  ol.hidden = false;
  const at = STEP_KEYS.indexOf(active);
  ol.replaceChildren(
    ...STEP_KEYS.map((k, i) => {
      let st = i < at || (done && i === at) ? 'done' : i === at ? 'active' : 'todo';
      if (error && i === at) st = 'error';
      return h('li', { 'data-state': st, 'data-step': k }, t(`step_${k}`), error && i === at ? `: ${error}` : '');
    }),
  );
}

// -- data --------------------------------------------------------------------------------------

let quoteTimer = null;
let quoteSeq = 0;

function requestQuote() {
  renderButton();
  clearTimeout(quoteTimer);
  quoteTimer = setTimeout(fetchQuote, QUOTE_DEBOUNCE_MS);
}

async function fetchQuote() {
  const amt = amount();
  state.quote = null;
  renderButton();
  if (!state.mint || !amt) {
    renderQuote(null, $('#amount').value ? t('err_amount') : null);
    return;
  }
  const seq = ++quoteSeq;
  try {
    const body = { mint: state.mint, side: state.side, amount: amt };
    if (state.slippageBps !== null) body.slippage_bps = state.slippageBps;
    const q = await api('/trade/quote', { method: 'POST', body });
    if (seq !== quoteSeq) return; // an older answer arriving late
    state.quote = q;
    renderQuote(q);
  } catch (err) {
    if (seq !== quoteSeq) return;
    renderQuote(null, errorText(err));
  }
  renderButton();
}

async function loadToken() {
  if (!state.mint) return;
  try {
    state.token = await api(`/tokens/${encodeURIComponent(state.mint)}`);
    $('#token-symbol').textContent = symbol();
    $('#token-name').textContent = state.token.name || '';
    $('#token-risk').replaceChildren(...riskChips(state.token.risk));
  } catch (err) {
    banner(errorText(err));
  }
}

async function connect(silent) {
  if (!provider) return null;
  try {
    state.wallet = await connectInjected(provider, { onlyIfTrusted: silent });
  } catch (err) {
    if (!silent) banner(t('err_wallet', { reason: err?.message || String(err) }));
  }
  renderWallet();
  return state.wallet;
}

/** The connected wallet, linked to the account (a signed challenge) when it is not yet. */
async function readyWallet() {
  const address = state.wallet || (await connect(false));
  if (!address) throw new Error(t('no_wallet'));
  if (state.me?.wallet !== address) {
    const me = await linkInjected(provider, address);
    state.me = me && me.wallet ? me : { ...state.me, wallet: address };
    renderWallet();
  }
  return address;
}

async function prepare(confirm = false) {
  const body = { mint: state.mint, side: state.side, amount: amount(), priority_fee_lamports: state.priorityFee, confirm };
  if (state.slippageBps !== null) body.slippage_bps = state.slippageBps;
  try {
    return await api('/trade/prepare', { method: 'POST', body });
  } catch (err) {
    if (!confirm && err instanceof ApiError && CONFIRM_CODES.has(err.code)) {
      if (await askConfirm(err.message)) return prepare(true);
      throw new Error(t('cancelled'));
    }
    throw err;
  }
}

function askConfirm(message) {
  const text = t('confirm_large', { reason: message });
  if (tg?.showConfirm) {
    return new Promise((resolve) => {
      try {
        tg.showConfirm(text, (ok) => resolve(Boolean(ok)));
      } catch {
        resolve(window.confirm(text));
      }
    });
  }
  return Promise.resolve(window.confirm(text));
}

/** POST /trade/submit; transport failures and 5xx are retried with the same key and bytes. */
async function submit(pending) {
  let last;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      return await api('/trade/submit', {
        method: 'POST',
        body: { prepared_id: pending.preparedId, signed_transaction: pending.signed },
        idempotencyKey: pending.key,
      });
    } catch (err) {
      last = err;
      const transient = err instanceof ApiError && (err.status === 0 || err.status >= 500);
      if (!transient) throw err;
      await sleep(500 * 2 ** attempt);
    }
  }
  throw last;
}

async function follow(tradeId) {
  const started = Date.now();
  for (;;) {
    let trade;
    try {
      trade = await api(`/trade/${tradeId}`);
    } catch (err) {
      if (!(err instanceof ApiError) || (err.status !== 0 && err.status < 500)) throw err;
    }
    if (trade && TERMINAL.has(trade.status)) return trade;
    if (Date.now() - started > POLL_LIMIT_MS) return trade;
    await sleep(POLL_MS);
  }
}

function showResult(trade) {
  const ok = trade?.status === 'confirmed';
  haptic(ok ? 'success' : 'error');
  const ol = $('#steps');
  ol.after(
    h(
      'div',
      { class: 'panel result', id: 'result', 'data-status': trade?.status || 'unknown' },
      h('p', { class: `status status-${trade?.status || 'submitted'}` }, t(`status_${trade?.status || 'submitted'}`)),
      trade?.out_amount ? h('p', {}, t('received', { amount: state.side === 'buy' ? `${fmtTokens(trade.out_amount, state.token?.decimals)} ${symbol()}` : fmtSol(trade.out_amount) })) : null,
      trade?.error ? h('p', { class: 'bad' }, trade.error) : null,
      trade?.signature ? h('p', { class: 'small' }, h('code', { title: trade.signature }, shortAddr(trade.signature))) : null,
      trade?.id ? h('a', { class: 'btn ghost wide', href: appUrl(`/app/order/${trade.id}`) }, t('view_order')) : null,
    ),
  );
}

async function execute() {
  if (state.busy) return;
  banner(null);
  document.getElementById('result')?.remove();
  if (!state.me) {
    banner(t('err_need_telegram'));
    return;
  }
  if (!provider) {
    if (tg) openBridge();
    else banner(t('no_wallet'));
    return;
  }
  const fp = fingerprint();
  // One order, one key: a retry of the same order (same parameters) reuses key and signed bytes.
  if (!state.pending || state.pending.fingerprint !== fp || state.pending.done) {
    state.pending = { fingerprint: fp, key: uuid(), preparedId: null, signed: null, tradeId: null, done: false };
  }
  const pending = state.pending;
  state.busy = true;
  renderButton();
  let step = 'prepare';
  try {
    if (!pending.signed) {
      const address = await readyWallet();
      steps('prepare');
      const prepared = await prepare();
      if (prepared.wallet !== address) throw new Error(t('err_wallet_mismatch', { wallet: shortAddr(prepared.wallet) }));
      step = 'sign';
      steps('sign');
      pending.signed = await signInjected(provider, prepared.transaction, address);
      pending.preparedId = prepared.prepared_id;
    }
    step = 'submit';
    steps('submit');
    const trade = await submit(pending);
    pending.tradeId = trade.id;
    step = 'confirm';
    steps('confirm');
    const final = TERMINAL.has(trade.status) ? trade : await follow(trade.id);
    pending.done = TERMINAL.has(final?.status);
    if (final?.status === 'confirmed') steps('confirm', { done: true });
    else steps('confirm', { error: t(`status_${final?.status || 'submitted'}`) });
    showResult(final);
  } catch (err) {
    // A refused prepare or a rejected signature leaves nothing to retry with: start over.
    if (step !== 'submit' && step !== 'confirm') pending.signed = null;
    const msg = errorText(err);
    steps(step, { error: msg });
    banner(msg);
    haptic('error');
  } finally {
    state.busy = false;
    renderButton();
  }
}

function openBridge() {
  const amt = amount();
  if (!state.mint || !amt) return;
  const order = { mint: state.mint, side: state.side, amount: amt, priority_fee_lamports: state.priorityFee };
  if (state.slippageBps !== null) order.slippage_bps = state.slippageBps;
  openExternal(bridgeUrl(order));
}

// -- wiring ------------------------------------------------------------------------------------

function segment(id, attr, onPick) {
  const group = document.getElementById(id);
  group.addEventListener('click', (ev) => {
    const b = ev.target.closest(`button[${attr}]`);
    if (!b) return;
    pressOnly(group, b);
    onPick(b.getAttribute(attr));
  });
}

function setSide(side) {
  state.side = side;
  pressOnly($('#side'), $(`#side button[data-side="${side}"]`));
  $('#amount').value = '';
  renderPresets();
  requestQuote();
}

function applyPrefill() {
  if (prefill.lamports && state.side === 'buy') $('#amount').value = String(prefill.lamports / 1e9);
  if (prefill.tokens && state.side === 'sell') $('#amount').value = prefill.tokens;
  if (prefill.invalid_amount) banner(t('err_amount'));
  if (prefill.bps && state.side === 'sell') banner(t('sell_share_hint', { percent: prefill.bps / 100 }), 'info');
}

async function main() {
  boot({ back: true });
  segment('side', 'data-side', setSide);
  segment('slippage', 'data-bps', (v) => {
    state.slippageBps = v === '' ? null : Number(v);
    requestQuote();
  });
  segment('priority', 'data-fee', (v) => {
    state.priorityFee = Number(v);
    renderButton();
  });
  $('#amount').addEventListener('input', () => {
    renderPresets();
    requestQuote();
  });
  $('#mint').addEventListener('change', () => {
    state.mint = $('#mint').value.trim();
    loadToken().then(requestQuote);
  });
  $('#trade-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    execute();
  });
  applyPrefill();
  renderPresets();
  renderWallet();
  const [me] = await Promise.all([whoAmI(), loadToken(), provider ? connect(true) : null]);
  state.me = me;
  renderWallet();
  renderPresets();
  requestQuote();
}

main();
