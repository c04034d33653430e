// The Phantom deeplink bridge, in the phone's browser (Phantom returns there, not into
// Telegram): start → Phantom connect → back here (step=connected) → prepare → Phantom
// signTransaction → back here (step=signed) → submit → follow → back to Telegram.
// The x25519 keys and NaCl boxes stay on the server; this page carries its sealed `state`.

import { $, api, appUrl, banner, boot, config, errorText, fmtSol, h, initData, sleep, t, uuid } from '../core.js';
import { PATHS } from '../wallet.js';

const FLOW_PREFIX = 'solai.phantom.';
const FLOW_TTL_MS = 30 * 60_000;
const TERMINAL = new Set(['confirmed', 'failed', 'expired']);
const query = new URLSearchParams(location.search);

function status(text) {
  $('#phantom-status').textContent = text;
}

function load(id) {
  try {
    const flow = JSON.parse(localStorage.getItem(FLOW_PREFIX + id) || 'null');
    return flow && Date.now() - flow.created < FLOW_TTL_MS ? flow : null;
  } catch {
    return null;
  }
}

function save(flow) {
  localStorage.setItem(FLOW_PREFIX + flow.id, JSON.stringify(flow));
}

function forget(flow) {
  localStorage.removeItem(FLOW_PREFIX + flow.id);
}

function redirect(flow, step) {
  return `${location.origin}${appUrl('/app/phantom', { step, flow: flow.id })}`;
}

/** Show the link into Phantom: a real tap on an <a> is what opens the app from a browser. */
function go(url, label) {
  const a = $('#phantom-go');
  a.setAttribute('href', url);
  a.textContent = label;
  a.hidden = false;
}

function back(tradeId) {
  if (!config.botUsername) return;
  const start = tradeId ? `?startapp=order_${tradeId}` : '';
  const a = $('#phantom-back');
  a.setAttribute('href', `https://t.me/${config.botUsername}/${config.appName || 'app'}${start}`);
  a.hidden = false;
}

function phantomError() {
  // Phantom reports a refusal (user rejected, …) with errorCode / errorMessage.
  const code = query.get('errorCode');
  return code ? t('phantom_refused', { reason: query.get('errorMessage') || code }) : null;
}

async function start() {
  const order = {
    mint: query.get('mint'),
    side: query.get('side') === 'sell' ? 'sell' : 'buy',
    amount: Number(query.get('amount')),
    slippage_bps: query.has('slippage_bps') ? Number(query.get('slippage_bps')) : null,
    priority_fee_lamports: Number(query.get('priority_fee_lamports') || 0),
  };
  if (!order.mint || !(order.amount > 0)) throw new Error(t('err_amount'));
  const auth = initData();
  if (!auth) throw new Error(t('err_need_telegram'));
  const flow = { id: uuid(), key: uuid(), order, initData: auth, created: Date.now() };
  const res = await api(PATHS.phantomConnect, { method: 'POST', body: { redirect_link: redirect(flow, 'connected') } });
  flow.state = res.state;
  save(flow);
  status(order.side === 'buy' ? t('phantom_connect_buy', { amount: fmtSol(order.amount) }) : t('phantom_connect_sell'));
  go(res.url, t('connect_phantom'));
}

async function connected(flow) {
  const res = await api(PATHS.phantomConnected, {
    method: 'POST',
    body: {
      state: flow.state,
      phantom_encryption_public_key: query.get('phantom_encryption_public_key') || '',
      nonce: query.get('nonce') || '',
      data: query.get('data') || '',
    },
  });
  Object.assign(flow, { state: res.state, session: res.session, publicKey: res.public_key });
  status(t('step_prepare'));
  const body = { ...flow.order };
  if (body.slippage_bps === null) delete body.slippage_bps;
  const prepared = await api('/trade/prepare', { method: 'POST', body });
  if (prepared.wallet !== flow.publicKey) throw new Error(t('err_wallet_mismatch', { wallet: prepared.wallet }));
  flow.preparedId = prepared.prepared_id;
  const sign = await api(PATHS.phantomSign, {
    method: 'POST',
    body: { state: flow.state, session: flow.session, transaction: prepared.transaction, redirect_link: redirect(flow, 'signed') },
  });
  save(flow);
  status(t('phantom_sign_now'));
  go(sign.url, t('sign_in_phantom'));
}

async function signed(flow) {
  const res = await api(PATHS.phantomSigned, {
    method: 'POST',
    body: { state: flow.state, nonce: query.get('nonce') || '', data: query.get('data') || '' },
  });
  status(t('step_submit'));
  let trade = await api('/trade/submit', {
    method: 'POST',
    body: { prepared_id: flow.preparedId, signed_transaction: res.signed_transaction },
    idempotencyKey: flow.key,
  });
  status(t('step_confirm'));
  for (let i = 0; i < 120 && !TERMINAL.has(trade.status); i++) {
    await sleep(1000);
    trade = await api(`/trade/${trade.id}`);
  }
  forget(flow);
  status(t(`status_${trade.status}`));
  back(trade.id);
  const link = $('#phantom-go');
  link.setAttribute('href', appUrl(`/app/order/${trade.id}`));
  link.textContent = t('view_order');
  link.hidden = false;
}

async function main() {
  boot();
  const step = query.get('step');
  try {
    if (!step) {
      await start();
      return;
    }
    const flow = load(query.get('flow') || '');
    if (!flow) throw new Error(t('phantom_flow_lost'));
    // The signed initData of the flow authenticates its API calls in this (new) tab.
    sessionStorage.setItem('solai.initData', flow.initData);
    const refused = phantomError();
    if (refused) {
      forget(flow);
      throw new Error(refused);
    }
    if (step === 'connected') await connected(flow);
    else if (step === 'signed') await signed(flow);
    else throw new Error(t('phantom_flow_lost'));
  } catch (err) {
    const msg = errorText(err);
    status(msg);
    banner(msg);
    back(null);
  }
}

main();
