// The signal list: cards with Strength, risk badges, a sparkline; newest first, paged by cursor,
// refreshed every few seconds while the page is visible.

import { api, appUrl, banner, boot, errorText, h, riskChips, startParam, strengthClass, t, timeAgo, whoAmI } from '../core.js';
import { sparkline } from '../chart.js';

const PAGE_SIZE = 20;
const REFRESH_MS = 15_000;
const list = document.getElementById('signals');
const more = document.getElementById('more');
const seen = new Set();
let minStrength = 0;
let hideRisky = false;
let cursor = null;

function isRisky(signal) {
  const r = signal.risk || {};
  return !r.known || r.blocks_buy || r.level === 'high' || r.level === 'critical';
}

/** Spark series are fetched only for cards that scroll into view (one request per card). */
const sparkObserver =
  'IntersectionObserver' in window
    ? new IntersectionObserver((entries) => {
        for (const e of entries) {
          if (!e.isIntersecting) continue;
          sparkObserver.unobserve(e.target);
          loadSpark(e.target);
        }
      })
    : null;

async function loadSpark(slot) {
  try {
    const series = await api(`/tokens/${encodeURIComponent(slot.dataset.mint)}/timeseries?fields=price&window=1h`);
    const values = (series.points || []).map((p) => p.price).filter((v) => v !== null && v !== undefined);
    if (values.length > 1) slot.replaceChildren(sparkline(values, { label: t('price_1h') }));
  } catch {
    // a card without its sparkline is still a card
  }
}

/** One signal card; every piece of token text goes in as a text node. */
export function card(signal) {
  const symbol = signal.symbol ? `$${signal.symbol}` : signal.mint.slice(0, 6);
  const why = signal.rules?.filter((r) => r.role === 'trigger' && r.passed).map((r) => r.summary || r.title) || [];
  const spark = h('span', { class: 'spark-slot', dataset: { mint: signal.mint } });
  const el = h(
    'a',
    { class: 'card', href: appUrl(`/app/token/${encodeURIComponent(signal.mint)}`), dataset: { id: signal.id, mint: signal.mint } },
    h('span', { class: 'who' }, h('span', { class: 'sym' }, symbol), h('span', { class: 'name' }, signal.name || '')),
    h(
      'span',
      { class: 'right' },
      h('span', { class: strengthClass(signal.strength), title: t('strength') }, signal.strength.toFixed(2)),
      h('span', { class: 'when' }, timeAgo(signal.ts)),
    ),
    h('span', { class: 'mid' }, h('span', { class: 'chips' }, riskChips(signal.risk)), spark),
    why.length ? h('span', { class: 'why' }, why.join(' · ')) : null,
  );
  if (sparkObserver) sparkObserver.observe(spark);
  else loadSpark(spark);
  return el;
}

function visible(signal) {
  return signal.strength >= minStrength && !(hideRisky && isRisky(signal));
}

function render(items, { prepend = false } = {}) {
  const fresh = items.filter((sig) => !seen.has(sig.id));
  for (const sig of fresh) seen.add(sig.id);
  const cards = fresh.filter(visible).map(card);
  if (prepend) list.prepend(...cards);
  else list.append(...cards);
  if (!list.querySelector('.card')) list.replaceChildren(h('p', { class: 'muted loading' }, t('no_signals')));
  else list.querySelector('.loading')?.remove();
}

async function loadPage(reset = false) {
  if (reset) {
    cursor = null;
    seen.clear();
  }
  list.setAttribute('aria-busy', 'true');
  try {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE), min_score: String(minStrength) });
    if (cursor) q.set('cursor', cursor);
    const page = await api(`/signals?${q}`);
    if (reset) list.replaceChildren();
    render(page.items || []);
    cursor = page.next_cursor;
    more.hidden = !cursor;
  } catch (err) {
    banner(errorText(err));
    if (reset) list.replaceChildren(h('p', { class: 'muted loading' }, t('could_not_load')));
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

async function refresh() {
  if (document.hidden) return;
  try {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE), min_score: String(minStrength) });
    const page = await api(`/signals?${q}`);
    render(page.items || [], { prepend: true });
  } catch {
    // the next tick tries again; the banner is for the first load
  }
}

function pressOnly(group, button) {
  for (const b of group.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b === button));
}

function followStartParam() {
  // Telegram may give start_param only through initDataUnsafe (not in the URL): route it once.
  const start = startParam();
  if (!start || sessionStorage.getItem('solai.start') === start) return false;
  sessionStorage.setItem('solai.start', start);
  let m = /^(buy|sell)_([1-9A-HJ-NP-Za-km-z]{32,44})_(\d{1,19})$/.exec(start);
  if (m) {
    const amount = m[1] === 'buy' ? { lamports: m[3] } : { bps: m[3] };
    location.assign(appUrl('/app/trade', { mint: m[2], side: m[1], ...amount }));
    return true;
  }
  m = /^token_([1-9A-HJ-NP-Za-km-z]{32,44})$/.exec(start);
  if (m) {
    location.assign(appUrl(`/app/token/${m[1]}`));
    return true;
  }
  m = /^order_(\d{1,18})$/.exec(start);
  if (m) {
    location.assign(appUrl(`/app/order/${m[1]}`));
    return true;
  }
  return false;
}

boot();
if (!followStartParam()) {
  const group = document.getElementById('min-strength');
  group.addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-min]');
    if (!b) return;
    pressOnly(group, b);
    minStrength = Number(b.dataset.min);
    loadPage(true);
  });
  document.getElementById('hide-risky').addEventListener('change', (ev) => {
    hideRisky = ev.target.checked;
    loadPage(true);
  });
  more.addEventListener('click', () => loadPage(false));
  whoAmI();
  loadPage(true);
  setInterval(refresh, REFRESH_MS);
}
