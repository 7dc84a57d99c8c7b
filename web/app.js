'use strict';
// The page's router (hash routes, so the back button works and links can be shared) and the live
// feed: one long poll at a time on /api/events, passed to the view on screen.

const App = {
  view: null,
  seq: 0,

  render() {
    if (this.view && this.view.dispose) this.view.dispose();
    const root = document.getElementById('view');
    const {parts, params} = route();
    const page = parts[0] || 'runs';
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('on', a.dataset.nav === page);
    if (page === 'run' && parts[1]) this.view = new RunView(root, parts[1]);
    else if (page === 'dag' && parts[1]) this.view = new DagView(root, parts[1], params);
    else if (page === 'compare') this.view = new CompareView(root, params);
    else if (page === 'diff') this.view = new DiffView(root, params);
    else this.view = new RunsView(root, params);
  },

  async listen() {
    const live = document.getElementById('live');
    for (;;) {
      try {
        const r = await Api.get('/api/events', {since: this.seq, wait: 25});
        live.classList.add('on');
        if (r.reset) {
          this.seq = r.seq;
          if (this.view && this.view.onEvents) this.view.onEvents([{type: 'run'}]);
          continue;
        }
        this.seq = r.seq;
        if (r.events.length && this.view && this.view.onEvents) this.view.onEvents(r.events);
      } catch (e) {
        live.classList.remove('on');
        live.title = 'live updates paused: ' + e.message;
        await new Promise((ok) => setTimeout(ok, 5000));
      }
    }
  },
};

window.addEventListener('hashchange', () => App.render());
window.addEventListener('DOMContentLoaded', async () => {
  App.render();
  try {
    const info = await Api.get('/api/info');
    document.getElementById('store').textContent = `${info.home} · ${info.runs} runs · codedag ${info.version}`;
    const first = await Api.get('/api/events', {since: 0, wait: 0});
    App.seq = first.seq;
  } catch (e) {
    document.getElementById('store').textContent = e.message;
  }
  App.listen();
});
