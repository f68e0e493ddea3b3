// Switchboard dashboard: a dependency-free ES module served by the gateway at /ui/.
// It talks to the admin API (/admin/api/*) with the admin token, and keeps itself current with
// the live event stream. Data is only ever put into the page with textContent, never as HTML.

const TOKEN_KEY = 'switchboard.adminToken';
const FEED_MAX = 50;
const CLOSED_MAX = 25;
const PENDING_MAX_AGE_MS = 15 * 60 * 1000;
const SAFETY_POLL_MS = 60 * 1000;

const state = {
  token: null,
  status: null,
  statusFetchedAt: 0,
  usage: [],
  active: new Map(),
  closed: [],
  closedMore: false,
  feed: [],
  models: [],
  // The live-event stream is open, and the last API call reached the gateway.
  streamUp: false,
  apiUp: true,
  everLive: false,
  stopped: false,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** Creates an element: h('td', {class: 'r', title: 'x'}, 'text', child, …). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function setText(id, text) {
  const el = $(id);
  if (el && el.textContent !== text) el.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Formatting

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 2 });
const pad2 = (n) => String(n).padStart(2, '0');

function fmtInt(n) {
  if (n == null || Number.isNaN(n)) return '—';
  return Math.abs(n) >= 1e6 ? compactFormat.format(n) : intFormat.format(n);
}

function fmtUsd(usd) {
  if (usd == null) return 'unknown';
  if (usd === 0) return '$0.00';
  if (usd >= 1000) return '$' + intFormat.format(Math.round(usd));
  if (usd >= 1) return '$' + usd.toFixed(2);
  if (usd >= 0.01) return '$' + usd.toFixed(3);
  if (usd < 0.000001) return '<$0.000001';
  // Two significant digits: $0.0012, $0.00095, $0.000010.
  const decimals = Math.min(8, 1 - Math.floor(Math.log10(usd)));
  return '$' + usd.toFixed(decimals);
}

function fmtMs(ms) {
  if (ms == null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function fmtDuration(secs) {
  secs = Math.max(0, Math.floor(secs));
  const d = Math.floor(secs / 86400);
  const hh = Math.floor((secs % 86400) / 3600);
  const mm = Math.floor((secs % 3600) / 60);
  const ss = secs % 60;
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${mm} min`;
  if (mm > 0) return `${mm} min ${ss} s`;
  return `${ss} s`;
}

function fmtAgo(ms) {
  const secs = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (secs < 5) return 'just now';
  if (secs < 60) return `${secs} s ago`;
  if (secs < 3600) return `${Math.floor(secs / 60)} min ago`;
  if (secs < 86400) return `${Math.floor(secs / 3600)} h ago`;
  return `${Math.floor(secs / 86400)} d ago`;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** 14:03:27 today, otherwise with the date: Nov 20 14:03:27. */
function fmtClock(ms) {
  const d = new Date(ms);
  const clock = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  return d.toDateString() === new Date().toDateString() ? clock : `${dayFormat.format(d)} ${clock}`;
}

const fmtFull = (ms) => new Date(ms).toLocaleString();
const plural = (n, one, many = one + 's') => `${fmtInt(n)} ${n === 1 ? one : many}`;

/** A <time> that the ticker keeps saying "12 s ago". */
function agoEl(ms) {
  return h('time', { datetime: new Date(ms).toISOString(), title: fmtFull(ms), dataset: { ago: String(ms) } }, fmtAgo(ms));
}

/** Cost of a session or usage row: a sum of known costs plus a count of unpriced requests. */
function costCell(cost, unpriced) {
  if (unpriced > 0 && !(cost > 0)) {
    return h('span', { class: 'unknown', title: `No price known for ${plural(unpriced, 'request')}; the cost is unknown, not zero` }, 'unknown');
  }
  if (unpriced > 0) {
    return h('span', { title: `Known costs only: ${plural(unpriced, 'request')} without a price are not included` },
      fmtUsd(cost), h('span', { class: 'plus-unknown', 'aria-label': ' plus unknown' }, '+?'));
  }
  return h('span', {}, fmtUsd(cost));
}

/** Cost of one request: null is unknown. */
function requestCost(req) {
  if (req.cost_usd == null) {
    const why = req.usage_source === 'none' ? 'no usage was reported or estimated' : 'no price is known for this model';
    return h('span', { class: 'unknown', title: `Unknown: ${why}` }, 'unknown');
  }
  return h('span', {}, fmtUsd(req.cost_usd));
}

function tokensCell(usage, source) {
  const estimated = typeof source === 'string' && source.startsWith('estimated');
  if (source === 'none') return h('span', { class: 'muted', title: 'No usage reported' }, '—');
  const parts = [h('span', {}, fmtInt(usage.input_tokens)), h('span', { class: 'sep' }, ' / '), h('span', {}, fmtInt(usage.output_tokens))];
  const details = [];
  if (usage.cached_input_tokens) details.push(`${fmtInt(usage.cached_input_tokens)} cached input`);
  if (usage.cache_write_tokens) details.push(`${fmtInt(usage.cache_write_tokens)} cache writes`);
  if (usage.reasoning_tokens) details.push(`${fmtInt(usage.reasoning_tokens)} reasoning`);
  const title = [`${fmtInt(usage.input_tokens)} in, ${fmtInt(usage.output_tokens)} out`, ...details].join(' · ');
  return h('span', { class: 'tokens', title },
    estimated ? h('span', { class: 'badge badge-est', title: `Estimated (${source.slice('estimated:'.length) || 'tokenizer'}): the provider reported no usage` }, 'est.') : null,
    parts);
}

const STATUS_LABELS = {
  ok: 'ok',
  upstream_error: 'upstream error',
  client_disconnected: 'disconnected',
  gateway_error: 'gateway error',
};

function statusCell(req) {
  if (req.pending) {
    return h('span', { class: 'badge badge-pending' }, h('span', { class: 'pulse', 'aria-hidden': 'true' }), req.stream ? 'streaming' : 'in flight');
  }
  const kind = { ok: 'ok', upstream_error: 'err', gateway_error: 'err', client_disconnected: 'warn' }[req.status] ?? 'err';
  const label = STATUS_LABELS[req.status] ?? req.status;
  const code = req.http_status && req.status !== 'ok' && req.status !== 'client_disconnected' ? ` ${req.http_status}` : '';
  return h('div', { class: 'status-cell' },
    h('span', { class: `badge badge-${kind}`, title: req.http_status ? `HTTP ${req.http_status}` : null }, label + code),
    req.error ? h('div', { class: 'error-text', title: req.error }, req.error) : null);
}

function routeCell(req) {
  const upstream = req.pending ? '…' : req.provider ? `${req.provider}/${req.upstream_model ?? '?'}` : 'not routed';
  return h('div', { class: 'route' },
    h('span', { class: 'model' }, req.client_model ?? '(no model)'),
    req.stream ? h('span', { class: 'badge badge-muted', title: 'Streamed response' }, 'stream') : null,
    h('span', { class: 'to' },
      h('span', { class: 'arrow', 'aria-label': 'routed to' }, '→'),
      h('span', { class: 'upstream mono' }, upstream)));
}

function contextCell(session) {
  const fill = session.context_fill;
  if (fill == null) {
    return h('span', { class: 'muted', title: 'The context window of this model is unknown' }, '—');
  }
  const pct = Math.max(0, fill * 100);
  const level = fill > 0.95 ? 'danger' : fill > 0.8 ? 'warn' : 'ok';
  const bar = h('span', { class: 'bar-fill' });
  bar.style.width = `${Math.min(100, pct).toFixed(1)}%`;
  const text = pct < 1 && pct > 0 ? '<1%' : `${Math.round(pct)}%`;
  return h('div', {
    class: `ctx ctx-${level}`,
    role: 'meter',
    'aria-label': 'Context window filled',
    'aria-valuemin': '0',
    'aria-valuemax': '100',
    'aria-valuenow': pct.toFixed(0),
    'aria-valuetext': `${text}: ${fmtInt(session.last_input_tokens)} of ${fmtInt(session.context_limit)} tokens`,
    title: `Last request: ${fmtInt(session.last_input_tokens)} of ${fmtInt(session.context_limit)} context tokens`,
  }, h('span', { class: 'bar', 'aria-hidden': 'true' }, bar), h('span', { class: 'ctx-text' }, text));
}

function emptyRow(colspan, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: String(colspan) }, text));
}

// ---------------------------------------------------------------------------------------------
// Admin API

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, method = 'GET') {
  let response;
  try {
    response = await fetch(path, {
      method,
      cache: 'no-store',
      headers: { Authorization: `Bearer ${state.token}`, Accept: 'application/json' },
    });
  } catch {
    setApiUp(false);
    throw new ApiError('Cannot reach Switchboard. Is it still running?', 0, 'network');
  }
  setApiUp(true);
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body?.error?.message ?? `${response.status} ${response.statusText || 'error'}`;
    const error = new ApiError(message, response.status, body?.error?.code);
    if (response.status === 401) lockOut(message);
    throw error;
  }
  return body;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------------
// Loading

/** Midnight UTC today, the same "today" as the gateway's `requests_today`. */
function startOfUtcDay() {
  const now = new Date();
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
}

const loaders = {
  async status() {
    state.status = await api('/admin/api/status');
    state.statusFetchedAt = Date.now();
    renderStatus();
  },
  async usage() {
    const body = await api(`/admin/api/usage?group_by=model&since=${startOfUtcDay()}`);
    state.usage = body.rows ?? [];
    renderUsage();
  },
  async active() {
    const body = await api('/admin/api/sessions?status=active&limit=200');
    state.active = new Map(body.items.map((s) => [s.id, s]));
    renderActive();
  },
  async closed() {
    const [idle, user] = await Promise.all([
      api(`/admin/api/sessions?status=idle_closed&limit=${CLOSED_MAX}`),
      api(`/admin/api/sessions?status=closed_by_user&limit=${CLOSED_MAX}`),
    ]);
    const all = [...idle.items, ...user.items];
    all.sort((a, b) => (b.closed_at ?? b.last_active_at) - (a.closed_at ?? a.last_active_at));
    state.closedMore = Boolean(idle.next_cursor || user.next_cursor) || all.length > CLOSED_MAX;
    state.closed = all.slice(0, CLOSED_MAX);
    renderClosed();
  },
  async feed() {
    const body = await api(`/admin/api/requests?limit=${FEED_MAX}`);
    const finished = new Set(body.items.map((r) => r.id));
    const now = Date.now();
    const pending = state.feed.filter((r) => r.pending && !finished.has(r.id) && now - r.started_at < PENDING_MAX_AGE_MS);
    state.feed = [...pending, ...body.items].slice(0, FEED_MAX);
    renderFeed();
  },
};

let refreshQueued = new Set();
let refreshTimer = null;
let refreshRunning = false;

/** Coalesces refreshes: bursts of events cause one fetch per kind, at most every 400 ms. */
function scheduleRefresh(...kinds) {
  for (const kind of kinds) refreshQueued.add(kind);
  if (refreshTimer || refreshRunning) return;
  refreshTimer = setTimeout(runRefresh, 250);
}

async function runRefresh() {
  refreshTimer = null;
  if (state.stopped) return;
  const kinds = [...refreshQueued];
  refreshQueued = new Set();
  refreshRunning = true;
  const results = await Promise.allSettled(kinds.map((k) => loaders[k]()));
  refreshRunning = false;
  const failure = results.find((r) => r.status === 'rejected');
  if (failure && failure.reason?.status === 0) {
    // The gateway is gone (or stopping): try the same refresh again in a while.
    for (const kind of kinds) refreshQueued.add(kind);
    if (!refreshTimer) refreshTimer = setTimeout(runRefresh, 3000);
    return;
  }
  if (failure && failure.reason?.status !== 401) toast(failure.reason?.message ?? String(failure.reason), 'error');
  if (refreshQueued.size > 0 && !refreshTimer) refreshTimer = setTimeout(runRefresh, 400);
}

function refreshAll() {
  scheduleRefresh(...Object.keys(loaders));
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderStatus() {
  const s = state.status;
  if (!s) return;
  setText('st-listen', s.listen);
  setText('st-base', `${s.base_url}/v1`);
  $('copy-base').disabled = false;
  setText('st-today', fmtInt(s.requests_today));
  setText('st-version', `v${s.version}`);
  setText('ft-config', s.config_path ?? '(none)');
  setText('ft-data', s.data_dir ?? '(none)');
  setText('ft-counts', `${plural(s.provider_count, 'provider')} · ${plural(s.model_count, 'model')}`);
  $('footer').hidden = false;
  tickUptime();
  renderSnippets();
}

function tickUptime() {
  const s = state.status;
  if (!s) return;
  const secs = s.uptime_secs + (isLive() ? (Date.now() - state.statusFetchedAt) / 1000 : 0);
  setText('st-uptime', fmtDuration(secs));
}

function renderUsage() {
  const rows = state.usage;
  const total = rows.reduce((t, r) => {
    for (const k of ['requests', 'errors', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'reasoning_tokens', 'cost_usd', 'unpriced_requests']) {
      t[k] = (t[k] ?? 0) + (r[k] ?? 0);
    }
    return t;
  }, {});
  setText('t-requests', fmtInt(total.requests ?? 0));
  setText('t-requests-sub', total.errors ? plural(total.errors, 'error') : 'no errors');
  $('t-requests-sub').classList.toggle('sub-err', Boolean(total.errors));
  setText('t-input', fmtInt(total.input_tokens ?? 0));
  setText('t-input-sub', total.cached_input_tokens ? `${fmtInt(total.cached_input_tokens)} from cache` : '\u00a0');
  setText('t-output', fmtInt(total.output_tokens ?? 0));
  setText('t-output-sub', total.reasoning_tokens ? `${fmtInt(total.reasoning_tokens)} reasoning` : '\u00a0');
  const cost = $('t-cost');
  const unpriced = total.unpriced_requests ?? 0;
  if (unpriced > 0 && !(total.cost_usd > 0)) {
    setText('t-cost', 'unknown');
    cost.classList.add('unknown');
  } else {
    setText('t-cost', fmtUsd(total.cost_usd ?? 0));
    cost.classList.remove('unknown');
  }
  setText('t-cost-sub', unpriced > 0 ? `excludes ${plural(unpriced, 'unpriced request')}` : rows.length ? 'all requests priced' : '\u00a0');
  $('t-cost-sub').title = unpriced > 0 ? `No price is known for ${plural(unpriced, 'request')}: their cost is unknown, and not in this sum` : '';
  $('t-cost-sub').classList.toggle('sub-warn', unpriced > 0);

  const body = $('models-body');
  if (rows.length === 0) {
    body.replaceChildren(emptyRow(7, 'No requests today yet.'));
    return;
  }
  body.replaceChildren(...rows.map((r) => h('tr', {},
    h('th', { scope: 'row', class: 'model' }, r.key || '(unrouted)'),
    h('td', { class: 'r num' }, fmtInt(r.requests)),
    h('td', { class: `r num ${r.errors ? 'text-err' : 'muted'}` }, fmtInt(r.errors)),
    h('td', { class: 'r num' }, fmtInt(r.input_tokens)),
    h('td', { class: 'r num muted' }, fmtInt(r.cached_input_tokens)),
    h('td', { class: 'r num' }, fmtInt(r.output_tokens)),
    h('td', { class: 'r num' }, costCell(r.cost_usd, r.unpriced_requests)))));
}

function clientCell(session) {
  return h('button', {
    type: 'button',
    class: 'link',
    title: `Session ${session.id}: show its requests`,
    onclick: () => openSession(session.id),
  }, session.client);
}

function renderActive() {
  const sessions = [...state.active.values()].sort((a, b) => b.last_active_at - a.last_active_at);
  setText('active-count', sessions.length ? String(sessions.length) : '');
  const body = $('active-body');
  if (sessions.length === 0) {
    const base = state.status ? `${state.status.base_url}/v1` : 'the base URL';
    body.replaceChildren(emptyRow(8, `No active sessions. Point a client at ${base} and it shows up here.`));
    return;
  }
  body.replaceChildren(...sessions.map((s) => h('tr', { dataset: { id: s.id } },
    h('td', { class: 'client' }, clientCell(s)),
    h('td', {}, h('div', { class: 'model' }, s.client_model), h('div', { class: 'sub muted' }, `via ${s.provider}`)),
    h('td', { class: 'r num' }, fmtInt(s.request_count),
      s.error_count ? h('div', { class: 'sub text-err' }, plural(s.error_count, 'error')) : null),
    h('td', { class: 'r num' }, tokensCell(s.usage)),
    h('td', { class: 'r num' }, costCell(s.cost_usd, s.unpriced_requests)),
    h('td', {}, contextCell(s)),
    h('td', { class: 'r num' }, agoEl(s.last_active_at)),
    h('td', { class: 'r actions' }, h('div', { class: 'actions-inner' },
      h('button', { type: 'button', class: 'btn btn-xs', onclick: () => closeSession(s), 'aria-label': `Close session of ${s.client} with ${s.client_model}` }, 'Close'),
      h('button', { type: 'button', class: 'btn btn-xs btn-danger-ghost', onclick: () => deleteSession(s), 'aria-label': `Delete session of ${s.client} with ${s.client_model}` }, 'Delete'))))));
}

function renderClosed() {
  const sessions = state.closed;
  setText('closed-count', sessions.length ? (state.closedMore ? `${sessions.length}+` : String(sessions.length)) : '');
  const body = $('closed-body');
  if (sessions.length === 0) {
    body.replaceChildren(emptyRow(7, 'No closed sessions.'));
    return;
  }
  body.replaceChildren(...sessions.map((s) => h('tr', { dataset: { id: s.id } },
    h('td', { class: 'client' }, clientCell(s)),
    h('td', { class: 'model' }, s.client_model),
    h('td', { class: 'r num' }, fmtInt(s.request_count)),
    h('td', { class: 'r num' }, tokensCell(s.usage)),
    h('td', { class: 'r num' }, costCell(s.cost_usd, s.unpriced_requests)),
    h('td', { class: 'r num' }, s.closed_at ? agoEl(s.closed_at) : '—',
      h('div', { class: 'sub muted' }, s.status === 'idle_closed' ? 'idle' : 'by you')),
    h('td', { class: 'r actions' },
      h('button', { type: 'button', class: 'btn btn-xs btn-danger-ghost', onclick: () => deleteSession(s), 'aria-label': `Delete closed session of ${s.client} with ${s.client_model}` }, 'Delete')))));
}

function requestRow(req, { withClient = true } = {}) {
  const ttfb = req.pending ? '…' : fmtMs(req.ttfb_ms);
  const duration = req.pending ? '…' : fmtMs(req.duration_ms);
  return h('tr', { class: req.pending ? 'pending' : req.status !== 'ok' ? 'row-bad' : null, dataset: { id: req.id } },
    h('td', { class: 'num time' }, h('time', { datetime: new Date(req.started_at).toISOString(), title: fmtFull(req.started_at) }, fmtClock(req.started_at))),
    withClient ? h('td', { class: 'client' }, req.client) : null,
    h('td', {}, routeCell(req)),
    h('td', {}, statusCell(req)),
    h('td', { class: 'r num' }, req.pending ? h('span', { class: 'muted' }, '…') : tokensCell(req.usage, req.usage_source)),
    h('td', { class: 'r num col-ttfb' }, ttfb),
    h('td', { class: 'r num' }, duration, req.pending ? null : h('div', { class: 'sub muted ttfb-inline' }, `ttfb ${ttfb}`)),
    h('td', { class: 'r num' }, req.pending ? h('span', { class: 'muted' }, '…') : requestCost(req)));
}

function renderFeed() {
  const body = $('feed-body');
  if (state.feed.length === 0) {
    body.replaceChildren(emptyRow(8, 'No requests yet. They appear here the moment they start.'));
    return;
  }
  body.replaceChildren(...state.feed.map((r) => requestRow(r)));
}

/** Re-renders relative times and the uptime once a second. */
function tick() {
  for (const el of document.querySelectorAll('[data-ago]')) {
    const text = fmtAgo(Number(el.dataset.ago));
    if (el.textContent !== text) el.textContent = text;
  }
  tickUptime();
}

// ---------------------------------------------------------------------------------------------
// Connect-your-IDE snippets

function renderSnippets() {
  const base = state.status ? `${state.status.base_url}/v1` : 'http://127.0.0.1:4141/v1';
  const root = state.status ? state.status.base_url : 'http://127.0.0.1:4141';
  const model = state.models[0] ?? 'YOUR-MODEL';
  const models = state.models.length ? state.models : ['YOUR-MODEL'];
  setText('snip-openai', [
    `Base URL:  ${base}`,
    'API key:   switchboard',
    `Models:    ${models.slice(0, 4).join(', ')}${models.length > 4 ? ', …' : ''}`,
    '',
    '# Most SDKs and CLIs read these:',
    `export OPENAI_BASE_URL=${base}`,
    'export OPENAI_API_KEY=switchboard',
    '',
    '# Try it:',
    `curl ${base}/chat/completions \\`,
    `  -H 'content-type: application/json' \\`,
    `  -d '{"model": "${model}",`,
    `       "messages": [{"role": "user", "content": "Hello"}]}'`,
  ].join('\n'));
  setText('snip-continue', [
    'models:',
    ...models.slice(0, 3).flatMap((m) => [
      `  - name: ${m} (Switchboard)`,
      '    provider: openai',
      `    model: ${m}`,
      `    apiBase: ${base}`,
      '    apiKey: switchboard',
    ]),
  ].join('\n'));
  setText('snip-claude', [
    `export ANTHROPIC_BASE_URL=${root}`,
    'export ANTHROPIC_AUTH_TOKEN=switchboard',
    `claude --model ${model}`,
  ].join('\n'));
  setText('snip-codex', [
    '# ~/.codex/config.toml',
    `model = "${model}"`,
    'model_provider = "switchboard"',
    '',
    '[model_providers.switchboard]',
    'name = "Switchboard"',
    `base_url = "${base}"`,
    'wire_api = "responses"',
    'env_key = "SWITCHBOARD_API_KEY"',
  ].join('\n'));
}

/** The configured model names, for the snippets. Needs no admin token; may need a client token. */
async function loadModels() {
  try {
    const response = await fetch('/v1/models', { cache: 'no-store' });
    if (!response.ok) return;
    const body = await response.json();
    state.models = (body.data ?? []).map((m) => m.id).filter(Boolean).sort();
    renderSnippets();
  } catch {
    // The snippets keep their placeholder.
  }
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('#connect-tabs [role="tab"]')];
  const select = (tab, focus) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
    if (focus) tab.focus();
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (e) => {
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 };
      if (!(e.key in moves)) return;
      e.preventDefault();
      select(tabs[(moves[e.key] + tabs.length) % tabs.length], true);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Clipboard, toasts, dialogs

async function copyText(text, button) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Not a secure context (e.g. a LAN host name): fall back to a selection.
    const area = h('textarea', { class: 'visually-hidden', readonly: true });
    area.value = text;
    document.body.append(area);
    area.select();
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
  }
  if (button) {
    const label = button.textContent;
    button.textContent = ok ? 'Copied' : 'Copy failed';
    button.classList.toggle('copied', ok);
    setTimeout(() => {
      button.textContent = label;
      button.classList.remove('copied');
    }, 1500);
  }
  if (!ok) toast('Could not copy; select the text and copy it by hand.', 'error');
}

let toastTimer = null;
function toast(message, kind = 'info') {
  const el = $('toast');
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, kind === 'error' ? 7000 : 3500);
}

/** A modal confirmation; resolves to true when confirmed. `extra` is an optional form control. */
function confirmDialog({ title, text, ok = 'OK', danger = true, extra = null }) {
  const dialog = $('confirm-dialog');
  setText('confirm-title', title);
  setText('confirm-text', text);
  $('confirm-extra').replaceChildren(...(extra ? [extra] : []));
  const okButton = $('confirm-ok');
  okButton.textContent = ok;
  okButton.className = danger ? 'btn btn-danger' : 'btn btn-primary';
  return new Promise((resolve) => {
    const form = $('confirm-form');
    const done = (value) => {
      form.removeEventListener('submit', onSubmit);
      $('confirm-cancel').removeEventListener('click', onCancel);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (e) => {
      e.preventDefault();
      done(true);
    };
    const onCancel = () => done(false);
    const onClose = () => done(false);
    form.addEventListener('submit', onSubmit);
    $('confirm-cancel').addEventListener('click', onCancel);
    dialog.addEventListener('close', onClose);
    dialog.showModal();
    (extra?.querySelector('input') ?? $('confirm-cancel')).focus();
  });
}

// ---------------------------------------------------------------------------------------------
// Actions

async function closeSession(session) {
  try {
    const body = await api(`/admin/api/sessions/${enc(session.id)}/close`, 'POST');
    state.active.delete(session.id);
    if (body?.session) upsertClosed(body.session);
    renderActive();
    toast(`Closed the session of ${session.client} with ${session.client_model}.`);
    scheduleRefresh('closed');
  } catch (error) {
    if (error.status !== 401) toast(error.message, 'error');
  }
}

async function deleteSession(session) {
  const confirmed = await confirmDialog({
    title: 'Delete this session?',
    text: `${session.client} with ${session.client_model}: ${plural(session.request_count, 'request')} and their details are removed for good.`,
    ok: 'Delete',
  });
  if (!confirmed) return;
  try {
    const body = await api(`/admin/api/sessions/${enc(session.id)}`, 'DELETE');
    state.active.delete(session.id);
    state.closed = state.closed.filter((s) => s.id !== session.id);
    renderActive();
    renderClosed();
    const n = body?.deleted_requests;
    toast(n == null ? 'Deleted the session.' : `Deleted the session and ${plural(n, 'request')}.`);
    scheduleRefresh('closed', 'feed', 'usage', 'status');
  } catch (error) {
    if (error.status !== 401) toast(error.message, 'error');
  }
}

async function cleanUp() {
  const input = h('input', { id: 'cleanup-days', type: 'number', min: '0', step: '1', inputmode: 'numeric', placeholder: 'retention setting' });
  const extra = h('div', { class: 'field' },
    h('label', { for: 'cleanup-days' }, 'Delete closed sessions older than (days)'),
    input,
    h('p', { class: 'hint' }, 'Leave empty to use sessions.retention_days from the config. 0 deletes every closed session.'));
  const confirmed = await confirmDialog({
    title: 'Clean up sessions?',
    text: 'This closes sessions that have gone idle, then deletes closed sessions and their request details. Daily usage totals are kept.',
    ok: 'Clean up',
    extra,
  });
  if (!confirmed) return;
  const days = input.value.trim();
  const result = $('cleanup-result');
  if (days !== '' && !/^\d+$/.test(days)) {
    toast('The number of days must be a whole number.', 'error');
    return;
  }
  const button = $('cleanup-btn');
  button.disabled = true;
  try {
    const r = await api(`/admin/api/sessions/cleanup${days === '' ? '' : `?older_than_days=${enc(days)}`}`, 'POST');
    const age = r.older_than_days === 0 ? 'closed sessions' : `closed sessions older than ${plural(r.older_than_days, 'day')}`;
    result.textContent = r.closed_sessions + r.deleted_sessions + r.deleted_requests === 0
      ? `Nothing to clean up: no idle sessions, and no ${age}.`
      : `Cleaned up: closed ${plural(r.closed_sessions, 'idle session')}; deleted ${plural(r.deleted_sessions, 'closed session')} `
        + `with ${plural(r.deleted_requests, 'request')} (${age}).`;
    result.hidden = false;
    result.dataset.kind = 'ok';
    scheduleRefresh('active', 'closed', 'feed', 'usage', 'status');
  } catch (error) {
    if (error.status !== 401) {
      result.textContent = `Clean-up failed: ${error.message}`;
      result.hidden = false;
      result.dataset.kind = 'error';
    }
  } finally {
    button.disabled = false;
  }
}

async function openSession(id) {
  const dialog = $('session-dialog');
  const body = $('session-requests');
  setText('session-title', 'Session');
  $('session-facts').replaceChildren();
  body.replaceChildren(emptyRow(7, 'Loading…'));
  dialog.showModal();
  try {
    const data = await api(`/admin/api/sessions/${enc(id)}`);
    const s = data.session;
    setText('session-title', `${s.client} · ${s.client_model}`);
    const fact = (label, ...value) => h('div', {}, h('dt', {}, label), h('dd', {}, ...value));
    const statusText = { active: 'active', idle_closed: 'closed (idle)', closed_by_user: 'closed by you' }[s.status] ?? s.status;
    $('session-facts').replaceChildren(
      fact('Status', statusText),
      fact('Provider', s.provider),
      fact('Started', fmtFull(s.created_at)),
      fact('Last active', agoEl(s.last_active_at)),
      fact('Requests', `${fmtInt(s.request_count)}${s.error_count ? ` (${plural(s.error_count, 'error')})` : ''}`),
      fact('Tokens in / out', tokensCell(s.usage)),
      fact('Cost', costCell(s.cost_usd, s.unpriced_requests)),
      fact('Context', contextCell(s)),
      fact('Id', h('code', {}, s.id)));
    const requests = [...data.requests].sort((a, b) => b.started_at - a.started_at);
    body.replaceChildren(...(requests.length ? requests.map((r) => requestRow(r, { withClient: false })) : [emptyRow(7, 'No requests are stored for this session.')]));
  } catch (error) {
    body.replaceChildren(emptyRow(7, error.message));
  }
}

function upsertClosed(session) {
  state.closed = [session, ...state.closed.filter((s) => s.id !== session.id)].slice(0, CLOSED_MAX);
  renderClosed();
}

// ---------------------------------------------------------------------------------------------
// Live events

let events = null;
let reconnectTimer = null;
let reconnectDelay = 1000;

function parse(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    return null;
  }
}

const isLive = () => state.streamUp && state.apiUp;

function setStreamUp(up) {
  updateConnection(() => {
    state.streamUp = up;
  });
}

function setApiUp(up) {
  if (state.apiUp !== up) updateConnection(() => {
    state.apiUp = up;
  });
}

/** Applies a change to the connection state, then shows it in the header and the banner. */
function updateConnection(change) {
  const wasLive = isLive();
  if (wasLive && state.status) {
    // Freeze the uptime while we cannot see the gateway.
    state.status.uptime_secs += (Date.now() - state.statusFetchedAt) / 1000;
    state.statusFetchedAt = Date.now();
  }
  change();
  const live = isLive();
  if (live) state.everLive = true;
  if (live && !wasLive && state.status) state.statusFetchedAt = Date.now();
  if (state.stopped) return;
  const conn = $('conn');
  conn.dataset.state = live ? 'live' : state.everLive ? 'reconnecting' : 'connecting';
  setText('conn-text', live ? 'Live' : state.everLive ? 'Reconnecting…' : 'Connecting…');
  if (live) {
    hideBanner();
  } else if (state.everLive || !state.apiUp) {
    showBanner(state.apiUp
      ? 'Live updates were interrupted. Reconnecting…'
      : `Cannot reach Switchboard at ${location.host}. Is it still running? Reconnecting…`);
  }
}

function showBanner(text) {
  setText('banner-text', text);
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

function connectEvents() {
  clearTimeout(reconnectTimer);
  if (events) events.close();
  if (state.stopped) return;
  const source = new EventSource(`/admin/api/events?token=${enc(state.token)}`);
  events = source;
  source.addEventListener('ready', () => {
    reconnectDelay = 1000;
    setStreamUp(true);
    // Anything may have happened while we were away (or before the stream began).
    refreshAll();
  });
  source.addEventListener('request.started', (e) => {
    const r = parse(e);
    if (!r || state.feed.some((x) => x.id === r.id)) return;
    state.feed.unshift({ ...r, started_at: r.time, pending: true });
    state.feed.length = Math.min(state.feed.length, FEED_MAX);
    renderFeed();
  });
  source.addEventListener('request.finished', (e) => {
    const r = parse(e);
    if (!r) return;
    delete r.type;
    const i = state.feed.findIndex((x) => x.id === r.id);
    if (i >= 0) state.feed[i] = r;
    else state.feed.unshift(r);
    state.feed.sort((a, b) => b.started_at - a.started_at);
    state.feed.length = Math.min(state.feed.length, FEED_MAX);
    renderFeed();
    const session = r.session_id && state.active.get(r.session_id);
    if (session) {
      session.last_active_at = Math.max(session.last_active_at, r.started_at + (r.duration_ms ?? 0));
    }
    scheduleRefresh('usage', 'status', 'active');
  });
  source.addEventListener('session.opened', (e) => {
    const s = parse(e);
    if (!s) return;
    delete s.type;
    state.active.set(s.id, s);
    state.closed = state.closed.filter((c) => c.id !== s.id);
    renderActive();
    renderClosed();
  });
  source.addEventListener('session.closed', (e) => {
    const s = parse(e);
    if (!s) return;
    delete s.type;
    state.active.delete(s.id);
    renderActive();
    upsertClosed(s);
  });
  source.addEventListener('lagged', () => refreshAll());
  source.addEventListener('error', () => {
    if (events !== source) return;
    setStreamUp(false);
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. an HTTP error rather than a dropped connection): retry ourselves,
      // checking the token first so that a rejected one is reported rather than retried forever.
      reconnectTimer = setTimeout(probeAndReconnect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 30_000);
    }
  });
}

async function probeAndReconnect() {
  try {
    await loaders.status();
    connectEvents();
  } catch (error) {
    if (error.status === 401) return;
    reconnectTimer = setTimeout(probeAndReconnect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 30_000);
  }
}

// ---------------------------------------------------------------------------------------------
// Token and start-up

function readToken() {
  let fromHash = null;
  if (location.hash.length > 1) {
    const params = new URLSearchParams(location.hash.slice(1));
    fromHash = params.get('token');
    if (fromHash !== null) {
      params.delete('token');
      const rest = params.toString();
      history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
    }
  }
  try {
    if (fromHash) sessionStorage.setItem(TOKEN_KEY, fromHash);
    return fromHash || sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return fromHash;
  }
}

/** No usable token: stop everything and explain where to find one. */
function lockOut(reason) {
  state.stopped = true;
  state.token = null;
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage may be unavailable; nothing to remove then.
  }
  if (events) events.close();
  clearTimeout(reconnectTimer);
  hideBanner();
  $('dashboard').hidden = true;
  $('footer').hidden = true;
  $('no-token').hidden = false;
  $('status-strip').hidden = true;
  const conn = $('conn');
  conn.dataset.state = 'off';
  setText('conn-text', 'Not signed in');
  if (reason) {
    setText('no-token-title', 'The admin token was not accepted');
    setText('no-token-reason', `Switchboard said: ${reason}`);
  }
  setText('no-token-example', `${location.origin}/ui/#token=TOKEN`);
}

function start() {
  setupTabs();
  renderSnippets();
  $('copy-base').addEventListener('click', (e) => copyText($('st-base').textContent, e.currentTarget));
  for (const button of document.querySelectorAll('[data-copy]')) {
    button.addEventListener('click', () => copyText($(button.dataset.copy).textContent, button));
  }
  $('cleanup-btn').addEventListener('click', cleanUp);
  $('session-close-btn').addEventListener('click', () => $('session-dialog').close());
  $('session-dialog').addEventListener('click', (e) => {
    if (e.target === e.currentTarget) e.currentTarget.close();
  });
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const value = $('token-input').value.trim();
    if (!value) return;
    try {
      sessionStorage.setItem(TOKEN_KEY, value);
    } catch {
      location.hash = `token=${enc(value)}`;
    }
    location.reload();
  });
  // Opening the printed URL in a tab that already shows the dashboard only changes the fragment.
  window.addEventListener('hashchange', () => {
    if (new URLSearchParams(location.hash.slice(1)).has('token')) {
      readToken();
      location.reload();
    }
  });

  state.token = readToken();
  if (!state.token) {
    lockOut(null);
    return;
  }
  $('dashboard').hidden = false;
  renderUsage();
  renderActive();
  renderFeed();
  renderClosed();
  // One call first, so that a rejected token is reported once rather than by every panel.
  loaders.status().then(boot, (error) => {
    if (error.status !== 401) boot();
  });
}

function boot() {
  connectEvents();
  refreshAll();
  loadModels();
  setInterval(tick, 1000);
  setInterval(() => {
    if (!state.stopped && isLive()) refreshAll();
  }, SAFETY_POLL_MS);
}

start();
