// One order's status: GET /trade/{id}, followed every second until it is final.

import { $, put, api, appUrl, banner, boot, config, errorText, fmtSol, h, sleep, t, timeAgo, whoAmI } from '../core.js';

const TERMINAL = new Set(['confirmed', 'failed', 'expired']);

function row(label, value) {
  return value === null || value === undefined || value === '' ? null : [h('dt', {}, label), h('dd', {}, value)];
}

function render(trade) {
  const box = $('#order');
  put(
    box,
    h('p', { class: `status status-${trade.status}`, id: 'order-status', 'data-status': trade.status }, t(`status_${trade.status}`)),
    h(
      'dl',
      { class: 'kv' },
      row(t('side'), trade.side === 'sell' ? t('sell') : t('buy')),
      row(t('token'), h('a', { href: appUrl(`/app/token/${encodeURIComponent(trade.mint)}`) }, trade.mint)),
      row(t('you_pay'), trade.side === 'buy' ? fmtSol(trade.in_amount) : String(trade.in_amount)),
      row(t('you_receive'), trade.out_amount === null ? null : trade.side === 'sell' ? fmtSol(trade.out_amount) : String(trade.out_amount)),
      row(t('minimum_received'), trade.min_out_amount === null ? null : trade.side === 'sell' ? fmtSol(trade.min_out_amount) : String(trade.min_out_amount)),
      row(t('signature'), trade.signature ? h('code', {}, trade.signature) : null),
      row(t('error'), trade.error),
      row(t('updated'), timeAgo(trade.updated_ts)),
    ),
  );
  box.setAttribute('aria-busy', String(!TERMINAL.has(trade.status)));
}

async function main() {
  boot({ back: true });
  const me = await whoAmI();
  if (!me) {
    $('#order').replaceChildren(h('p', { class: 'muted' }, t('err_need_telegram')));
    return;
  }
  for (let i = 0; i < 180; i++) {
    try {
      const trade = await api(`/trade/${encodeURIComponent(config.tradeId)}`);
      render(trade);
      if (TERMINAL.has(trade.status)) return;
    } catch (err) {
      banner(errorText(err));
      if (err.status && err.status < 500) return;
    }
    await sleep(1000);
  }
}

main();
