// Small SVG charts: card sparklines and the token page's price / market-cap chart.
//
// Own code rather than a charting library: it ships inside the Python package, needs no build
// step or download, and ~200 lines cover what the Mini App shows (one series, hover read-out).

import { s } from './core.js';

/** Min/max of finite values, widened a little so a flat series is still drawn mid-height. */
export function extent(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (!finite.length) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  return [lo, hi];
}

/** "Nice" tick values between lo and hi (1, 2, 2.5, 5 × 10^k steps). */
export function ticks(lo, hi, count = 4) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function pathOf(xs, ys) {
  let d = '';
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i])) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${xs[i].toFixed(1)},${ys[i].toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** A sparkline of values (oldest first): green when the last value is above the first. */
export function sparkline(values, { width = 120, height = 32, label = '' } = {}) {
  const vals = values.map(Number);
  const [lo, hi] = extent(vals);
  const n = vals.length;
  const xs = vals.map((_, i) => (n > 1 ? (i / (n - 1)) * (width - 2) + 1 : width / 2));
  const ys = vals.map((v) => height - 2 - ((v - lo) / (hi - lo)) * (height - 4));
  const finite = vals.filter(Number.isFinite);
  const up = finite.length < 2 || finite[finite.length - 1] >= finite[0];
  const line = pathOf(xs, ys);
  return s(
    'svg',
    {
      class: `spark ${up ? 'up' : 'down'}`,
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': label,
    },
    finite.length > 1 ? s('path', { class: 'spark-area', d: `${line}L${xs[n - 1].toFixed(1)},${height}L${xs[0].toFixed(1)},${height}Z` }) : null,
    finite.length ? s('path', { class: 'spark-line', d: line }) : null,
  );
}

/**
 * A line chart of points [{ts, value}] into container, with y labels, a time axis and a hover
 * read-out. format(value) labels the y axis; formatTime(ts) labels the x axis and read-out.
 * Returns a function that redraws (used on resize).
 */
export function lineChart(container, points, { format = String, formatTime, height = 220, empty = '' } = {}) {
  const draw = () => {
    const width = Math.max(240, Math.floor(container.clientWidth || 320));
    container.replaceChildren();
    const data = points.filter((p) => Number.isFinite(p.value));
    if (data.length < 2) {
      container.append(s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height }, s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'chart-empty' }, empty)));
      return;
    }
    const [lo, hi] = extent(data.map((p) => p.value));
    const yTicks = ticks(lo, hi, 4).map((v) => [v, format(v)]);
    const padL = 8;
    // y labels on the right, as trading charts do: as wide as the longest (10px font ≈ 6.2px/char).
    const padR = Math.max(36, Math.ceil(Math.max(...yTicks.map(([, l]) => l.length)) * 6.2) + 12);
    const padT = 10;
    const padB = 22;
    const t0 = data[0].ts;
    const t1 = data[data.length - 1].ts;
    const x = (ts) => padL + ((ts - t0) / (t1 - t0 || 1)) * (width - padL - padR);
    const y = (v) => padT + (1 - (v - lo) / (hi - lo)) * (height - padT - padB);
    const xs = data.map((p) => x(p.ts));
    const ys = data.map((p) => y(p.value));
    const up = data[data.length - 1].value >= data[0].value;
    const svg = s('svg', { class: `chart ${up ? 'up' : 'down'}`, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
    for (const [v, label] of yTicks) {
      svg.append(
        s('line', { class: 'grid', x1: padL, x2: width - padR, y1: y(v), y2: y(v) }),
        s('text', { class: 'axis', x: width - padR + 6, y: y(v) + 4 }, label),
      );
    }
    if (formatTime) {
      for (const f of [0, 0.5, 1]) {
        const ts = t0 + (t1 - t0) * f;
        const anchor = f === 0 ? 'start' : f === 1 ? 'end' : 'middle';
        svg.append(s('text', { class: 'axis', x: x(ts), y: height - 6, 'text-anchor': anchor }, formatTime(ts)));
      }
    }
    const line = pathOf(xs, ys);
    const base = height - padB;
    svg.append(
      s('path', { class: 'chart-area', d: `${line}L${xs[xs.length - 1].toFixed(1)},${base}L${xs[0].toFixed(1)},${base}Z` }),
      s('path', { class: 'chart-line', d: line }),
    );
    const cross = s('line', { class: 'cross', y1: padT, y2: base, visibility: 'hidden' });
    const dot = s('circle', { class: 'cross-dot', r: 3.5, visibility: 'hidden' });
    const tip = s('text', { class: 'tip', y: padT + 10, visibility: 'hidden' });
    svg.append(cross, dot, tip);
    const onMove = (ev) => {
      const rect = svg.getBoundingClientRect();
      const px = ((ev.clientX - rect.left) / rect.width) * width;
      let best = 0;
      for (let i = 1; i < xs.length; i++) if (Math.abs(xs[i] - px) < Math.abs(xs[best] - px)) best = i;
      const p = data[best];
      for (const el of [cross, dot, tip]) el.setAttribute('visibility', 'visible');
      cross.setAttribute('x1', xs[best]);
      cross.setAttribute('x2', xs[best]);
      dot.setAttribute('cx', xs[best]);
      dot.setAttribute('cy', ys[best]);
      tip.textContent = formatTime ? `${format(p.value)} · ${formatTime(p.ts)}` : format(p.value);
      const left = xs[best] < width / 2;
      tip.setAttribute('x', left ? xs[best] + 8 : xs[best] - 8);
      tip.setAttribute('text-anchor', left ? 'start' : 'end');
    };
    const onLeave = () => {
      for (const el of [cross, dot, tip]) el.setAttribute('visibility', 'hidden');
    };
    svg.addEventListener('pointermove', onMove);
    svg.addEventListener('pointerdown', onMove);
    svg.addEventListener('pointerleave', onLeave);
    container.append(svg);
  };
  draw();
  return draw;
}
