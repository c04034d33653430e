// The watchlist: tracked wallets with balance and monitor count, sortable; add and remove.

import { $, api, banner, boot, errorText, fmtSol, h, shortAddr, t, whoAmI } from '../core.js';

let wallets = [];

/** Sort rows: balance and monitors descending (unknown balances last), names A→Z. */
export function sortWallets(rows, key) {
  const out = [...rows];
  const name = (w) => (w.alias || w.address).toLocaleLowerCase();
  if (key === 'monitors') out.sort((a, b) => b.monitors - a.monitors || name(a).localeCompare(name(b)));
  else if (key === 'alias') out.sort((a, b) => name(a).localeCompare(name(b)));
  else out.sort((a, b) => (b.balance_lamports ?? -1) - (a.balance_lamports ?? -1) || name(a).localeCompare(name(b)));
  return out;
}

function render() {
  const rows = sortWallets(wallets, $('#sort').value);
  $('#wallets tbody').replaceChildren(
    ...rows.map((w) =>
      h(
        'tr',
        { dataset: { address: w.address } },
        h(
          'td',
          {},
          h('div', {}, w.alias || shortAddr(w.address)),
          h('code', { class: 'muted', title: w.address }, shortAddr(w.address)),
          w.tags?.length ? h('div', { class: 'chips' }, w.tags.map((tag) => h('span', { class: 'chip' }, tag))) : null,
        ),
        h('td', { class: 'num' }, w.balance_lamports === null ? '–' : fmtSol(w.balance_lamports, 2)),
        h('td', { class: 'num' }, String(w.monitors)),
        h('td', { class: 'num' }, h('button', { type: 'button', class: 'btn tiny ghost', title: t('remove'), 'aria-label': t('remove'), onclick: () => remove(w.address) }, '✕')),
      ),
    ),
  );
  $('#wallets-empty').hidden = rows.length > 0;
  $('#wallets').hidden = rows.length === 0;
}

async function load() {
  try {
    const data = await api('/wallets');
    wallets = Array.isArray(data) ? data : data.items || [];
    render();
  } catch (err) {
    banner(errorText(err));
  }
}

async function remove(address) {
  try {
    await api(`/wallets/${encodeURIComponent(address)}`, { method: 'DELETE' });
    wallets = wallets.filter((w) => w.address !== address);
    render();
  } catch (err) {
    banner(errorText(err));
  }
}

async function add(ev) {
  ev.preventDefault();
  const form = ev.target;
  const body = {
    address: form.address.value.trim(),
    alias: form.alias.value.trim() || null,
    tags: form.tags.value.split(',').map((x) => x.trim()).filter(Boolean),
  };
  try {
    const w = await api('/wallets', { method: 'POST', body });
    wallets = [...wallets.filter((x) => x.address !== w.address), w];
    form.reset();
    banner(null);
    render();
  } catch (err) {
    banner(errorText(err));
  }
}

async function main() {
  boot();
  $('#sort').addEventListener('change', render);
  $('#add-wallet').addEventListener('submit', add);
  const me = await whoAmI();
  if (!me) {
    $('#wallets-empty').textContent = t('err_need_telegram');
    $('#wallets-empty').hidden = false;
    $('#wallets').hidden = true;
    return;
  }
  await load();
}

main();
