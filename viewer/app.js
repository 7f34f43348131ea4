// CIM 3D viewer: the service's 3D Tiles layers in CesiumJS, offline (no ion token, no base imagery).
// Exposes window.cim for scripting and tests: {viewer, tilesets, allLoaded(), flyTo(...), pickCentre(), selectById(),
// isolate(pipe)}.  A clicked water pipe shows its isolation segment, the valves to close and the buildings cut off.
// Features with an active sensor alarm (GET /alarms) take its severity's colour; a selected feature lists its
// sensors' latest readings with a 24-hour sparkline.
/* global Cesium */
'use strict';

(async function main() {
  const ROOT = document.body.dataset.root || '/';
  const statusEl = document.getElementById('status');
  const setStatus = (text) => { statusEl.textContent = text; };

  Cesium.Ion.defaultAccessToken = undefined;
  const viewer = new Cesium.Viewer('cesiumContainer', {
    baseLayer: false,
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    geocoder: false, baseLayerPicker: false, homeButton: false, sceneModePicker: false,
    navigationHelpButton: false, animation: false, timeline: false, fullscreenButton: false,
    infoBox: false, selectionIndicator: false, projectionPicker: false, vrButton: false,
    msaaSamples: 1, skyBox: false, skyAtmosphere: false, shouldAnimate: false,
  });
  const scene = viewer.scene;
  scene.fog.enabled = false;
  scene.globe.showGroundAtmosphere = false;
  scene.globe.enableLighting = false;
  scene.globe.baseColor = Cesium.Color.fromCssColorString('#3a4a3a');
  scene.backgroundColor = Cesium.Color.fromCssColorString('#1c2026');
  scene.globe.depthTestAgainstTerrain = true;
  // light the city as at noon in Shenyang (UTC+8) on an autumn day, whatever the time of the browser
  viewer.clock.currentTime = Cesium.JulianDate.fromIso8601('2024-09-23T04:00:00Z');

  // -- state and feature colouring -----------------------------------------------------------
  const state = {
    underground: false, screening: false, verdicts: new Map(), highlight: new Set(), alarms: new Map(),
    accessKind: '', access: new Map(),
  };
  const loaded = {}; // layer -> Set of tile contents currently loaded
  // verdicts of GET /analysis/high-rise (cim.rules.Verdict), least to most severe
  const VERDICT_COLORS = {
    'ok': Cesium.Color.fromCssColorString('#3cb371'),
    'consult-fire-rescue': Cesium.Color.fromCssColorString('#f0d020'),
    'exceeds-new-build-limit': Cesium.Color.fromCssColorString('#b070d0'), // existing buildings over a new-build limit
    'restricted': Cesium.Color.fromCssColorString('#f08020'),
    'not-allowed': Cesium.Color.fromCssColorString('#e0383b'),
  };
  // severities of active sensor alarms (GET /alarms), least to most severe
  const ALARM_COLORS = {
    'info': Cesium.Color.fromCssColorString('#4fa3e0'),
    'warning': Cesium.Color.fromCssColorString('#f0c020'),
    'alarm': Cesium.Color.fromCssColorString('#f07020'),
    'critical': Cesium.Color.fromCssColorString('#e0202b'),
  };
  const SEVERITY = Object.keys(ALARM_COLORS);
  // walking distance of a home to the nearest facility of the chosen kind (POST /analysis/living-circles)
  const ACCESS_BANDS = [
    [300, '<= 300 m', Cesium.Color.fromCssColorString('#1a9850')],
    [500, '300-500 m', Cesium.Color.fromCssColorString('#91cf60')],
    [1000, '500-1,000 m', Cesium.Color.fromCssColorString('#fee08b')],
    [Infinity, '> 1,000 m', Cesium.Color.fromCssColorString('#d73027')],
  ];
  const UNREACHABLE = Cesium.Color.fromCssColorString('#6a1b9a');
  const NOT_A_HOME = Cesium.Color.fromCssColorString('#9aa0a8');
  function accessColour(d) {
    if (d === undefined) return NOT_A_HOME;
    if (d === null) return UNREACHABLE;
    return ACCESS_BANDS.find(([top]) => d <= top)[2];
  }
  let selected = null;
  // a clicked water pipe's isolation (POST /analysis/water-isolation): segment, valves to close, buildings cut off
  const ISOLATION_COLORS = {
    pipe: Cesium.Color.fromCssColorString('#00e5ff'),
    valve: Cesium.Color.fromCssColorString('#ff2d55'),
    building: Cesium.Color.fromCssColorString('#ff9f1c'),
  };
  state.isolation = null; // {pipes, valves, buildings: Set of ids, result}

  function colourOf(layer, feature) {
    let c = Cesium.Color.WHITE.clone();
    if (layer === 'buildings' && state.screening) {
      const v = state.verdicts.get(feature.getProperty('id'));
      c = v ? VERDICT_COLORS[v].clone() : Cesium.Color.fromCssColorString('#9aa0a8');
    }
    const sev = state.alarms.get(feature.getProperty('collection') + '/' + feature.getProperty('id'));
    if (sev) c = ALARM_COLORS[sev].clone();
    if (layer === 'buildings' && state.accessKind) {
      const dist = state.access.get(state.accessKind);
      c = accessColour(dist ? dist.get(feature.getProperty('id')) : undefined).clone();
    }
    const iso = state.isolation;
    if (iso) {
      const id = feature.getProperty('id');
      const cid = feature.getProperty('collection');
      if (layer === 'buildings' && iso.buildings.has(id)) c = ISOLATION_COLORS.building.clone();
      if (layer === 'pipes' && cid === 'pipes' && iso.pipes.has(id)) c = ISOLATION_COLORS.pipe.clone();
      if (layer === 'pipes' && cid === 'pipe-nodes' && iso.valves.has(id)) c = ISOLATION_COLORS.valve.clone();
    }
    if (state.underground && layer === 'terrain') c.alpha = 0.3;
    if (state.underground && layer === 'buildings') c.alpha = 0.35;
    if (state.highlight.size && state.highlight.has(String(feature.getProperty('id')))) c = Cesium.Color.CYAN.clone();
    if (feature === selected) c = Cesium.Color.YELLOW.clone();
    return c;
  }

  function paintContent(layer, content) {
    for (let i = 0; i < content.featuresLength; i++) {
      const f = content.getFeature(i);
      f.color = colourOf(layer, f);
    }
  }

  function repaint(layer) {
    for (const content of loaded[layer] || []) paintContent(layer, content);
  }

  // -- layers -------------------------------------------------------------------------------
  const tilesets = {};
  const index = await (await fetch(ROOT + '3dtiles')).json();
  const layersEl = document.getElementById('layers');
  for (const layer of index.layers) {
    const ts = await Cesium.Cesium3DTileset.fromUrl(ROOT + '3dtiles/' + layer.id + '/tileset.json', {
      maximumScreenSpaceError: 16,
    });
    loaded[layer.id] = new Set();
    ts.tileLoad.addEventListener((tile) => { loaded[layer.id].add(tile.content); paintContent(layer.id, tile.content); });
    ts.tileUnload.addEventListener((tile) => { loaded[layer.id].delete(tile.content); });
    scene.primitives.add(ts);
    tilesets[layer.id] = ts;
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.dataset.layer = layer.id;
    box.addEventListener('change', () => { ts.show = box.checked; });
    label.append(box, ' ' + layer.title);
    layersEl.append(label);
  }

  // -- underground mode ---------------------------------------------------------------------
  document.getElementById('underground').addEventListener('change', (ev) => {
    state.underground = ev.target.checked;
    scene.globe.translucency.enabled = state.underground;
    scene.globe.translucency.frontFaceAlpha = 0.35;
    scene.globe.translucency.backFaceAlpha = 0.35;
    scene.globe.depthTestAgainstTerrain = !state.underground;
    scene.screenSpaceCameraController.enableCollisionDetection = !state.underground;
    repaint('terrain');
    repaint('buildings');
  });

  // -- colouring by high-rise screening, when the service offers it ---------------------------
  async function loadScreening() {
    try {
      const api = await (await fetch(ROOT + 'api')).json();
      if (!api.paths || !api.paths['/analysis/high-rise']) return false;
      let url = ROOT + 'analysis/high-rise?limit=10000';
      for (let page = 0; url && page < 50; page++) {
        const resp = await fetch(url);
        if (!resp.ok) return false;
        const body = await resp.json();
        for (const f of body.features || []) {
          const v = (f.properties || {}).verdict;
          if (f.id !== undefined && VERDICT_COLORS[v]) state.verdicts.set(String(f.id), v);
        }
        const next = (body.links || []).find((l) => l.rel === 'next');
        url = next ? next.href : null;
      }
      return state.verdicts.size > 0;
    } catch (err) {
      return false;
    }
  }
  loadScreening().then((ok) => {
    if (!ok) return;
    document.getElementById('screening-option').hidden = false;
    const legend = document.getElementById('legend');
    legend.innerHTML = Object.entries(VERDICT_COLORS)
      .map(([v, c]) => `<span style="background:${c.toCssColorString()}"></span>${v}`).join('<br>');
    document.getElementById('screening').addEventListener('change', (ev) => {
      state.screening = ev.target.checked;
      legend.hidden = !state.screening;
      repaint('buildings');
    });
  });

  // -- sensors: features with an active alarm take its severity's colour ------------------------
  async function loadAlarms() {
    try {
      const resp = await fetch(ROOT + 'alarms?active=true');
      if (!resp.ok) return;
      for (const f of (await resp.json()).features || []) {
        const key = f.properties.feature;
        const sev = f.properties.severity;
        if (!key || !ALARM_COLORS[sev]) continue;
        const old = state.alarms.get(key);
        if (!old || SEVERITY.indexOf(sev) > SEVERITY.indexOf(old)) state.alarms.set(key, sev);
      }
      for (const layer of Object.keys(tilesets)) repaint(layer);
    } catch (err) { /* a service without sensors */ }
  }
  state.alarmsLoaded = loadAlarms();

  // a 24-hour sparkline (SVG) of a datastream, ending at its latest reading
  async function sparkline(dsId, latest) {
    const end = Date.parse(latest);
    const start = new Date(end - 24 * 3600 * 1000).toISOString();
    const q = new URLSearchParams({
      '$filter': `phenomenonTime gt ${start}`, '$orderby': 'phenomenonTime asc',
      '$select': 'phenomenonTime,result', '$top': '5000',
    });
    const resp = await fetch(`${ROOT}sta/v1.1/Datastreams(${dsId})/Observations?${q}`);
    if (!resp.ok) return '';
    const obs = (await resp.json()).value.filter((o) => typeof o.result === 'number');
    if (obs.length < 2) return '';
    const t = obs.map((o) => Date.parse(o.phenomenonTime));
    const v = obs.map((o) => o.result);
    const lo = Math.min(...v);
    const span = (Math.max(...v) - lo) || 1;
    const pts = obs.map((o, i) => `${(((t[i] - t[0]) / (t[t.length - 1] - t[0])) * 200).toFixed(1)},`
      + `${(38 - ((v[i] - lo) / span) * 36).toFixed(1)}`).join(' ');
    return `<svg class="spark" data-points="${obs.length}" viewBox="0 0 200 40" width="200" height="40">`
      + `<polyline fill="none" stroke="#8cf" stroke-width="1.2" points="${pts}"/></svg>`;
  }

  async function showSensors(sensors) {
    const parts = [];
    for (const th of sensors) {
      for (const d of th.datastreams) {
        const value = d.latest ? `${d.latest.result} ${escapeHtml(d.unit || '')}` : '-';
        const badge = d.alarm ? ` <b class="alarm" style="color:${ALARM_COLORS[d.alarm].toCssColorString()}">`
          + `${escapeHtml(d.alarm)}</b>` : '';
        const spark = d.latest ? await sparkline(d.id, d.latest.time) : '';
        parts.push(`<div class="sensor" data-datastream="${d.id}"><div>${escapeHtml(d.name)}: ${value}${badge}</div>`
          + `<div class="hint">${d.latest ? escapeHtml(d.latest.time) : ''}</div>${spark}</div>`);
      }
    }
    infoEl.insertAdjacentHTML('beforeend', `<h2>Sensors</h2>${parts.join('')}`);
  }
  // -- colouring homes by walking distance to a facility kind, when the city has facilities -----
  async function loadAccessKinds() {
    try {
      const api = await (await fetch(ROOT + 'api')).json();
      if (!api.paths || !api.paths['/analysis/living-circles']) return [];
      const resp = await fetch(ROOT + 'collections/facilities/items?limit=10000');
      if (!resp.ok) return [];
      const body = await resp.json();
      return [...new Set((body.features || []).map((f) => (f.properties || {}).kind).filter(Boolean))].sort();
    } catch (err) {
      return [];
    }
  }
  async function loadAccess(kind) {
    if (state.access.has(kind)) return;
    const resp = await fetch(ROOT + 'analysis/living-circles', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ circles: [{ id: 'viewer', distance_m: 1000, kinds: [kind] }] }),
    });
    const body = await resp.json();
    state.access.set(kind, new Map((body.buildings || []).map((b) => [String(b.id), b.distances_m[kind]])));
  }
  const accessReady = loadAccessKinds().then((kinds) => {
    if (!kinds.length) return;
    const sel = document.getElementById('access-kind');
    for (const k of kinds) sel.append(new Option(k, k));
    document.getElementById('access-option').hidden = false;
    const legend = document.getElementById('access-legend');
    legend.innerHTML = ACCESS_BANDS.map(([, label, c]) => [label, c])
      .concat([['none reachable', UNREACHABLE], ['not a home', NOT_A_HOME]])
      .map(([label, c]) => `<span style="background:${c.toCssColorString()}"></span>${label}`).join('<br>');
    sel.addEventListener('change', async () => {
      if (sel.value) await loadAccess(sel.value);
      state.accessKind = sel.value;
      legend.hidden = !state.accessKind;
      repaint('buildings');
    });
  });

  // -- sun and shadows: Cesium's own shadow map, lit by Cesium's sun at a date and time of the city -------------
  // The city's civil time: China keeps one, Beijing time (UTC+8, as cim.solar.sun takes it); the page may say
  // otherwise with <body data-utc-offset="...">.
  const UTC_OFFSET_H = Number(document.body.dataset.utcOffset || 8);
  document.getElementById('sun-zone').textContent = `city time (UTC${UTC_OFFSET_H >= 0 ? '+' : ''}${UTC_OFFSET_H})`;
  function cityTime(date, time) { // 'YYYY-MM-DD', 'HH:MM' in the city's civil time -> JulianDate
    const [y, m, d] = date.split('-').map(Number);
    const [hh, mm] = time.split(':').map(Number);
    return Cesium.JulianDate.fromDate(new Date(Date.UTC(y, m - 1, d, hh, mm) - UTC_OFFSET_H * 3600e3));
  }
  const sunInputs = {
    on: document.getElementById('shadows'), date: document.getElementById('sun-date'),
    time: document.getElementById('sun-time'),
  };
  // shadows on or off at a date and time (city time); returns the clock's UTC instant (ISO 8601)
  function setSun(date = sunInputs.date.value, time = sunInputs.time.value, on = true) {
    sunInputs.date.value = date;
    sunInputs.time.value = time;
    sunInputs.on.checked = on;
    viewer.clock.currentTime = cityTime(date, time);
    viewer.shadows = on;
    const sm = viewer.shadowMap;
    sm.softShadows = false;
    sm.darkness = 0.35;
    sm.maximumDistance = 4000.0;
    for (const ts of Object.values(tilesets)) ts.shadows = Cesium.ShadowMode.ENABLED;
    scene.requestRender();
    return Cesium.JulianDate.toIso8601(viewer.clock.currentTime, 0);
  }
  for (const input of Object.values(sunInputs)) {
    input.addEventListener('change', () => setSun(undefined, undefined, sunInputs.on.checked));
  }
  // the sun as Cesium lights the scene (the last frame's direction), as azimuth and altitude (degrees) at a place
  function sunAt(lon, lat) {
    const dir = scene.context.uniformState.sunDirectionWC;
    const enu = Cesium.Transforms.eastNorthUpToFixedFrame(Cesium.Cartesian3.fromDegrees(lon, lat, 0));
    const local = Cesium.Matrix4.multiplyByPointAsVector(Cesium.Matrix4.inverse(enu, new Cesium.Matrix4()), dir,
      new Cesium.Cartesian3());
    Cesium.Cartesian3.normalize(local, local);
    const deg = Cesium.Math.toDegrees;
    return { azimuth: (deg(Math.atan2(local.x, local.y)) + 360) % 360, altitude: deg(Math.asin(local.z)) };
  }

  // -- façade heat-map of the last sunlight analysis: sill points coloured by sunlit minutes ------------------
  const SUN_RAMP = ['#0d0887', '#7e03a8', '#cc4778', '#f89540', '#f0f921'].map((c) => Cesium.Color.fromCssColorString(c));
  function sunColour(minutes, span) { // plasma, 0 .. span minutes
    const x = Math.min(Math.max(minutes / (span || 1), 0), 1) * (SUN_RAMP.length - 1);
    const i = Math.min(Math.floor(x), SUN_RAMP.length - 2);
    return Cesium.Color.lerp(SUN_RAMP[i], SUN_RAMP[i + 1], x - i, new Cesium.Color());
  }
  const toMinutes = (hhmm) => { const [h, m] = hhmm.split(':').map(Number); return h * 60 + m; };
  let sunPoints = null;
  const sunLegend = document.getElementById('sun-legend');
  // draw a sunlight result (POST /analysis/sunlight, points in CRS84) or clear it (null); returns the points drawn
  function showSunlight(result) {
    if (sunPoints) { scene.primitives.remove(sunPoints); sunPoints = null; }
    state.sunlight = null;
    sunLegend.hidden = true;
    if (!result || !Array.isArray(result.buildings)) return 0;
    const win = result.window || ['08:00', '16:00'];
    const span = toMinutes(win[1]) - toMinutes(win[0]);
    sunPoints = scene.primitives.add(new Cesium.PointPrimitiveCollection());
    let n = 0;
    for (const b of result.buildings) {
      for (const p of b.points || []) {
        if (typeof p.minutes !== 'number') continue;
        sunPoints.add({
          position: Cesium.Cartesian3.fromDegrees(p.x, p.y, p.z), color: sunColour(p.minutes, span), pixelSize: 7,
          disableDepthTestDistance: Number.POSITIVE_INFINITY, id: { building: b.id, minutes: p.minutes },
        });
        n += 1;
      }
    }
    const ramp = SUN_RAMP.map((c) => c.toCssColorString()).join(', ');
    const hours = span / 60;
    sunLegend.innerHTML = `<div>Sunlit hours, ${escapeHtml(result.day || '')} ${escapeHtml(win.join('-'))}`
      + ' (true solar time)</div>'
      + `<div class="ramp" style="background: linear-gradient(to right, ${ramp})"></div>`
      + `<div class="ticks">${[0, 0.25, 0.5, 0.75, 1].map((f) => `<span>${+(f * hours).toFixed(1)} h</span>`).join('')}</div>`;
    sunLegend.hidden = n === 0;
    state.sunlight = { points: n, span, day: result.day };
    scene.requestRender();
    return n;
  }

  // -- picking ------------------------------------------------------------------------------
  const infoEl = document.getElementById('info');
  function layerOf(feature) {
    for (const [name, ts] of Object.entries(tilesets)) if (feature.tileset === ts) return name;
    return null;
  }

  function showProperties(title, props) {
    const rows = Object.entries(props).filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
      .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(String(v))}</td></tr>`).join('');
    infoEl.innerHTML = `<h2>Feature</h2><p><b>${escapeHtml(title)}</b></p><table>${rows}</table>`;
  }

  function escapeHtml(s) {
    return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  }

  async function isolate(pipeId) {
    let r = null;
    try {
      const resp = await fetch(ROOT + 'analysis/water-isolation', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ pipe: pipeId }),
      });
      if (resp.ok) r = await resp.json();
    } catch (err) { r = null; }
    state.isolation = r && {
      pipes: new Set(r.segment_pipes), valves: new Set(r.valves_to_close), buildings: new Set(r.buildings_affected),
      result: r,
    };
    repaint('pipes');
    repaint('buildings');
    if (r) {
      infoEl.insertAdjacentHTML('beforeend', '<h2>Burst isolation</h2>'
        + `<p>${r.segment_pipes.length} pipe(s) in the segment; close ${r.valves_to_close.length} valve(s): `
        + `${escapeHtml(r.valves_to_close.join(', '))}</p>`
        + `<p>${r.nodes_cut_off.length} nodes, ${r.buildings_affected.length} buildings and `
        + `${Math.round(r.population_affected)} people without water</p>`);
    }
    return r;
  }

  async function select(feature) {
    const previous = selected;
    selected = feature instanceof Cesium.Cesium3DTileFeature ? feature : null;
    if (previous) previous.color = colourOf(layerOf(previous), previous);
    if (state.isolation) { state.isolation = null; repaint('pipes'); repaint('buildings'); }
    if (!selected) {
      infoEl.innerHTML = '<h2>Feature</h2><p class="hint">Click a building, pipe or structure.</p>';
      return null;
    }
    selected.color = colourOf(layerOf(selected), selected);
    const id = selected.getProperty('id');
    const cid = selected.getProperty('collection');
    if (!cid) { showProperties(id, { layer: layerOf(selected) }); return { id }; }
    showProperties(id, { collection: cid });
    const resp = await fetch(ROOT + 'collections/' + encodeURIComponent(cid) + '/items/' + encodeURIComponent(id));
    if (resp.ok) {
      const doc = await resp.json();
      showProperties(`${id} (${cid})`, doc.properties || {});
      if (doc.sensors) await showSensors(doc.sensors);
      if (cid === 'pipes' && (doc.properties || {}).utility === 'water') {
        const isolation = await isolate(id);
        return { id, collection: cid, properties: doc.properties, sensors: doc.sensors, isolation };
      }
      return { id, collection: cid, properties: doc.properties, sensors: doc.sensors };
    }
    return { id, collection: cid };
  }

  const handler = new Cesium.ScreenSpaceEventHandler(scene.canvas);
  handler.setInputAction((click) => { select(scene.pick(click.position)); }, Cesium.ScreenSpaceEventType.LEFT_CLICK);

  // -- start: look at the city ----------------------------------------------------------------
  const home = tilesets.buildings || Object.values(tilesets)[0];
  if (home) {
    const sphere = home.boundingSphere;
    viewer.camera.viewBoundingSphere(sphere, new Cesium.HeadingPitchRange(0.3, -0.6, sphere.radius * 2.2));
    viewer.camera.lookAtTransform(Cesium.Matrix4.IDENTITY);
  }

  let frames = 0;
  scene.postRender.addEventListener(() => { frames += 1; });
  function allLoaded() {
    return Object.values(tilesets).filter((ts) => ts.show).every((ts) =>
      ts.tilesLoaded && ts.root.contentReady && ts.statistics.selected > 0);
  }
  setInterval(() => { setStatus(allLoaded() ? 'All tiles loaded.' : 'Loading tiles…'); }, 500);

  window.cim = {
    viewer, tilesets, state, allLoaded, repaint,
    frames: () => frames,
    // look at a point (degrees, metres) from `range` metres away, `pitch` radians below the horizon
    flyTo(lon, lat, height, range = 300, pitch = -1.2, heading = 0) {
      const target = Cesium.Cartesian3.fromDegrees(lon, lat, height);
      viewer.camera.lookAt(target, new Cesium.HeadingPitchRange(heading, pitch, range));
      viewer.camera.lookAtTransform(Cesium.Matrix4.IDENTITY);
    },
    accessReady,
    setSun, sunAt, showSunlight,
    // the CSS colour a sill point with `minutes` of sun in a window of `span` minutes is drawn with
    sunColour: (minutes, span) => sunColour(minutes, span).toCssColorString(),
    // the colours of the drawn sill points (CSS), in the result's order
    sunPointColours: () => (sunPoints ? Array.from({ length: sunPoints.length }, (_, i) => sunPoints.get(i).color.toCssColorString()) : []),
    // the CSS colour a home at walking distance d (metres; null: unreachable) is drawn with
    accessColour: (d) => accessColour(d).toCssColorString(),
    verdictColours: Object.fromEntries(Object.entries(VERDICT_COLORS).map(([v, c]) => [v, c.toCssColorString()])),
    clearSelection() { select(undefined); },
    // a water pipe's isolation, highlighted as if the pipe were clicked; the result of the analysis
    isolate,
    isolationColours: Object.fromEntries(Object.entries(ISOLATION_COLORS).map(([k, c]) => [k, c.toCssColorString()])),
    // select a loaded feature by layer and id, as a click would (null when it is not loaded)
    async selectById(layer, id) {
      for (const content of loaded[layer] || []) {
        for (let i = 0; i < content.featuresLength; i++) {
          const f = content.getFeature(i);
          if (f.getProperty('id') === id) return select(f);
        }
      }
      return null;
    },
    // the colour a loaded feature is drawn with (CSS), or null when it is not loaded
    featureColour(layer, id) {
      for (const content of loaded[layer] || []) {
        for (let i = 0; i < content.featuresLength; i++) {
          const f = content.getFeature(i);
          if (f.getProperty('id') === id) return f.color.toCssColorString();
        }
      }
      return null;
    },
    // pick at the middle of the canvas: {feature: bool, id, collection, properties}
    async pickCentre() {
      const c = new Cesium.Cartesian2(scene.canvas.clientWidth / 2, scene.canvas.clientHeight / 2);
      const picked = scene.pick(c);
      const isFeature = picked instanceof Cesium.Cesium3DTileFeature;
      const out = await select(picked);
      return { feature: isFeature, ...(out || {}) };
    },
  };
  setStatus('Loading tiles…');
})();
