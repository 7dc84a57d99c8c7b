'use strict';
// The pipeline DAG of a run with its placement: the SVG is drawn by the engine (the same picture
// as `codedag dag svg` and the HTML report); this page adds panning (drag), zooming (wheel) and
// details of a context on click.

class DagView {
  constructor(root, id, params) {
    this.root = root;
    this.id = id;
    this.calls = params.get('calls') !== '0';
    this.load();
  }

  async load() {
    let d;
    try {
      d = await Api.get(`/api/runs/${encodeURIComponent(this.id)}/dag`);
    } catch (e) {
      clear(this.root).append(notice('error', e.message));
      return;
    }
    const title = el('h1', {}, 'Pipeline of ', el('a', {href: '#/run/' + encodeURIComponent(this.id), class: 'mono'}, this.id));
    if (!d.present) { clear(this.root).append(title, notice('info', d.reason)); return; }
    this.nodes = new Map(d.nodes.map((n) => [String(n.id), n]));
    const calls = el('input', {type: 'checkbox'});
    calls.checked = this.calls;
    calls.addEventListener('change', () => go('dag/' + encodeURIComponent(this.id), {calls: calls.checked ? '' : 0}));
    this.view = el('div', {class: 'dagview', id: 'dag'});
    this.details = el('div', {class: 'card'}, el('div', {class: 'muted'}, 'click a context for its details'));
    const moved = d.moved.length
      ? el('table', {class: 'grid', id: 'moved'}, el('thead', {}, el('tr', {}, el('th', {class: 'nosort'}, 'moved context'), el('th', {class: 'nosort'}, 'executor'))),
        el('tbody', {}, d.moved.map((m) => el('tr', {}, el('td', {class: 'mono'}, m.qualname), el('td', {}, m.executor)))))
      : el('div', {class: 'muted small'}, d.plan ? 'the plan moves no context: everything stays on the cpu workers' : 'no plan recorded: every context is shown on cpu');
    clear(this.root).append(title, dagSummaryCards(d),
      el('div', {class: 'bar'}, el('label', {class: 'small'}, calls, ' call edges'), el('span', {class: 'muted small'}, 'drag to pan · wheel to zoom · click a context')),
      el('div', {class: 'split'}, this.view, el('div', {}, this.details, el('div', {class: 'card'}, moved))));
    try {
      const text = await Api.text(`/api/runs/${encodeURIComponent(this.id)}/dag.svg`, {calls: this.calls ? '' : 0});
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      this.svg = document.importNode(doc.documentElement, true);
      this.view.append(this.svg);
      this.fit();
      this.interact();
    } catch (e) {
      this.view.append(notice('error', 'DAG picture: ' + e.message));
    }
  }

  fit() {
    const w = Number(this.svg.getAttribute('width')), h = Number(this.svg.getAttribute('height'));
    const vw = this.view.clientWidth, vh = this.view.clientHeight;
    this.scale = Math.min(1, vw / w, vh / h);
    this.tx = Math.max(0, (vw - w * this.scale) / 2);
    this.ty = 0;
    this.apply();
  }

  apply() { this.svg.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`; }

  interact() {
    let drag = null;
    this.view.addEventListener('mousedown', (e) => { drag = {x: e.clientX, y: e.clientY, tx: this.tx, ty: this.ty, moved: false}; });
    window.addEventListener('mousemove', this.onMove = (e) => {
      if (!drag) return;
      this.tx = drag.tx + e.clientX - drag.x;
      this.ty = drag.ty + e.clientY - drag.y;
      drag.moved = drag.moved || Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) > 3;
      this.apply();
    });
    window.addEventListener('mouseup', this.onUp = (e) => {
      if (drag && !drag.moved) this.select(e.target.closest && e.target.closest('.node'));
      drag = null;
    });
    this.view.addEventListener('wheel', (e) => {
      e.preventDefault();
      const r = this.view.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
      const f = Math.exp(-e.deltaY * 0.0015), s = Math.min(4, Math.max(0.05, this.scale * f));
      this.tx = x - (x - this.tx) * s / this.scale;
      this.ty = y - (y - this.ty) * s / this.scale;
      this.scale = s;
      this.apply();
    }, {passive: false});
  }

  select(g) {
    if (!g) return;
    for (const n of this.svg.querySelectorAll('.node.sel')) n.classList.remove('sel');
    g.classList.add('sel');
    const n = this.nodes.get(g.dataset.id);
    if (!n) return;
    clear(this.details).append(el('h2', {}, n.name), el('dl', {class: 'kv'},
      el('dt', {}, 'qualified'), el('dd', {}, n.qualname),
      el('dt', {}, 'executor'), el('dd', {}, n.executor + (n.inherited ? ' (with its caller)' : '')),
      el('dt', {}, 'calls'), el('dd', {}, String(n.calls)),
      el('dt', {}, 'cpu / total'), el('dd', {}, `${fmtNs(n.cpu_ns)} / ${fmtNs(n.total_ns)} per batch`),
      el('dt', {}, 'returns'), el('dd', {}, fmtBytes(n.out_bytes) + ' per batch'),
      el('dt', {}, 'GPU-eligible'), el('dd', {}, n.gpu_eligible ? 'yes' : 'no' + (n.blocked_by.length ? ` (blocked by ${n.blocked_by.join(', ')})` : '')),
      el('dt', {}, 'source'), el('dd', {}, n.file ? `${n.file}:${n.line}` : '—')));
  }

  dispose() {
    if (this.onMove) window.removeEventListener('mousemove', this.onMove);
    if (this.onUp) window.removeEventListener('mouseup', this.onUp);
  }
}
