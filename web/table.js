'use strict';
// The runs table: filtering, sorting and paging happen in the server's SQLite (only the shown page
// travels); by default only the columns that vary under the current filter are shown, the rest are
// summed up in one "same for all" line. Group by a key (e.g. sweep.cell) for mean ± std per group.

const RunFields = [
  ['test_name', 'run', 'id'], ['name', 'experiment', 'name'], ['status', 'status', 'status'],
  ['started_at', 'started', 'started'], ['duration', 'duration', 'duration'], ['tags', 'tags', null],
];

class RunsView {
  constructor(root, params) {
    this.root = root;
    this.state = {
      q: params.get('q') || '', sort: params.get('sort') || '', offset: Number(params.get('offset') || 0),
      limit: Number(params.get('limit') || 50), all: params.get('all') === '1', group: params.get('group') || '',
      deleted: params.get('deleted') === '1',
    };
    this.selected = new Set();
    this.build();
    this.load();
  }

  build() {
    const s = this.state;
    this.filter = el('input', {type: 'search', class: 'filter', value: s.q, 'aria-label': 'filter',
      placeholder: 'filter: params.lr>0.01 status=finished best.acc>=0.9 tag=baseline  (Enter)'});
    this.filter.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.apply({q: this.filter.value, offset: 0}); });
    this.groupInput = el('input', {type: 'text', value: s.group, placeholder: 'group by (sweep.cell)', 'aria-label': 'group by',
      list: 'keys'});
    this.groupInput.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.apply({group: this.groupInput.value, offset: 0}); });
    this.keys = el('datalist', {id: 'keys'});
    const allBox = el('input', {type: 'checkbox', id: 'allcols'});
    allBox.checked = s.all;
    allBox.addEventListener('change', () => this.apply({all: allBox.checked}));
    const delBox = el('input', {type: 'checkbox', id: 'deleted'});
    delBox.checked = s.deleted;
    delBox.addEventListener('change', () => this.apply({deleted: delBox.checked, offset: 0}));
    this.compareBtn = el('button', {onclick: () => go('compare', {runs: [...this.selected].join(',')})}, 'Compare');
    this.diffBtn = el('button', {onclick: () => { const [a, b] = [...this.selected]; go('diff', {a, b}); }}, 'Diff');
    this.count = el('span', {class: 'muted'});
    this.messages = el('div');
    this.same = el('div', {class: 'same'});
    this.table = el('div', {class: 'tablewrap'});
    this.pager = el('div', {class: 'pager'});
    clear(this.root).append(
      el('div', {class: 'bar'}, this.filter, el('button', {class: 'primary', onclick: () => this.apply({q: this.filter.value, offset: 0})}, 'Filter')),
      el('div', {class: 'bar'}, this.count, el('label', {class: 'small'}, allBox, ' all columns'),
        el('label', {class: 'small'}, delBox, ' deleted runs'), this.groupInput, this.keys,
        el('span', {class: 'muted small'}, 'select runs to'), this.compareBtn, this.diffBtn),
      this.messages, this.same, this.table, this.pager);
    this.updateButtons();
    Api.get('/api/keys').then((r) => { for (const k of r.keys) this.keys.append(el('option', {value: k})); }).catch(() => {});
  }

  apply(change) {
    Object.assign(this.state, change);
    const s = this.state;
    go('', {q: s.q, sort: s.sort, offset: s.offset || '', limit: s.limit !== 50 ? s.limit : '', all: s.all ? 1 : '',
      group: s.group, deleted: s.deleted ? 1 : ''});
  }

  async load() {
    const s = this.state;
    const params = {q: s.q, sort: s.sort, offset: s.offset, limit: s.limit, all_columns: s.all ? 1 : '',
      group: s.group, deleted: s.deleted ? 1 : ''};
    let page;
    try {
      page = await Api.get('/api/runs', params);
    } catch (e) {
      clear(this.messages).append(notice('error', e.message));
      clear(this.table);
      return;
    }
    this.page = page;
    clear(this.messages);
    for (const w of page.warnings) this.messages.append(notice('warn', w));
    this.count.textContent = `${page.total} run${page.total === 1 ? '' : 's'}` + (s.q ? ' match' : '');
    clear(this.same);
    const constant = Object.entries(page.constant);
    if (constant.length) {
      this.same.append(el('b', {}, 'same for all: '));
      for (const [k, v] of constant) this.same.append(el('span', {}, `${k}=${fmtValue(v)}`));
    }
    if (page.groups) this.renderGroups(page); else this.renderRuns(page);
    this.renderPager(page.groups ? page.total_groups : page.total);
  }

  sortHeader(label, key) {
    const s = this.state.sort;
    const arrow = s === key ? ' ▲' : s === '-' + key ? ' ▼' : '';
    const th = el('th', {title: key ? 'sort by ' + key : undefined, class: key ? '' : 'nosort'}, label + arrow);
    if (key) th.addEventListener('click', () => this.apply({sort: s === '-' + key ? key : '-' + key, offset: 0}));
    return th;
  }

  renderRuns(page) {
    const head = el('tr', {}, el('th', {class: 'nosort'}, ''));
    for (const [field, label, key] of RunFields) head.append(this.sortHeader(label, key || (field === 'tags' ? null : field)));
    for (const c of page.columns) head.append(this.sortHeader(c.key, c.key));
    const body = el('tbody');
    for (const r of page.runs) {
      const box = el('input', {type: 'checkbox', 'aria-label': 'select ' + r.test_name});
      box.checked = this.selected.has(r.test_name);
      box.addEventListener('change', () => { box.checked ? this.selected.add(r.test_name) : this.selected.delete(r.test_name); this.updateButtons(); });
      const tr = el('tr', {class: r.deleted ? 'deleted' : '', dataset: {run: r.test_name}},
        el('td', {}, box),
        el('td', {class: 'mono'}, el('a', {href: '#/run/' + encodeURIComponent(r.test_name)}, r.test_name)),
        el('td', {}, r.name), el('td', {}, badge(r.status)), el('td', {class: 'small'}, fmtTime(r.started_at)),
        el('td', {class: 'num'}, fmtDuration(r.duration)),
        el('td', {}, r.tags.map((t) => el('span', {class: 'tag'}, t))));
      for (const c of page.columns) {
        const v = r.values[c.key];
        tr.append(el('td', {class: typeof v === 'number' ? 'num' : ''}, fmtValue(v)));
      }
      body.append(tr);
    }
    const table = el('table', {class: 'grid', id: 'runs'}, el('thead', {}, head), body);
    clear(this.table).append(page.runs.length ? table : el('div', {class: 'empty'},
      page.total ? 'no runs on this page' : (this.state.q ? 'no run matches the filter' : 'no runs recorded in this store yet')));
  }

  renderGroups(page) {
    const metricKeys = [...new Set(page.groups.flatMap((g) => Object.keys(g.metrics)))].sort();
    const groupKeys = page.groups.length ? Object.keys(page.groups[0].values) : [];
    const head = el('tr', {}, groupKeys.map((k) => el('th', {class: 'nosort'}, k)), el('th', {class: 'nosort'}, 'runs'),
      metricKeys.map((k) => el('th', {class: 'nosort'}, k + ' (mean ± std)')));
    const body = el('tbody');
    for (const g of page.groups) {
      body.append(el('tr', {}, groupKeys.map((k) => el('td', {}, fmtValue(g.values[k]))), el('td', {class: 'num'}, g.runs),
        metricKeys.map((k) => {
          const m = g.metrics[k];
          return el('td', {class: 'num'}, m ? `${fmtNum(m.mean)}${m.std !== null ? ' ± ' + fmtNum(m.std) : ''} (n=${m.n})` : '—');
        })));
    }
    clear(this.table).append(page.groups.length ? el('table', {class: 'grid', id: 'groups'}, el('thead', {}, head), body)
      : el('div', {class: 'empty'}, 'no groups: no matching run has ' + this.state.group));
  }

  renderPager(total) {
    const s = this.state;
    const pages = Math.max(1, Math.ceil(total / s.limit)), at = Math.floor(s.offset / s.limit) + 1;
    const size = el('select', {'aria-label': 'page size'}, [25, 50, 100, 200, 500].map((n) => el('option', {value: n, selected: n === s.limit}, n + ' / page')));
    size.addEventListener('change', () => this.apply({limit: Number(size.value), offset: 0}));
    clear(this.pager).append(
      el('button', {disabled: s.offset <= 0, onclick: () => this.apply({offset: Math.max(0, s.offset - s.limit)})}, '‹ previous'),
      el('span', {class: 'muted'}, `page ${at} of ${pages}`),
      el('button', {disabled: s.offset + s.limit >= total, onclick: () => this.apply({offset: s.offset + s.limit})}, 'next ›'),
      size);
  }

  updateButtons() {
    const n = this.selected.size;
    this.compareBtn.disabled = n < 1 || n > 50;
    this.diffBtn.disabled = n !== 2;
    this.compareBtn.textContent = n ? `Compare ${n}` : 'Compare';
  }

  // Live: a run started, ended or changed: show the page again (at most every 2 s).
  onEvents(events) {
    if (!events.some((e) => e.type === 'run')) return;
    if (this.pending) return;
    this.pending = setTimeout(() => { this.pending = null; this.load(); }, 2000);
  }

  dispose() { clearTimeout(this.pending); }
}
