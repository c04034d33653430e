// Shared by every Mini App page: config and strings from the page, safe DOM building, the API
// client, number formatting and the Telegram WebApp bridge.
//
// Everything the API returns about a token (name, symbol, narrative) is attacker-controlled:
// it only ever reaches the page through textContent / setAttribute via h(), never innerHTML.

function readJson(id) {
  const el = document.getElementById(id);
  if (!el) return {};
  try {
    return JSON.parse(el.textContent || '{}');
  } catch {
    return {};
  }
}

export const config = readJson('solai-config');
const strings = readJson('solai-strings');

/** A UI string in the page language, with %(name)s placeholders filled. */
export function t(key, params = {}) {
  const text = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
  // Python-style placeholders, as in the .po files: %(name)s, and %% for a percent sign.
  return text.replace(/%\((\w+)\)s|%%/g, (m, name) => {
    if (m === '%%') return '%';
    return Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m;
  });
}

// -- DOM ---------------------------------------------------------------------------------------

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Only same-site paths and http(s) URLs become links: no javascript:, data: or blob:. */
export function safeHref(value) {
  const s = String(value ?? '');
  if (s.startsWith('/') && !s.startsWith('//')) return s;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : '#';
  } catch {
    return '#';
  }
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'href') el.setAttribute('href', safeHref(v));
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c)); // a string becomes a text node
  }
  return el;
}

/** An HTML element: h('a', {href, class}, 'text', child, …). Text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element (charts). */
export function s(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Replace an element's children, skipping null/false (DOM methods would print "null"). */
export function put(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** A link inside the Mini App that keeps the page language. */
export function appUrl(path, params = {}) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') u.searchParams.set(k, String(v));
  }
  if (config.lang) u.searchParams.set('lang', config.lang);
  return u.pathname + u.search;
}

// -- formatting --------------------------------------------------------------------------------

export const LAMPORTS_PER_SOL = 1_000_000_000;
const locale = () => (config.lang === 'fr' ? 'fr-FR' : 'en-US');

export function fmtNumber(value, digits = 2) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '–';
  return Number(value).toLocaleString(locale(), { maximumFractionDigits: digits });
}

/** Lamports as "1.23 SOL" (compact above 10k SOL). */
export function fmtSol(lamports, digits = 3) {
  if (lamports === null || lamports === undefined) return '–';
  const sol = Number(lamports) / LAMPORTS_PER_SOL;
  const opts =
    Math.abs(sol) >= 10_000
      ? { notation: 'compact', maximumFractionDigits: 1 }
      : { maximumFractionDigits: Math.abs(sol) < 1 ? Math.max(digits, 4) : digits };
  return `${sol.toLocaleString(locale(), opts)} SOL`;
}

/** Raw token units as a decimal amount (exact enough for display). */
export function fmtTokens(raw, decimals) {
  if (raw === null || raw === undefined) return '–';
  const value = Number(raw) / 10 ** (decimals ?? 0);
  return value.toLocaleString(locale(), { notation: value >= 1e6 ? 'compact' : 'standard', maximumFractionDigits: 2 });
}

const SUBSCRIPT = '₀₁₂₃₄₅₆₇₈₉';

/** A tiny price (SOL per whole token) with enough significant digits to compare; runs of
 * zeros are written as a subscript count, as trading UIs do: 0.000000031 → 0.0₇31. */
export function fmtPrice(solPerToken) {
  const v = Number(solPerToken);
  if (solPerToken === null || solPerToken === undefined || !Number.isFinite(v)) return '–';
  if (v === 0 || Math.abs(v) >= 0.001) return v.toLocaleString(locale(), { maximumSignificantDigits: 4 });
  const zeros = Math.ceil(-Math.log10(Math.abs(v))) - 1; // zeros between the point and the digits
  const digits = Math.round(Math.abs(v) * 10 ** (zeros + 4)).toString().replace(/0+$/, '') || '0';
  const point = config.lang === 'fr' ? ',' : '.';
  const sub = String(zeros).split('').map((d) => SUBSCRIPT[Number(d)]).join('');
  return `${v < 0 ? '-' : ''}0${point}0${sub}${digits}`;
}

export function shortAddr(address) {
  const a = String(address || '');
  return a.length > 12 ? `${a.slice(0, 4)}…${a.slice(-4)}` : a;
}

export function timeAgo(ts, now = Date.now()) {
  const sec = Math.max(0, Math.round((now - Number(ts)) / 1000));
  if (sec < 60) return t('ago_s', { n: sec });
  if (sec < 3600) return t('ago_m', { n: Math.floor(sec / 60) });
  if (sec < 86400) return t('ago_h', { n: Math.floor(sec / 3600) });
  return t('ago_d', { n: Math.floor(sec / 86400) });
}

/** CSS class of a Strength value: the badge colour steps at 1.0, 1.5 and 2.0. */
export function strengthClass(strength) {
  if (strength >= 2) return 'str str-hot';
  if (strength >= 1.5) return 'str str-strong';
  if (strength >= 1) return 'str str-mid';
  return 'str str-low';
}

export function riskClass(level) {
  const known = ['low', 'medium', 'high', 'critical'];
  return `risk risk-${known.includes(level) ? level : 'unknown'}`;
}

/** A risk badge code in words: translated when known, the code itself otherwise. */
export function badgeLabel(badge) {
  const tax = /^tax_([\d.]+)pct$/.exec(badge);
  if (tax) return t('badge_tax', { percent: tax[1] });
  const key = `badge_${badge}`;
  const label = t(key);
  return label === key ? String(badge).replaceAll('_', ' ') : label;
}

/** Risk level + badges as chips; badge codes are translated when we know them. */
export function riskChips(risk) {
  if (!risk) return [];
  const level = risk.known ? risk.level : 'unknown';
  const chips = [h('span', { class: riskClass(level) }, t(`risk_${level}`) || level)];
  for (const badge of risk.badges || []) {
    chips.push(h('span', { class: 'chip' }, badgeLabel(badge)));
  }
  return chips;
}

// -- Telegram ----------------------------------------------------------------------------------

/** The Telegram WebApp object, or null in a plain browser (the script may be absent). */
export const tg = window.Telegram?.WebApp ?? null;

const THEME_VARS = {
  bg_color: '--bg',
  secondary_bg_color: '--bg2',
  section_bg_color: '--card',
  text_color: '--text',
  hint_color: '--hint',
  subtitle_text_color: '--hint',
  link_color: '--link',
  accent_text_color: '--accent',
  button_color: '--button',
  button_text_color: '--button-text',
  destructive_text_color: '--danger',
  section_separator_color: '--sep',
};

/** Telegram's theme parameters become our CSS variables; without Telegram the dark default stays. */
export function applyTheme() {
  const params = tg?.themeParams || {};
  const root = document.documentElement;
  for (const [key, cssVar] of Object.entries(THEME_VARS)) {
    const v = params[key];
    if (typeof v === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(v)) root.style.setProperty(cssVar, v);
  }
  if (tg?.colorScheme === 'light' || tg?.colorScheme === 'dark') root.dataset.scheme = tg.colorScheme;
}

function hashParam(name) {
  const hash = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  return new URLSearchParams(hash).get(name);
}

const INIT_KEY = 'solai.initData';

/** The signed initData: from Telegram, else a #tgWebAppData= fragment (a page opened outside
 * Telegram by the Mini App), else what this tab saw before. Empty when anonymous. */
export function initData() {
  const fromTg = tg?.initData || hashParam('tgWebAppData') || '';
  try {
    if (fromTg) sessionStorage.setItem(INIT_KEY, fromTg);
    return fromTg || sessionStorage.getItem(INIT_KEY) || '';
  } catch {
    return fromTg;
  }
}

/** Telegram's start_param (``startapp`` of a t.me link), if the app was opened with one. */
export function startParam() {
  return (
    tg?.initDataUnsafe?.start_param ||
    new URLSearchParams(location.search).get('tgWebAppStartParam') ||
    hashParam('tgWebAppStartParam') ||
    ''
  );
}

/** Open an external link (Phantom): Telegram must hand it to the OS, a browser just goes. */
export function openExternal(url) {
  if (tg?.openLink) {
    try {
      tg.openLink(url);
      return;
    } catch {
      // an old client without openLink: fall through to a plain navigation
    }
  }
  location.href = url;
}

export function haptic(kind) {
  try {
    tg?.HapticFeedback?.notificationOccurred?.(kind);
  } catch {
    // haptics are decoration
  }
}

// -- API ---------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

/** Call the API with the Telegram initData as ``Authorization: tma …``; errors become ApiError
 * carrying the API's {error: {code, message}, request_id}. */
export async function api(path, { method = 'GET', body, idempotencyKey, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const auth = initData();
  if (auth) headers.Authorization = `tma ${auth}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let res;
  try {
    res = await fetch((config.apiBase || '') + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'omit',
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', t('err_network'), null);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const e = data?.error || {};
    throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, data?.request_id ?? null);
  }
  return data;
}

/** A user-facing sentence for an API error (auth problems get a translated explanation). */
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return t('err_auth', { reason: err.message });
    if (err.status === 429) return t('err_rate_limited');
    const ref = err.requestId ? ` (${t('request_id')}: ${err.requestId})` : '';
    return `${err.message}${ref}`;
  }
  return String(err?.message || err);
}

// -- page chrome -------------------------------------------------------------------------------

/** Show (or clear, with null) the page's error banner. */
export function banner(message, kind = 'error') {
  const el = document.getElementById('banner');
  if (!el) return;
  el.textContent = message || '';
  el.dataset.kind = kind;
  el.hidden = !message;
}

/** The authenticated user (GET /me), or null when anonymous; a refused initData shows the
 * reason in the banner, so a tampered or expired session is never silently anonymous. */
export async function whoAmI() {
  if (!initData()) return null;
  try {
    return await api('/me');
  } catch (err) {
    banner(errorText(err));
    return null;
  }
}

/** Common start of every page: theme, Telegram ready/expand, back button, language. */
export function boot({ back = false } = {}) {
  applyTheme();
  document.documentElement.dataset.telegram = tg ? 'yes' : 'no';
  if (!tg) return;
  try {
    tg.ready?.();
    tg.expand?.();
    tg.onEvent?.('themeChanged', applyTheme);
    if (back && tg.BackButton) {
      tg.BackButton.show();
      tg.BackButton.onClick(() => (history.length > 1 ? history.back() : location.assign(appUrl('/app'))));
    } else {
      tg.BackButton?.hide?.();
    }
  } catch {
    // a partial WebApp object (old client): the page works without these niceties
  }
  // Telegram knows the user's language; follow it unless the URL chose one.
  const wanted = tg.initDataUnsafe?.user?.language_code?.slice(0, 2);
  const params = new URLSearchParams(location.search);
  if (!params.has('lang') && wanted && (config.languages || []).includes(wanted) && wanted !== config.lang) {
    params.set('lang', wanted);
    location.replace(`${location.pathname}?${params}${location.hash}`);
  }
}

/** A UUID v4 (the Idempotency-Key of one order). */
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
