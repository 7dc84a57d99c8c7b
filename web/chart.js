'use strict';
// Canvas line charts of bucketed series (docs/panel.md, "Metric series"). Each series arrives as at
// most one bucket per pixel column, each with min, max and last: the chart fills the min-max band
// and draws the line through the last values, so a spike or a NaN is always visible however many
// points were logged. Drag to zoom (the server is asked again for the new range, at full detail),
// double-click to zoom out.

class Chart {
  // opts.title, opts.load({from, to, points}) -> [{label, colour, data}] (data: /metrics answer)
  constructor(opts) {
    this.opts = opts;
    this.range = null;  // [from, to] when zoomed
    this.series = [];
    this.canvas = el('canvas', {role: 'img', 'aria-label': opts.title});
    this.note = el('span', {class: 'note'});
    this.legend = el('div', {class: 'legend'});
    this.root = el('div', {class: 'chart'}, el('div', {class: 'title'}, el('span', {}, opts.title), this.note),
      this.canvas, this.legend);
    this.tip = null;
    this.drag = null;
    this.canvas.addEventListener('mousedown', (e) => { this.drag = {x0: e.offsetX, x1: e.offsetX}; });
    this.canvas.addEventListener('mousemove', (e) => this.onMove(e));
    this.canvas.addEventListener('mouseleave', () => this.hideTip());
    this.canvas.addEventListener('mouseup', (e) => this.onUp(e));
    this.canvas.addEventListener('dblclick', () => { this.range = null; this.refresh(); });
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.canvas);
  }

  async refresh() {
    const width = Math.max(100, Math.round(this.canvas.clientWidth || 600));
    const params = {points: width};
    if (this.range) { params.from = this.range[0]; params.to = this.range[1]; }
    try {
      this.series = await this.opts.load(params);
      this.error = null;
    } catch (e) {
      this.series = [];
      this.error = e.message;
    }
    this.draw();
  }

  bounds() {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const s of this.series)
      for (const b of s.data.buckets) {
        x0 = Math.min(x0, b[0]); x1 = Math.max(x1, b[1]);
        if (b[2] !== null) { y0 = Math.min(y0, b[2]); y1 = Math.max(y1, b[3]); }
      }
    if (this.range) { x0 = this.range[0]; x1 = this.range[1]; }
    if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
    if (!(y1 > y0)) { const c = Number.isFinite(y0) ? y0 : 0; y0 = c - 1; y1 = c + 1; }
    const pad = (y1 - y0) * 0.06;
    return {x0, x1, y0: y0 - pad, y1: y1 + pad};
  }

  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 600, h = c.clientHeight || 220;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const L = 54, R = 10, T = 8, B = 22;
    this.frame = {L, R, T, B, w, h};
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#66707c';
    const raw = this.series.reduce((a, s) => a + s.data.raw_points, 0);
    if (this.error || raw === 0) {
      g.fillText(this.error ? 'could not load: ' + this.error : 'no points logged', L, h / 2);
      this.note.textContent = '';
      this.renderLegend();
      return;
    }
    const b = this.bounds();
    this.b = b;
    const X = (x) => L + (x - b.x0) / (b.x1 - b.x0) * (w - L - R);
    const Y = (y) => T + (1 - (y - b.y0) / (b.y1 - b.y0)) * (h - T - B);
    // Grid and ticks.
    g.strokeStyle = '#edf0f3'; g.lineWidth = 1;
    for (const t of niceTicks(b.y0, b.y1, 5)) {
      g.beginPath(); g.moveTo(L, Y(t)); g.lineTo(w - R, Y(t)); g.stroke();
      g.fillText(fmtNum(t), 4, Y(t) + 4);
    }
    for (const t of niceTicks(b.x0, b.x1, 6)) {
      g.fillText(fmtNum(t), X(t) - 8, h - 6);
    }
    g.save();
    g.beginPath(); g.rect(L, T, w - L - R, h - T - B); g.clip();
    for (const s of this.series) {
      const rows = s.data.buckets;
      // The min-max band of merged buckets.
      if (rows.some((r) => r[5] > 1)) {
        g.fillStyle = s.colour; g.globalAlpha = 0.25;
        g.beginPath();
        let started = false;
        for (const r of rows) if (r[3] !== null) { const x = X((r[0] + r[1]) / 2); started ? g.lineTo(x, Y(r[3])) : g.moveTo(x, Y(r[3])); started = true; }
        for (let i = rows.length - 1; i >= 0; i--) { const r = rows[i]; if (r[2] !== null) g.lineTo(X((r[0] + r[1]) / 2), Y(r[2])); }
        g.closePath(); g.fill();
        g.globalAlpha = 1;
      }
      g.strokeStyle = s.colour; g.lineWidth = 1.6;
      g.beginPath();
      let pen = false;
      for (const r of rows) {
        if (r[4] === null) { pen = false; continue; }
        const x = X(r[1]), y = Y(r[4]);
        pen ? g.lineTo(x, y) : g.moveTo(x, y);
        pen = true;
      }
      g.stroke();
      // A point with no neighbour on the line (a single logged value) gets a dot, or it would not show.
      g.fillStyle = s.colour;
      rows.forEach((r, i) => {
        const alone = r[4] !== null && (i === 0 || rows[i - 1][4] === null) && (i === rows.length - 1 || rows[i + 1][4] === null);
        if (alone) { g.beginPath(); g.arc(X(r[1]), Y(r[4]), 3, 0, 2 * Math.PI); g.fill(); }
      });
      // NaN/inf values: red marks on the axis, never hidden by the bucketing.
      g.fillStyle = '#c0392b';
      for (const r of rows) if (r[6] > 0) g.fillRect(X(r[0]) - 1, h - B - 6, 3, 6);
    }
    g.restore();
    if (this.drag) {
      g.fillStyle = 'rgba(47,111,178,.12)';
      g.fillRect(Math.min(this.drag.x0, this.drag.x1), T, Math.abs(this.drag.x1 - this.drag.x0), h - T - B);
    }
    const shown = this.series.reduce((a, s) => a + s.data.buckets.length, 0);
    const inRange = this.series.reduce((a, s) => a + s.data.points_in_range, 0);
    this.note.textContent = (inRange > shown ? `${inRange} of ${raw} points in ${shown} buckets (min, max, last kept)`
      : `${inRange} of ${raw} points`) + (this.range ? ' · zoomed, double-click to reset' : '');
    this.renderLegend();
  }

  renderLegend() {
    clear(this.legend);
    if (this.series.length < 2 && !this.opts.alwaysLegend) return;
    for (const s of this.series) {
      const i = el('i'); i.style.background = s.colour;
      this.legend.append(el('span', {}, i, s.label));
    }
  }

  toData(px) {
    const f = this.frame, b = this.b;
    return b.x0 + (px - f.L) / (f.w - f.L - f.R) * (b.x1 - b.x0);
  }

  onMove(e) {
    if (this.drag) { this.drag.x1 = e.offsetX; this.draw(); return; }
    if (!this.b) return;
    const x = this.toData(e.offsetX);
    const lines = [];
    for (const s of this.series) {
      let best = null;
      for (const r of s.data.buckets) if (!best || Math.abs((r[0] + r[1]) / 2 - x) < Math.abs((best[0] + best[1]) / 2 - x)) best = r;
      if (!best) continue;
      const span = best[0] === best[1] ? `step ${fmtNum(best[0])}` : `steps ${fmtNum(best[0])}–${fmtNum(best[1])}`;
      const vals = best[5] > 1 ? `last ${fmtNum(best[4])} (min ${fmtNum(best[2])}, max ${fmtNum(best[3])}, ${best[5]} pts)` : fmtNum(best[4]);
      lines.push(`${this.series.length > 1 ? s.label + ': ' : ''}${span}: ${vals}${best[6] ? `, ${best[6]} NaN` : ''}`);
    }
    if (!lines.length) return;
    if (!this.tip) { this.tip = el('div', {class: 'tip'}); document.body.append(this.tip); }
    this.tip.textContent = lines.slice(0, 12).join('\n');
    this.tip.style.left = (e.clientX + 14) + 'px';
    this.tip.style.top = (e.clientY + 10) + 'px';
  }

  hideTip() { if (this.tip) { this.tip.remove(); this.tip = null; } }

  onUp(e) {
    const d = this.drag;
    this.drag = null;
    if (!d || Math.abs(e.offsetX - d.x0) < 5 || !this.b) { this.draw(); return; }
    const a = this.toData(Math.min(d.x0, e.offsetX)), b = this.toData(Math.max(d.x0, e.offsetX));
    this.range = [a, b];
    this.refresh();
  }

  dispose() { this.resizeObserver.disconnect(); this.hideTip(); }
}

function niceTicks(lo, hi, target) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / target, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= target) || 10 * mag;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}
