'use strict';
// Two runs side by side: only what differs, section by section, down to the code (a diff of the
// two git snapshots) and the pipeline plan (contexts that moved executor, predicted vs measured).

class DiffView {
  constructor(root, params) {
    this.root = root;
    this.a = params.get('a') || '';
    this.b = params.get('b') || '';
    this.load();
  }

  form() {
    const a = el('input', {type: 'text', value: this.a, placeholder: 'run A', 'aria-label': 'run A'});
    const b = el('input', {type: 'text', value: this.b, placeholder: 'run B', 'aria-label': 'run B'});
    return el('div', {class: 'bar'}, a, b, el('button', {class: 'primary', onclick: () => go('diff', {a: a.value, b: b.value})}, 'Diff'));
  }

  async load() {
    clear(this.root).append(el('h1', {}, 'Diff two runs'), this.form());
    if (!this.a || !this.b) { this.root.append(notice('info', 'Give two run ids, or select two runs in the table and press Diff.')); return; }
    let d;
    try {
      d = await Api.get('/api/diff', {a: this.a, b: this.b});
    } catch (e) {
      this.root.append(notice('error', e.message));
      return;
    }
    const link = (id) => el('a', {href: '#/run/' + encodeURIComponent(id), class: 'mono'}, id);
    this.root.append(el('p', {}, 'A: ', d.names.a, '/', link(d.a), ' · B: ', d.names.b, '/', link(d.b)));
    let differing = 0;
    for (const [sec, title] of [['status', 'Status'], ['argv', 'Command'], ['params', 'Params'], ['metrics', 'Metrics'],
      ['versions', 'Library versions'], ['env', 'Environment']]) {
      const rows = Object.entries(d[sec] || {});
      if (!rows.length) { this.root.append(el('div', {class: 'small muted'}, `✓ ${title}: same`)); continue; }
      differing++;
      this.root.append(el('h2', {}, title), el('table', {class: 'grid', id: 'diff-' + sec},
        el('thead', {}, el('tr', {}, ['key', 'A', 'B', sec === 'metrics' ? 'B − A' : null].filter(Boolean).map((h) => el('th', {class: 'nosort'}, h)))),
        el('tbody', {}, rows.map(([k, [va, vb]]) => el('tr', {}, el('td', {class: 'mono'}, k),
          el('td', {class: 'mono'}, Array.isArray(va) ? va.join(' ') : fmtValue(va)),
          el('td', {class: 'mono'}, Array.isArray(vb) ? vb.join(' ') : fmtValue(vb)),
          sec === 'metrics' ? el('td', {class: 'num'}, typeof va === 'number' && typeof vb === 'number' ? fmtNum(vb - va) : '—') : null)))));
    }
    this.root.append(this.planSection(d.plan));
    this.root.append(el('h2', {}, 'Code'));
    if (d.code) {
      differing++;
      this.root.append(codeBlock(d.code), d.code_truncated ? notice('warn', 'the code diff was cut at 512 KiB') : null);
    } else {
      this.root.append(el('div', {class: 'muted'}, d.code_note || 'identical code'));
    }
    this.root.append(el('p', {class: 'muted'}, differing ? `${differing} section(s) differ` : 'the runs do not differ in what was recorded'));
  }

  planSection(p) {
    const box = el('div', {}, el('h2', {}, 'Pipeline plan'));
    const sp = (s) => `predicted ${s.predicted !== null ? fmtNum(s.predicted) + '×' : '—'}, measured ${s.measured !== null && s.measured !== undefined ? fmtNum(s.measured) + '×' : '—'}` +
      (s.kept !== null && s.kept !== undefined ? (s.kept ? ' (kept)' : ' (not kept)') : '');
    box.append(el('div', {class: 'small'}, 'A: ' + sp(p.a)), el('div', {class: 'small'}, 'B: ' + sp(p.b)));
    if (p.note) box.append(el('div', {class: 'muted small'}, p.note));
    if (p.moved.length)
      box.append(el('table', {class: 'grid', id: 'diff-plan'}, el('thead', {}, el('tr', {}, ['context', 'A', 'B'].map((h) => el('th', {class: 'nosort'}, h)))),
        el('tbody', {}, p.moved.map((m) => el('tr', {}, el('td', {class: 'mono'}, m.context), el('td', {}, m.a), el('td', {}, m.b))))));
    else if (!p.note || p.note.startsWith('only')) box.append(el('div', {class: 'muted small'}, 'no context changed executor'));
    return box;
  }
}

function codeBlock(text) {
  const pre = el('pre', {class: 'code', id: 'diff-code'});
  for (const line of text.split('\n')) {
    const cls = line.startsWith('+') && !line.startsWith('+++') ? 'add' : line.startsWith('-') && !line.startsWith('---') ? 'del' : line.startsWith('@@') ? 'hunk' : null;
    pre.append(cls ? el('span', {class: cls}, line) : document.createTextNode(line + '\n'));
  }
  return pre;
}
