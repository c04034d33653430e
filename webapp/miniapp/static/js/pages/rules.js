// The user's effective rules with an on/off switch each (PATCH /rules/{name}).

import { $, api, banner, boot, errorText, h, t, whoAmI } from '../core.js';

function summary(params) {
  return Object.entries(params || {})
    .filter(([k]) => k !== 'enabled')
    .map(([k, v]) => `${k.replaceAll('_', ' ')}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' · ');
}

function ruleRow(rule) {
  const input = h('input', { type: 'checkbox', role: 'switch', 'aria-label': rule.title || rule.name });
  input.checked = rule.enabled;
  input.addEventListener('change', async () => {
    input.disabled = true;
    try {
      const saved = await api(`/rules/${encodeURIComponent(rule.name)}`, { method: 'PATCH', body: { enabled: input.checked } });
      input.checked = saved.enabled;
      banner(null);
    } catch (err) {
      input.checked = !input.checked;
      banner(errorText(err));
    } finally {
      input.disabled = false;
    }
  });
  return h(
    'div',
    { class: 'rule', dataset: { name: rule.name } },
    h(
      'div',
      {},
      h('div', {}, rule.title || rule.name),
      h('div', { class: 'meta' }, [t(`role_${rule.role}`) === `role_${rule.role}` ? rule.role : t(`role_${rule.role}`), t(`origin_${rule.origin}`), rule.kind].join(' · ')),
      summary(rule.params) ? h('div', { class: 'meta' }, summary(rule.params)) : null,
    ),
    h('label', { class: 'switch' }, input, h('span', {})),
  );
}

async function main() {
  boot();
  const box = $('#rules');
  const me = await whoAmI();
  if (!me) {
    box.replaceChildren(h('p', { class: 'muted' }, t('err_need_telegram')));
    return;
  }
  try {
    const data = await api('/rules');
    const rules = Array.isArray(data) ? data : data.items || [];
    box.replaceChildren(...rules.map(ruleRow));
  } catch (err) {
    banner(errorText(err));
    box.replaceChildren();
  } finally {
    box.setAttribute('aria-busy', 'false');
  }
}

main();
