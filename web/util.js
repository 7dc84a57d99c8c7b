'use strict';
// Shared helpers of the panel page: the JSON API, safe DOM building (text is always set as text,
// never parsed as HTML), number and time formats. Nothing here fetches from another origin.

const Api = {
  async get(path, params) {
    const r = await fetch(path + query(params), {credentials: 'same-origin'});
    return Api.read(r);
  },
  async text(path, params) {
    const r = await fetch(path + query(params), {credentials: 'same-origin'});
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
    return r.text();
  },
  // Changes need the token cookie (sent by the browser) and this header, which other sites cannot send.
  async post(path, body) {
    const r = await fetch(path, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CodeDAG-Request': '1'},
      body: JSON.stringify(body || {}),
    });
    return Api.read(r);
  },
  async read(r) {
    const body = await r.json().catch(() => ({error: r.statusText}));
    if (!r.ok) {
      const e = new Error(body.error || body.output || ('HTTP ' + r.status));
      e.status = r.status;
      throw e;
    }
    return body;
  },
};

function query(params) {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}

// el('a', {href: '#/', class: 'x'}, 'text', child...): attributes and children, text as text.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

function fmtValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return fmtNum(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function fmtNum(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

function fmtTime(unix) {
  if (!unix) return '—';
  const d = new Date(unix * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function fmtDuration(s) {
  if (s === null || s === undefined || s < 0) return '—';
  if (s < 60) return s.toFixed(1) + 's';
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  if (h > 0) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
}

function fmtNs(ns) {
  if (ns === null || ns === undefined) return '—';
  if (ns >= 1e9) return (ns / 1e9).toFixed(2) + ' s';
  if (ns >= 1e6) return (ns / 1e6).toFixed(2) + ' ms';
  if (ns >= 1e3) return (ns / 1e3).toFixed(1) + ' µs';
  return Math.round(ns) + ' ns';
}

function fmtBytes(b) {
  if (!b) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return (i ? b.toFixed(1) : b) + ' ' + u[i];
}

function badge(status, extra) {
  return el('span', {class: 'badge ' + status + (extra ? ' ' + extra : '')}, status);
}

function notice(kind, text) { return el('div', {class: 'notice ' + kind}, text); }

let toastTimer = null;
function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
}

// The hash route: '#/run/ID?x=1' -> {parts: ['run', 'ID'], params: URLSearchParams}.
function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, q] = h.split('?');
  return {parts: path ? path.split('/').map(decodeURIComponent) : [], params: new URLSearchParams(q || '')};
}

function go(path, params) { location.hash = '#/' + path + query(params); }

const Palette = ['#2f6fb2', '#d9822b', '#2e9e5b', '#c0392b', '#8a63a6', '#1f7a8c', '#b5892e', '#d6559b',
  '#5b7fa6', '#6a9e2e', '#7f5539', '#3d5a80'];
function colour(i) { return Palette[i % Palette.length]; }
