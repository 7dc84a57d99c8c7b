'use strict';
// Up to 50 runs' series of one key overlaid on one chart (one request for all of them; each series
// bucketed to the chart's width on the server).

class CompareView {
  constructor(root, params) {
    this.root = root;
    this.runs = (params.get('runs') || '').split(',').filter(Boolean);
    this.key = params.get('key') || '';
    this.chart = null;
    this.load();
  }

  async load() {
    if (!this.runs.length) {
      clear(this.root).append(el('h1', {}, 'Compare runs'),
        notice('info', 'Select runs in the table (up to 50) and press Compare, or open #/compare?runs=ID,ID&key=loss.'));
      return;
    }
    // The keys the first runs logged (a run without the chosen key just shows no line).
    const keys = new Set();
    for (const id of this.runs.slice(0, 10)) {
      try {
        const m = await Api.get(`/api/runs/${encodeURIComponent(id)}/metrics`);
        for (const k of m.keys) keys.add(k.key);
      } catch (e) {
        clear(this.root).append(notice('error', e.message));
        return;
      }
    }
    if (!this.key) this.key = [...keys].sort()[0] || '';
    const select = el('select', {'aria-label': 'metric'}, [...keys].sort().map((k) => el('option', {value: k, selected: k === this.key}, k)));
    select.addEventListener('change', () => go('compare', {runs: this.runs.join(','), key: select.value}));
    clear(this.root).append(el('h1', {}, `Compare ${this.runs.length} run${this.runs.length > 1 ? 's' : ''}`),
      el('div', {class: 'bar'}, el('span', {class: 'muted'}, 'series'), select,
        this.runs.length === 2 ? el('a', {href: '#/diff' + query({a: this.runs[0], b: this.runs[1]})}, 'Diff these two →') : null));
    if (!this.key) { this.root.append(notice('info', 'these runs logged no series (log_metric)')); return; }
    this.chart = new Chart({
      title: this.key, alwaysLegend: true,
      load: async (p) => {
        const r = await Api.get('/api/metrics', Object.assign({runs: this.runs.join(','), key: this.key}, p));
        return r.series.map((s, i) => ({label: `${s.name}/${s.test_name}`, colour: colour(i), data: s}));
      },
    });
    this.chart.canvas.style.height = '380px';
    this.root.append(this.chart.root);
    this.chart.refresh();
  }

  onEvents(events) {
    if (this.chart && !this.chart.range && events.some((e) => e.type === 'metrics' && this.runs.includes(e.test_name))) this.chart.refresh();
  }

  dispose() { if (this.chart) this.chart.dispose(); }
}
