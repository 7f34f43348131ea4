// The planner's workspace: every registered analysis as a form (read from OGC API - Processes), a CQL2 search,
// shareable links and Chinese / English labels.  Plain module, no build step; works without WebGL too (the
// globe only adds drawing, highlighting and flying).  Exposes window.workspace for scripting and tests.
/* global Cesium */
'use strict';

(function workspace() {
  const ROOT = document.body.dataset.root || '/';
  const params = new URLSearchParams(location.search);
  const I18N = {
    en: {
      workspace: 'Workspace', tools: 'Analyses', tool: 'Analysis', run: 'Run', results: 'Results', search: 'Search',
      collection: 'Collection', filter: 'CQL2 filter', find: 'Find', copy: 'Copy link', copied: 'Link copied',
      draw: 'Draw on the globe', finish: 'Finish', required: 'required', running: 'Running…', failed: 'Failed',
      done: 'Done', csv: 'Download CSV', matched: 'matched', shown: 'shown', choose: '— choose —',
      lang: '中文', layers: 'Layers', view: 'View', feature: 'Feature', city: 'City model',
      verdict: { 'ok': 'ok', 'consult-fire-rescue': 'consult fire rescue', 'restricted': 'restricted',
        'not-allowed': 'not allowed', 'exceeds-new-build-limit': 'exceeds the new-build limit' },
    },
    zh: {
      workspace: '工作台', tools: '分析', tool: '分析项目', run: '运行', results: '结果', search: '查询',
      collection: '数据集', filter: 'CQL2 条件', find: '查找', copy: '复制链接', copied: '链接已复制',
      draw: '在地球上绘制', finish: '完成', required: '必填', running: '运行中…', failed: '失败',
      done: '完成', csv: '下载 CSV', matched: '匹配', shown: '显示', choose: '— 请选择 —',
      lang: 'English', layers: '图层', view: '视图', feature: '要素', city: '城市信息模型',
      verdict: { 'ok': '符合', 'consult-fire-rescue': '需征求消防救援机构意见', 'restricted': '严格限制',
        'not-allowed': '不得建设', 'exceeds-new-build-limit': '超出新建限值' },
    },
  };
  const prefersZh = (navigator.language || '').toLowerCase().startsWith('zh');
  let lang = params.get('lang') || (prefersZh ? 'zh' : 'en');
  if (!I18N[lang]) lang = 'en';
  const t = (key) => I18N[lang][key] || key;

  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v; else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    e.append(...children.filter((c) => c !== null && c !== undefined));
    return e;
  };
  const panel = document.getElementById('workspace');
  const state = { processes: [], tool: null, description: null, lastResult: null, tables: [] };

  // -- labels ---------------------------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    for (const node of document.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
    document.getElementById('ws-lang').textContent = t('lang');
  }

  // -- inputs from JSON Schema ----------------------------------------------------------------------
  function unwrap(schema) {
    if (schema && Array.isArray(schema.anyOf)) {
      const real = schema.anyOf.filter((s) => s.type !== 'null');
      if (real.length === 1) return { ...real[0], default: schema.default, description: schema.description };
    }
    return schema || {};
  }
  const isGeometry = (name, schema) => /region|footprint|geometry/.test(name)
    || (schema.properties && schema.properties.type && JSON.stringify(schema.properties.type).includes('Polygon'));

  function field(name, input) {
    const schema = unwrap(input.schema);
    const id = 'in-' + name;
    const required = (input.minOccurs || 0) > 0;
    const label = el('label', { for: id }, el('code', { text: name }), required ? el('span', { class: 'req', text: ' *' }) : null);
    let control;
    if (Array.isArray(schema.enum)) {
      control = el('select', { id, name }, el('option', { value: '', text: t('choose') }),
        ...schema.enum.map((v) => el('option', { value: String(v), text: String(v) })));
      if (schema.default !== undefined && schema.default !== null) control.value = String(schema.default);
    } else if (schema.type === 'boolean') {
      control = el('input', { id, name, type: 'checkbox' });
      control.checked = schema.default === true;
    } else if (schema.type === 'number' || schema.type === 'integer') {
      control = el('input', { id, name, type: 'number', step: schema.type === 'integer' ? '1' : 'any',
        value: schema.default ?? '' });
    } else if (schema.type === 'string') {
      control = el('input', { id, name, type: 'text', value: schema.default ?? '' });
    } else {
      control = el('textarea', { id, name, rows: 3, spellcheck: 'false',
        placeholder: isGeometry(name, schema) ? '{"type": "Polygon", "coordinates": [...]} (CRS84)' : 'JSON' });
      if (schema.default !== undefined && schema.default !== null) control.value = JSON.stringify(schema.default);
    }
    control.dataset.kind = control.tagName === 'TEXTAREA' ? 'json' : (schema.type || 'string');
    control.dataset.required = required ? '1' : '';
    const help = input.description ? el('div', { class: 'help', text: input.description }) : null;
    const draw = control.tagName === 'TEXTAREA' && isGeometry(name, schema)
      ? el('button', { type: 'button', class: 'draw', 'data-i18n': 'draw', text: t('draw'),
        onclick: () => drawPolygon(control) }) : null;
    return el('div', { class: 'field' }, label, control, draw, help);
  }

  function readInputs() {
    const out = {};
    for (const c of document.querySelectorAll('#ws-form [name]')) {
      let v;
      if (c.dataset.kind === 'boolean') v = c.checked;
      else if (c.value === '') continue;
      else if (c.dataset.kind === 'number' || c.dataset.kind === 'integer') v = Number(c.value);
      else if (c.dataset.kind === 'json') v = parseValue(c.value, c.name);
      else v = c.value;
      out[c.name] = v;
    }
    return out;
  }

  // A value from a form or a link: JSON, else CRS84 WKT POLYGON((x y, ...)), else the text itself.
  function parseValue(text, name) {
    try { return JSON.parse(text); } catch (err) { /* not JSON */ }
    const m = /^\s*POLYGON\s*\(\((.*)\)\)\s*$/i.exec(text);
    if (m) {
      const ring = m[1].split(',').map((p) => p.trim().split(/\s+/).map(Number));
      return { type: 'Polygon', coordinates: [ring] };
    }
    if (name) throw new Error(`${name}: not JSON`);
    return text;
  }

  function setInputs(values) {
    for (const [name, value] of Object.entries(values)) {
      const c = document.querySelector(`#ws-form [name="${CSS.escape(name)}"]`);
      if (!c) continue;
      if (c.dataset.kind === 'boolean') c.checked = value === true || value === 'true';
      else c.value = typeof value === 'string' ? value : JSON.stringify(value);
    }
  }

  async function chooseTool(id) {
    state.tool = id || null;
    const form = document.getElementById('ws-form');
    form.innerHTML = '';
    document.getElementById('ws-tool').value = id || '';
    if (!id) return null;
    const desc = await (await fetch(ROOT + 'processes/' + encodeURIComponent(id))).json();
    state.description = desc;
    form.append(el('p', { class: 'help', text: desc.description || '' }));
    for (const [name, input] of Object.entries(desc.inputs || {})) form.append(field(name, input));
    form.append(el('button', { type: 'submit', id: 'ws-run', 'data-i18n': 'run', text: t('run') }));
    return desc;
  }

  // -- running through /processes, as a job -----------------------------------------------------------
  async function run() {
    const status = document.getElementById('ws-status');
    let inputs;
    try { inputs = readInputs(); } catch (err) { status.textContent = `${t('failed')}: ${err.message}`; return null; }
    status.textContent = t('running');
    const resp = await fetch(ROOT + 'processes/' + encodeURIComponent(state.tool) + '/execution', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'Prefer': 'respond-async' },
      body: JSON.stringify({ inputs }),
    });
    let body = await resp.json();
    if (!resp.ok) { status.textContent = `${t('failed')}: ${body.detail || body.title || resp.status}`; return null; }
    const jobUrl = resp.headers.get('Location') || (ROOT + 'jobs/' + body.jobID);
    for (let i = 0; i < 1200 && !['successful', 'failed', 'dismissed'].includes(body.status); i++) {
      await new Promise((r) => setTimeout(r, 250));
      body = await (await fetch(jobUrl)).json();
      status.textContent = `${t('running')} ${body.status}${body.progress !== undefined ? ` ${body.progress}%` : ''}`;
    }
    if (body.status !== 'successful') { status.textContent = `${t('failed')}: ${body.message || body.status}`; return null; }
    const result = await (await fetch(jobUrl + '/results')).json();
    status.textContent = t('done');
    showResult(result);
    return result;
  }

  // -- results: tables (with CSV), verdicts in both languages, features highlighted on the globe --------
  const scalar = (v) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  function rowsOf(items) {
    return items.map((it) => {
      const row = {};
      for (const [k, v] of Object.entries(it)) {
        if (scalar(v)) row[k] = v;
        else if (Array.isArray(v)) {  // e.g. a verdict's reasons: each item's plain values, items by '; '
          row[k] = v.map((x) => (x && typeof x === 'object' ? Object.values(x).filter(scalar).join(' ') : String(x))).join('; ');
        } else if (v && typeof v === 'object') {
          for (const [k2, v2] of Object.entries(v)) if (scalar(v2)) row[k2] = v2;
        }
      }
      return row;
    });
  }
  function tables(result) {
    const out = [];
    const top = Object.fromEntries(Object.entries(result).filter(([, v]) => scalar(v)));
    if (Object.keys(top).length) out.push({ name: 'summary', rows: [top] });
    for (const [k, v] of Object.entries(result)) {
      if (Array.isArray(v) && v.length && typeof v[0] === 'object') out.push({ name: k, rows: rowsOf(v) });
    }
    return out;
  }
  const cellText = (k, v) => {
    if (k === 'verdict' && typeof v === 'string') return `${t('verdict')[v] || v} (${v})`;
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
    return v === null || v === undefined ? '' : String(v);
  };
  function csvOf(rows) {
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const q = (v) => { const s = v === null || v === undefined ? '' : String(v); return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s; };
    return [cols.join(','), ...rows.map((r) => cols.map((c) => q(r[c])).join(','))].join('\n') + '\n';
  }
  function showResult(result) {
    const keys = Object.keys(result || {});
    if (keys.length === 1 && result[keys[0]] && typeof result[keys[0]] === 'object' && !Array.isArray(result[keys[0]])) result = result[keys[0]];  // {"result": ...}
    state.lastResult = result;
    state.tables = tables(result);
    const box = document.getElementById('ws-result');
    box.innerHTML = '';
    for (const tb of state.tables) {
      const cols = [...new Set(tb.rows.flatMap((r) => Object.keys(r)))];
      const table = el('table', { class: 'result', 'data-table': tb.name },
        el('caption', { text: tb.name }),
        el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { scope: 'col', text: c })))),
        el('tbody', {}, ...tb.rows.map((r) => el('tr', {}, ...cols.map((c) => el('td', { 'data-col': c, text: cellText(c, r[c]) }))))));
      const href = URL.createObjectURL(new Blob([csvOf(tb.rows)], { type: 'text/csv' }));
      box.append(table, el('a', { href, download: `${state.tool}-${tb.name}.csv`, class: 'csv', text: t('csv') }));
      const svg = chart(tb);
      if (svg) box.append(svg);
    }
    highlight(collectIds(result));
    drawGeometries(result);
    drawSunlight(result);
  }

  // A sunlight result's sill points as a heat-map of sunlit hours on the globe (CRS84 requests only).
  function drawSunlight(result) {
    if (!window.cim) { // the globe is still loading its layers: draw when it is ready
      const since = Date.now();
      const wait = setInterval(() => {
        if (window.cim || Date.now() - since > 300000) { clearInterval(wait); if (window.cim) drawSunlight(result); }
      }, 200);
      return;
    }
    if (!window.cim.showSunlight) return;
    let crs = '';
    try { crs = String(readInputs().crs || ''); } catch (err) { /* no crs input */ }
    const sun = result && Array.isArray(result.buildings) && result.buildings.some((b) => Array.isArray(b.points)
      && b.points.some((p) => typeof p.minutes === 'number'));
    window.cim.showSunlight(sun && (!crs || /CRS84/.test(crs)) ? result : null);
  }

  // A bar chart of a table's series (depth bands, districts, segments...): its first preferred numeric column.
  const SERIES = ['ratio', 'occupied_volume', 'minutes', 'worst_minutes', 'value', 'population_affected', 'volume_m3',
    'max_depth_m', 'leakage_rate', 'population'];
  function chart(tb) {
    if (tb.rows.length < 2) return null;
    const numeric = (c) => tb.rows.every((r) => r[c] === undefined || r[c] === null || typeof r[c] === 'number');
    const cols = [...new Set(tb.rows.flatMap((r) => Object.keys(r)))];
    const col = SERIES.find((c) => cols.includes(c) && numeric(c)) || cols.find((c) => numeric(c) && !/^(id|top|bottom)$/.test(c));
    if (!col) return null;
    const label = cols.find((c) => tb.rows.every((r) => typeof r[c] === 'string')) || null;
    const rows = tb.rows.slice(0, 40);
    const max = Math.max(...rows.map((r) => Math.abs(r[col] || 0))) || 1;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 340 ${rows.length * 14 + 16}`);
    svg.setAttribute('class', 'chart');
    svg.dataset.chart = tb.name;
    svg.dataset.series = col;
    const title = document.createElementNS(ns, 'text');
    title.setAttribute('x', '0'); title.setAttribute('y', '10'); title.textContent = `${tb.name}: ${col}`;
    svg.append(title);
    rows.forEach((r, i) => {
      const v = r[col] || 0;
      const bar = document.createElementNS(ns, 'rect');
      bar.setAttribute('x', '110'); bar.setAttribute('y', String(16 + i * 14));
      bar.setAttribute('width', String(Math.max(0.5, (Math.abs(v) / max) * 180))); bar.setAttribute('height', '10');
      const name = document.createElementNS(ns, 'text');
      name.setAttribute('x', '0'); name.setAttribute('y', String(25 + i * 14));
      name.textContent = (label ? String(r[label]) : String(i + 1)).slice(0, 18);
      const val = document.createElementNS(ns, 'text');
      val.setAttribute('x', String(114 + (Math.abs(v) / max) * 180)); val.setAttribute('y', String(25 + i * 14));
      val.textContent = cellText(col, v);
      svg.append(bar, name, val);
    });
    return svg;
  }

  // Geometries in the result (ponds, segments, clashes, walking catchments...) draped on the globe, when the
  // request's coordinates are CRS84 (the default).
  function drawGeometries(result) {
    const feats = [];
    (function walk(v) {
      if (Array.isArray(v)) { v.forEach(walk); return; }
      if (!v || typeof v !== 'object') return;
      const g = v.geometry;
      if (g && typeof g === 'object' && typeof g.type === 'string' && Array.isArray(g.coordinates)) {
        feats.push({ type: 'Feature', geometry: g, properties: { id: v.id ?? null } });
      }
      Object.entries(v).forEach(([k, x]) => { if (k !== 'geometry') walk(x); });
    })(result);
    state.drawn = feats.length;
    if (!window.cim) return;
    const { viewer } = window.cim;
    if (state.dataSource) { viewer.dataSources.remove(state.dataSource, true); state.dataSource = null; }
    let crs = '';
    try { crs = String(readInputs().crs || ''); } catch (err) { /* no crs input */ }
    if (!feats.length || (crs && !/CRS84|4326|4490/.test(crs))) return;
    Cesium.GeoJsonDataSource.load({ type: 'FeatureCollection', features: feats }, {
      clampToGround: true, fill: Cesium.Color.fromCssColorString('#1e88e5').withAlpha(0.55),
      stroke: Cesium.Color.fromCssColorString('#0d47a1'), markerColor: Cesium.Color.fromCssColorString('#e53935'),
    }).then((ds) => { state.dataSource = ds; viewer.dataSources.add(ds); });
  }
  function collectIds(value, out = new Set()) {
    if (typeof value === 'string' && value.length < 100) out.add(value);
    else if (Array.isArray(value)) value.forEach((v) => collectIds(v, out));
    else if (value && typeof value === 'object') Object.values(value).forEach((v) => collectIds(v, out));
    return out;
  }
  function highlight(ids) {
    if (!window.cim || !window.cim.state) return;
    window.cim.state.highlight = ids;
    for (const layer of Object.keys(window.cim.tilesets)) window.cim.repaint(layer);
  }

  // -- search -----------------------------------------------------------------------------------------
  async function loadQueryables(cid) {
    const list = document.getElementById('ws-queryables');
    list.innerHTML = '';
    try {
      const q = await (await fetch(ROOT + 'collections/' + encodeURIComponent(cid) + '/queryables')).json();
      for (const name of Object.keys(q.properties || {})) list.append(el('option', { value: name }));
    } catch (err) { /* no queryables: free text */ }
  }
  async function search() {
    const cid = document.getElementById('ws-collection').value;
    const filter = document.getElementById('ws-filter').value.trim();
    const out = document.getElementById('ws-found');
    const url = new URL(ROOT + 'collections/' + encodeURIComponent(cid) + '/items', location.href);
    url.searchParams.set('limit', '500');
    if (filter) url.searchParams.set('filter', filter);
    const resp = await fetch(url, { headers: { Accept: 'application/geo+json' } });
    const body = await resp.json();
    out.innerHTML = '';
    if (!resp.ok) { out.append(el('p', { class: 'error', text: body.detail || body.title })); return null; }
    out.append(el('p', { class: 'help', text: `${body.numberMatched} ${t('matched')}, ${body.numberReturned} ${t('shown')}` }));
    const ul = el('ul', { class: 'found' });
    for (const f of body.features) {
      const p = f.properties || {};
      const extra = p.height !== undefined ? ` · ${Number(p.height).toFixed(1)} m` : '';
      ul.append(el('li', {}, el('button', { type: 'button', 'data-id': f.id, text: `${f.id}${p.name ? ' ' + p.name : ''}${extra}`,
        onclick: () => flyToFeature(f) })));
    }
    out.append(ul);
    highlight(new Set(body.features.map((f) => String(f.id))));
    return body;
  }
  function flyToFeature(f) {
    if (!window.cim || !f.geometry) return;
    const pts = JSON.stringify(f.geometry.coordinates).match(/-?\d+(\.\d+)?(e-?\d+)?/g).map(Number);
    const dim = f.geometry.type === 'Point' ? pts.length : (JSON.stringify(f.geometry.coordinates).match(/\[[^[\]]*\]/)[0].split(',').length);
    let sx = 0; let sy = 0; let n = 0;
    for (let i = 0; i + 1 < pts.length; i += dim) { sx += pts[i]; sy += pts[i + 1]; n += 1; }
    const h = (f.properties && f.properties.roof_elevation) || 50;
    window.cim.flyTo(sx / n, sy / n, h, 400, -0.9);
  }

  // -- drawing a polygon on the globe (CRS84) ------------------------------------------------------------
  function drawPolygon(target) {
    if (!window.cim) return;
    const { viewer } = window.cim;
    const pts = [];
    const handler = new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas);
    const finish = el('button', { type: 'button', text: t('finish'), onclick: () => done() });
    target.after(finish);
    handler.setInputAction((click) => {
      const c = viewer.camera.pickEllipsoid(click.position);
      if (!c) return;
      const g = Cesium.Cartographic.fromCartesian(c);
      pts.push([Cesium.Math.toDegrees(g.longitude), Cesium.Math.toDegrees(g.latitude)]);
      target.value = JSON.stringify({ type: 'Polygon', coordinates: [[...pts, pts[0]]] });
    }, Cesium.ScreenSpaceEventType.LEFT_CLICK);
    function done() { handler.destroy(); finish.remove(); }
  }

  // -- shareable links ----------------------------------------------------------------------------------
  function link() {
    const u = new URL(location.href);
    u.search = '';
    u.searchParams.set('lang', lang);
    if (state.tool) {
      u.searchParams.set('tool', state.tool);
      try { for (const [k, v] of Object.entries(readInputs())) u.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v)); } catch (err) { /* partial form */ }
    }
    const filter = document.getElementById('ws-filter').value.trim();
    if (filter) { u.searchParams.set('collection', document.getElementById('ws-collection').value); u.searchParams.set('filter', filter); }
    if (window.cim) {
      const cam = window.cim.viewer.camera;
      const g = cam.positionCartographic;
      u.searchParams.set('camera', [Cesium.Math.toDegrees(g.longitude), Cesium.Math.toDegrees(g.latitude), g.height,
        cam.heading, cam.pitch].map((v) => Number(v).toFixed(6)).join(','));
    }
    return u.toString();
  }

  async function restore() {
    const tool = params.get('tool');
    if (tool) {
      const desc = await chooseTool(tool);
      if (desc) {
        const values = {};
        for (const [k, v] of params.entries()) {
          if (['tool', 'run', 'lang', 'camera', 'collection', 'filter'].includes(k)) continue;
          const plural = desc.inputs && !desc.inputs[k] && desc.inputs[k + 's'] ? k + 's' : null;
          values[plural || k] = plural ? [parseValue(v)] : (desc.inputs[k] && unwrap(desc.inputs[k].schema).type === 'string' ? v : parseValue(v));
        }
        setInputs(values);
        if (params.get('run') === '1') await run();
      }
    }
    if (params.get('filter')) {
      document.getElementById('ws-collection').value = params.get('collection') || 'buildings';
      document.getElementById('ws-filter').value = params.get('filter');
      await search();
    }
    const cam = params.get('camera');
    if (cam) {
      const wait = setInterval(() => {
        if (!window.cim) return;
        clearInterval(wait);
        const [lon, lat, h, heading, pitch] = cam.split(',').map(Number);
        window.cim.viewer.camera.setView({ destination: Cesium.Cartesian3.fromDegrees(lon, lat, h), orientation: { heading, pitch, roll: 0 } });
      }, 200);
    }
  }

  // -- the panel ------------------------------------------------------------------------------------------
  async function build() {
    panel.append(
      el('div', { class: 'ws-head' }, el('h1', { 'data-i18n': 'workspace', text: t('workspace') }),
        el('button', { type: 'button', id: 'ws-lang', onclick: () => { lang = lang === 'zh' ? 'en' : 'zh'; applyLanguage(); } }),
        el('button', { type: 'button', id: 'ws-copy', 'data-i18n': 'copy', text: t('copy'), onclick: async () => {
          const url = link(); history.replaceState(null, '', url);
          try { await navigator.clipboard.writeText(url); } catch (err) { /* not allowed: the address bar has it */ }
          document.getElementById('ws-status').textContent = t('copied');
        } })),
      el('section', {}, el('h2', { 'data-i18n': 'search', text: t('search') }),
        el('form', { id: 'ws-search', onsubmit: (ev) => { ev.preventDefault(); search(); } },
          el('label', { for: 'ws-collection', 'data-i18n': 'collection', text: t('collection') }),
          el('select', { id: 'ws-collection', onchange: (ev) => loadQueryables(ev.target.value) }),
          el('label', { for: 'ws-filter', 'data-i18n': 'filter', text: t('filter') }),
          el('input', { id: 'ws-filter', type: 'text', list: 'ws-queryables', placeholder: 'height > 100' }),
          el('datalist', { id: 'ws-queryables' }),
          el('button', { type: 'submit', id: 'ws-find', 'data-i18n': 'find', text: t('find') })),
        el('div', { id: 'ws-found' })),
      el('section', {}, el('h2', { 'data-i18n': 'tools', text: t('tools') }),
        el('label', { for: 'ws-tool', 'data-i18n': 'tool', text: t('tool') }),
        el('select', { id: 'ws-tool', onchange: (ev) => chooseTool(ev.target.value) }),
        el('form', { id: 'ws-form', onsubmit: (ev) => { ev.preventDefault(); run(); } }),
        el('p', { id: 'ws-status', role: 'status', 'aria-live': 'polite' })),
      el('section', { id: 'ws-result', 'aria-label': 'results' }));
    const cols = await (await fetch(ROOT + 'collections')).json();
    const sel = document.getElementById('ws-collection');
    for (const c of cols.collections) sel.append(el('option', { value: c.id, text: c.title || c.id }));
    sel.value = 'buildings';
    loadQueryables(sel.value);
    const procs = await (await fetch(ROOT + 'processes')).json();
    state.processes = procs.processes;
    const tools = document.getElementById('ws-tool');
    tools.append(el('option', { value: '', text: t('choose') }), ...procs.processes.map((p) => el('option', { value: p.id, text: p.title || p.id })));
    applyLanguage();
    await restore();
    document.body.dataset.workspace = 'ready';
  }

  window.workspace = { state, chooseTool, run, search, link, setLanguage: (l) => { lang = l; applyLanguage(); }, readInputs, parseValue };
  build().catch((err) => { document.body.dataset.workspace = 'error'; console.error(err); });
})();
