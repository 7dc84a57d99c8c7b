'use strict';
// One run: what it was (params, command, code, versions), how it went (metric charts that zoom by
// asking the server again, resources and the baseline-vs-optimised comparison from its monitor
// result, its pipeline plan), its notes and logs, and what can be done to it (tag, delete, rerun).

class RunView {
  constructor(root, id) {
    this.root = root;
    this.id = id;
    this.charts = [];
    this.load();
  }

  async load() {
    let run;
    try {
      run = await Api.get('/api/runs/' + encodeURIComponent(this.id));
    } catch (e) {
      clear(this.root).append(notice('error', e.message));
      return;
    }
    this.run = run;
    this.dispose();
    this.charts = [];
    const stale = run.heartbeat && run.heartbeat.stale;
    const header = el('div', {class: 'card'},
      el('h1', {}, `${run.name} / `, el('span', {class: 'mono'}, run.test_name), ' ', badge(run.status),
        stale ? badge('stale', 'stale') : null),
      el('dl', {class: 'kv'},
        el('dt', {}, 'started'), el('dd', {}, fmtTime(run.started_at)),
        el('dt', {}, 'duration'), el('dd', {}, fmtDuration(run.duration)),
        el('dt', {}, 'host'), el('dd', {}, run.host || '—'),
        el('dt', {}, 'command'), el('dd', {}, run.lastcmd || (run.argv || []).join(' ')),
        el('dt', {}, 'code'), el('dd', {}, run.git && run.git.present
          ? `${(run.git.commit || '').slice(0, 12)}${run.git.dirty ? ' (uncommitted changes included)' : ''} on ${run.git.branch || '?'}`
          : 'no snapshot'),
        el('dt', {}, 'heartbeat'), el('dd', {}, run.heartbeat ? fmtTime(run.heartbeat.beat_at) + (stale ? ' — missed beats: the process may be gone' : '') : '—'),
        run.exception ? [el('dt', {}, 'exception'), el('dd', {}, `${run.exception.type || ''}: ${run.exception.message || ''}`)] : null),
      this.tagBar(run), this.actionBar(run));
    const params = el('div', {class: 'card'}, el('h2', {}, 'Params'), this.valueTable(run.values, 'param'));
    const metrics = el('div', {class: 'card'}, el('h2', {}, 'Metrics (best and last)'), this.metricTable(run));
    this.chartBox = el('div', {class: 'charts'});
    this.extra = el('div');
    clear(this.root).append(header, el('div', {class: 'cols2'}, params, metrics),
      el('h2', {}, 'Series'), this.chartBox, this.extra);
    this.buildCharts(run);
    this.loadArtifacts(run);
  }

  tagBar(run) {
    const input = el('input', {type: 'text', placeholder: 'new tag', 'aria-label': 'new tag'});
    const add = async () => {
      if (!input.value.trim()) return;
      await this.act('tag', {tag: input.value.trim()});
    };
    input.addEventListener('keydown', (e) => { if (e.key === 'Enter') add(); });
    return el('div', {class: 'bar'}, el('span', {class: 'muted small'}, 'tags'),
      (run.tags || []).map((t) => el('span', {class: 'tag'}, t,
        el('button', {title: 'remove tag', onclick: () => this.act('tag', {tag: t, remove: true})}, '×'))),
      input, el('button', {onclick: add}, 'Add tag'));
  }

  actionBar(run) {
    const bar = el('div', {class: 'bar'});
    if (run.artifacts && run.artifacts.dag) bar.append(el('a', {href: '#/dag/' + encodeURIComponent(run.test_name)}, 'Pipeline DAG'));
    bar.append(el('button', {onclick: () => { const other = prompt('Diff against which run id?'); if (other) go('diff', {a: run.test_name, b: other}); }}, 'Diff with…'));
    bar.append(el('button', {onclick: () => {
      if (confirm(`Re-run ${run.test_name} with its recorded command?`)) this.act('rerun', {});
    }}, 'Rerun'));
    bar.append(run.deleted
      ? el('button', {onclick: () => this.act('rm', {undo: true})}, 'Undelete')
      : el('button', {class: 'danger', onclick: () => { if (confirm(`Mark ${run.test_name} deleted?`)) this.act('rm', {}); }}, 'Delete'));
    return bar;
  }

  async act(what, body) {
    try {
      const r = await Api.post(`/api/runs/${encodeURIComponent(this.id)}/${what}`, body);
      toast(what === 'rerun' ? `rerun started (pid ${r.pid}); its output: ${r.log}` : (r.output || 'done').trim());
      this.load();
    } catch (e) {
      toast('✗ ' + e.message);
    }
  }

  valueTable(values, kind) {
    const rows = Object.entries(values || {}).filter(([k]) => kind !== 'param' || !/^(best|last)\./.test(k));
    if (!rows.length) return el('div', {class: 'muted'}, 'none recorded');
    return el('table', {class: 'grid'}, el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('td', {class: 'mono'}, k),
      el('td', {class: typeof v === 'number' ? 'num' : 'mono'}, fmtValue(v))))));
  }

  metricTable(run) {
    const keys = new Set([...Object.keys(run.metrics || {}), ...Object.keys(run.last || {})]);
    if (!keys.size) return el('div', {class: 'muted'}, 'none recorded');
    const rows = [...keys].sort().map((k) => {
      const best = (run.metrics || {})[k], last = (run.last || {})[k];
      return el('tr', {}, el('td', {class: 'mono'}, k),
        el('td', {class: 'num'}, best ? fmtNum(best.value) + (best.cmp ? ` (${best.cmp})` : '') : '—'),
        el('td', {class: 'num'}, last ? fmtNum(last.value) + (last.step !== undefined ? ` @${last.step}` : '') : '—'));
    });
    return el('table', {class: 'grid'}, el('thead', {}, el('tr', {}, el('th', {class: 'nosort'}, 'key'),
      el('th', {class: 'nosort'}, 'best'), el('th', {class: 'nosort'}, 'last'))), el('tbody', {}, rows));
  }

  buildCharts(run) {
    const keys = (run.metric_series && run.metric_series.keys) || [];
    if (!keys.length) { this.chartBox.append(el('div', {class: 'muted'}, 'no series logged (log_metric)')); return; }
    for (const k of keys) {
      const chart = new Chart({
        title: k.key,
        load: async (p) => {
          const data = await Api.get(`/api/runs/${encodeURIComponent(run.test_name)}/metrics/${encodeURIComponent(k.key)}`, p);
          return [{label: k.key, colour: colour(0), data}];
        },
      });
      this.charts.push(chart);
      this.chartBox.append(chart.root);
      chart.refresh();
    }
  }

  async loadArtifacts(run) {
    const a = run.artifacts || {};
    if (a.dag) {
      try {
        const d = await Api.get(`/api/runs/${encodeURIComponent(run.test_name)}/dag`);
        if (d.present) this.extra.append(el('h2', {}, 'Pipeline'), dagSummaryCards(d),
          el('a', {href: '#/dag/' + encodeURIComponent(run.test_name)}, 'Open the DAG with its placement →'));
      } catch (e) { this.extra.append(notice('error', 'pipeline: ' + e.message)); }
    }
    if (a.monitor_result) {
      try {
        this.extra.append(el('h2', {}, 'Resources'), await this.resources(run));
      } catch (e) { this.extra.append(notice('error', 'resources: ' + e.message)); }
    }
    try {
      const logs = await Api.get(`/api/runs/${encodeURIComponent(run.test_name)}/logs`);
      const box = el('div');
      if (logs.exception && logs.exception.traceback) box.append(el('h3', {}, 'Exception'), el('pre', {class: 'code'}, logs.exception.traceback));
      if (logs.notes.length) box.append(el('h3', {}, 'Notes'), el('ul', {}, logs.notes.map((n) => el('li', {}, typeof n === 'string' ? n : `${fmtTime(n.at || n.t)} ${n.text || n.note || JSON.stringify(n)}`))));
      for (const f of logs.files) box.append(el('h3', {}, `${f.kind}${f.truncated ? ' (last 64 KiB)' : ''}`), f.error ? notice('error', f.error) : el('pre', {class: 'code'}, f.tail));
      if (box.childNodes.length) this.extra.append(el('h2', {}, 'Logs and notes'), box);
    } catch (e) { this.extra.append(notice('error', 'logs: ' + e.message)); }
  }

  async resources(run) {
    const r = await Api.get(`/api/runs/${encodeURIComponent(run.test_name)}/resources`);
    const box = el('div');
    if (r.comparison && r.comparison.candidate) {
      const c = r.comparison;
      box.append(el('h3', {}, `${c.candidate} against ${c.baseline}`),
        el('table', {class: 'grid', id: 'comparison'}, el('thead', {}, el('tr', {}, el('th', {class: 'nosort'}, 'metric'),
          r.modes.map((m) => el('th', {class: 'nosort'}, m.name)), el('th', {class: 'nosort'}, 'change'))),
        el('tbody', {}, c.rows.map((row) => el('tr', {}, el('td', {}, row.metric), row.values.map((v) => el('td', {class: 'num'}, v)),
          el('td', {class: 'num delta ' + (row.better > 0 ? 'up' : row.better < 0 ? 'down' : '')}, row.change))))));
    }
    const charts = el('div', {class: 'charts'});
    const names = [...new Set(r.modes.flatMap((m) => m.series.filter((s) => s.raw_points).map((s) => s.key)))];
    for (const key of names) {
      const chart = new Chart({
        title: key.replace(/_/g, ' '), alwaysLegend: true,
        load: async () => r.modes.map((m, i) => ({label: m.name, colour: colour(i), data: m.series.find((s) => s.key === key) || {buckets: [], raw_points: 0, points_in_range: 0}})),
      });
      this.charts.push(chart);
      charts.append(chart.root);
      chart.refresh();
    }
    box.append(charts);
    return box;
  }

  onEvents(events) {
    const mine = events.filter((e) => e.test_name === this.run?.test_name);
    if (!mine.length) return;
    if (mine.some((e) => e.type === 'run')) { this.scheduleReload(); return; }
    if (mine.some((e) => e.type === 'metrics' && Object.keys(e.keys).some((k) => !this.charts.some((c) => c.opts.title === k)))) { this.scheduleReload(); return; }
    if (mine.some((e) => e.type === 'metrics')) for (const c of this.charts) if (!c.range) c.refresh();
  }

  scheduleReload() {
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.load(); }, 1500);
  }

  dispose() { for (const c of this.charts) c.dispose(); clearTimeout(this.pending); this.pending = null; }
}

function dagSummaryCards(d) {
  const cards = el('div', {class: 'cards'});
  const stat = (label, value, cls) => el('div', {class: 'stat'}, el('div', {class: 'v ' + (cls || '')}, value), el('div', {class: 'l'}, label));
  cards.append(stat('contexts', String(d.nodes.length)), stat('data edges', String(d.data_edges)));
  for (const [e, n] of Object.entries(d.executors)) cards.append(stat('on ' + e, String(n)));
  if (d.plan) cards.append(stat('predicted speedup', fmtNum(d.plan.predicted_speedup) + '×'));
  const c = d.closed_loop;
  if (c) {
    if (c.measured_speedup !== undefined && c.measured_speedup !== null)
      cards.append(stat('measured speedup', fmtNum(c.measured_speedup) + '×', c.measured_speedup > 1 ? 'good' : 'bad'));
    if (c.baseline_batches_per_s) cards.append(stat('baseline → optimised batches/s', `${fmtNum(c.baseline_batches_per_s)} → ${fmtNum(c.migrated_batches_per_s)}`));
    if (c.kept !== undefined) cards.append(stat('plan', c.kept ? 'kept' : 'not kept', c.kept ? 'good' : 'bad'));
  }
  return cards;
}
