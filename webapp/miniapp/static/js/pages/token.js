// The token page: market stats, price / market-cap chart, the latest signal explained, the
// agent's narrative, the risk verdict and what tracked wallets did.

import {
  $, put, api, appUrl, badgeLabel, banner, boot, config, errorText, fmtPrice, fmtSol, h, riskChips,
  shortAddr, strengthClass, t, timeAgo, whoAmI,
} from '../core.js';
import { lineChart } from '../chart.js';

const mint = config.mint;
let token = null;
let field = 'price';
let windowName = '1h';
let redraw = null;

/** Lamports per raw unit → SOL per whole token. */
export function solPerToken(priceLamportsPerRaw, decimals) {
  if (priceLamportsPerRaw === null || priceLamportsPerRaw === undefined) return null;
  return (priceLamportsPerRaw * 10 ** (decimals ?? 6)) / 1e9;
}

function compactSol(sol) {
  return `${sol.toLocaleString(config.lang === 'fr' ? 'fr-FR' : 'en-US', { notation: 'compact', maximumFractionDigits: 1 })}`;
}

function fmtClock(ts) {
  return new Date(ts).toLocaleTimeString(config.lang === 'fr' ? 'fr-FR' : 'en-US', { hour: '2-digit', minute: '2-digit' });
}

function renderHead(tok) {
  $('#token-symbol').textContent = tok.symbol ? `$${tok.symbol}` : shortAddr(tok.mint);
  $('#token-name').textContent = [tok.name, tok.venue].filter(Boolean).join(' · ');
  document.title = `${tok.symbol || shortAddr(tok.mint)} · SolAI`;
  $('#stat-price').textContent = fmtPrice(solPerToken(tok.price_lamports_per_token, tok.decimals));
  $('#stat-mcap').textContent = fmtSol(tok.market_cap_lamports, 0);
  $('#stat-liq').textContent = fmtSol(tok.liquidity_lamports, 1);
  $('#stat-vol').textContent = fmtSol(tok.volume_24h_lamports, 1);
  const badge = $('#token-strength');
  if (tok.signal) {
    badge.className = strengthClass(tok.signal.strength);
    badge.textContent = tok.signal.strength.toFixed(2);
    badge.title = t('strength');
    badge.hidden = false;
  }
  if (tok.risk?.blocks_buy) {
    const buy = $('#buy-link');
    buy.setAttribute('aria-disabled', 'true');
    buy.classList.add('disabled');
    buy.title = t('buy_blocked');
  }
}

function renderSignal(tok) {
  const body = $('#signal-body');
  const sig = tok.signal;
  if (!sig) {
    put(body, h('p', { class: 'muted' }, tok.near_miss ? t('no_signal_because', { reason: tok.near_miss }) : t('no_signal')));
    return;
  }
  const comps = Object.entries(sig.components || {});
  const top = Math.max(3, ...comps.map(([, v]) => Number(v) || 0)); // components share Strength's 0-3 scale
  put(
    body,
    h('p', {}, h('span', { class: strengthClass(sig.strength) }, sig.strength.toFixed(2)), ' ', h('span', { class: 'muted' }, t('fired_ago', { when: timeAgo(sig.ts) }))),
    comps.length
      ? h(
          'div',
          { class: 'bars' },
          comps.map(([name, v]) =>
            h(
              'div',
              { class: 'bar' },
              h('span', {}, t(`comp_${name}`) === `comp_${name}` ? name.replaceAll('_', ' ') : t(`comp_${name}`)),
              h('span', { class: 'track' }, h('span', { class: 'fill', 'data-w': Math.round((Math.max(0, Number(v)) / top) * 100) })),
              h('span', { class: 'num' }, Number(v).toFixed(2)),
            ),
          ),
        )
      : null,
    sig.rules?.length
      ? h('ul', { class: 'rules-fired' }, sig.rules.map((r) => h('li', { class: r.passed ? 'pass' : 'fail' }, `${r.passed ? '✓' : '✗'} ${r.summary || r.title}`)))
      : null,
    sig.explanation ? h('p', { class: 'muted small' }, sig.explanation) : null,
  );
  // Widths through CSSOM: the CSP forbids style attributes in markup.
  for (const fill of body.querySelectorAll('.fill')) fill.style.width = `${fill.dataset.w}%`;
  if (sig.narrative) {
    $('#narrative').textContent = sig.narrative;
    $('#narrative-panel').hidden = false;
  }
}

function renderRisk(risk) {
  const body = $('#risk-body');
  const items = (risk.badges || []).map((b) => {
    const key = `badge_help_${b}`;
    const help = t(key);
    return h('li', {}, help === key ? badgeLabel(b) : help);
  });
  put(
    body,
    h('div', { class: 'chips' }, riskChips(risk)),
    items.length ? h('ul', { class: 'risk-list' }, items) : null,
    h('p', { class: risk.blocks_buy ? 'bad' : 'muted' }, risk.blocks_buy ? t('buy_blocked') : risk.known ? t('risk_checked', { when: timeAgo(risk.checked_ts) }) : t('risk_unchecked')),
  );
}

function renderSmart(rows) {
  const tbody = $('#smart-table tbody');
  tbody.replaceChildren(
    ...rows.map((r) =>
      h(
        'tr',
        {},
        h('td', { title: r.wallet }, r.alias || shortAddr(r.wallet)),
        h('td', { class: r.side === 'sell' ? 'side side-sell' : 'side side-buy' }, r.side === 'sell' ? t('sell') : t('buy')),
        h('td', { class: 'num' }, fmtSol(r.lamports, 2).replace(' SOL', '')),
        h('td', { class: 'num' }, timeAgo(r.ts)),
      ),
    ),
  );
  $('#smart-empty').hidden = rows.length > 0;
  $('#smart-table').hidden = rows.length === 0;
}

async function loadSmart(tok) {
  let rows = (tok.smart_buys || []).map((b) => ({ ...b, side: 'buy' }));
  try {
    const q = new URLSearchParams({ mint, window: '24h', limit: '20' });
    const page = await api(`/smart-activity?${q}`);
    const items = (page.items || page || []).filter((r) => r.mint === mint);
    if (items.length) rows = items.map((r) => ({ wallet: r.wallet, alias: r.alias, side: r.side, lamports: r.sol_lamports, ts: r.ts }));
  } catch {
    // the token's own smart_buys are enough to fill the table
  }
  renderSmart(rows);
}

async function loadChart() {
  const box = $('#chart');
  box.setAttribute('aria-busy', 'true');
  try {
    // Finer buckets than the API's default (window/120): young tokens trade in bursts.
    const interval = { '1h': '15s', '6h': '1m', '24h': '5m' }[windowName] || '1m';
    const series = await api(`/tokens/${encodeURIComponent(mint)}/timeseries?fields=price,mcap&window=${windowName}&interval=${interval}`);
    const decimals = token?.decimals ?? 6;
    const points = (series.points || []).map((p) => ({
      ts: p.ts,
      value: field === 'price' ? solPerToken(p.price, decimals) ?? NaN : p.mcap === null || p.mcap === undefined ? NaN : p.mcap / 1e9,
    }));
    const format = field === 'price' ? (v) => fmtPrice(v) : (v) => compactSol(v);
    redraw = lineChart(box, points, { format, formatTime: fmtClock, empty: t('no_trades_window') });
  } catch (err) {
    box.replaceChildren(h('p', { class: 'muted loading' }, errorText(err)));
  } finally {
    box.setAttribute('aria-busy', 'false');
  }
}

function segment(id, attr, onPick) {
  const group = document.getElementById(id);
  group.addEventListener('click', (ev) => {
    const b = ev.target.closest(`button[${attr}]`);
    if (!b) return;
    for (const x of group.querySelectorAll('button')) x.setAttribute('aria-pressed', String(x === b));
    onPick(b.getAttribute(attr));
  });
}

async function main() {
  boot({ back: true });
  segment('chart-field', 'data-field', (v) => {
    field = v;
    loadChart();
  });
  segment('chart-window', 'data-window', (v) => {
    windowName = v;
    loadChart();
  });
  $('#copy-mint').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(mint);
      $('#copy-mint').textContent = t('copied');
    } catch {
      // clipboard refused (no user permission): the address is selectable anyway
    }
  });
  $('#buy-link').setAttribute('href', appUrl('/app/trade', { mint, side: 'buy' }));
  $('#sell-link').setAttribute('href', appUrl('/app/trade', { mint, side: 'sell' }));
  whoAmI();
  try {
    token = await api(`/tokens/${encodeURIComponent(mint)}`);
  } catch (err) {
    banner(errorText(err));
    $('#signal-body').replaceChildren(h('p', { class: 'muted' }, t('could_not_load')));
    $('#risk-body').replaceChildren();
    renderSmart([]);
    loadChart();
    return;
  }
  renderHead(token);
  renderSignal(token);
  renderRisk(token.risk);
  await Promise.all([loadChart(), loadSmart(token)]);
  window.addEventListener('resize', () => redraw?.());
}

main();
