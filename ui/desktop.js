// The desktop window's logic: renders the proxy state the shell pushes (`proxy-state` events)
// and asks the shell for everything else through Tauri commands. The admin token never reaches
// this page: the shell forwards the few admin API reads it needs.
'use strict';

(() => {
  const tauri = window.__TAURI__;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 3000;
  let current = null;
  let refreshTimer = null;

  async function call(command, args) {
    try {
      return await tauri.core.invoke(command, args);
    } catch (err) {
      // Commands reject with {code, message}; anything else is a bug worth showing as is.
      const error = err && typeof err === 'object' && err.message ? err : { code: 'internal', message: String(err) };
      throw error;
    }
  }

  function text(el, value) {
    el.textContent = value == null || value === '' ? '—' : String(value);
  }

  function render(view) {
    current = view;
    const state = $('state');
    state.dataset.state = view.state;
    $('status-line').textContent = view.status_line;
    state.title = view.state === 'error' ? view.reason : view.status_line;
    $('start').disabled = !view.can_start;
    $('stop').disabled = !view.can_stop;
    const running = view.state === 'running';
    $('open-dashboard').disabled = !running;
    $('copy-url').disabled = !running;
    text($('openai-url'), view.openai_base_url);
    text($('address'), view.addr);
    text($('config-path'), view.config_path);
    text($('log-dir'), view.log_dir);
    $('error').hidden = view.state !== 'error';
    if (view.state === 'error') $('error-reason').textContent = view.reason;
    if (running) {
      refresh();
    } else {
      for (const id of ['stat-requests', 'stat-providers', 'stat-models', 'stat-uptime']) $(id).textContent = '–';
    }
  }

  function uptime(secs) {
    if (secs < 60) return `${secs}s`;
    if (secs < 3600) return `${Math.floor(secs / 60)}m`;
    return `${Math.floor(secs / 3600)}h ${Math.floor((secs % 3600) / 60)}m`;
  }

  function cell(row, value, className) {
    const td = document.createElement('td');
    td.textContent = value;
    if (className) td.className = className;
    row.appendChild(td);
  }

  function renderRequests(page) {
    const body = $('requests').querySelector('tbody');
    const rows = (page && page.items) || [];
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.dataset.id = r.id;
      cell(tr, new Date(r.started_at).toLocaleTimeString());
      cell(tr, r.client);
      cell(tr, r.client_model || '—');
      cell(tr, r.provider ? `${r.provider}${r.upstream_model ? ` · ${r.upstream_model}` : ''}` : '—');
      cell(tr, r.status === 'ok' ? `${r.http_status}` : `${r.http_status} ${r.status.replace('_', ' ')}`,
        r.status === 'ok' ? 'status-ok' : 'status-bad');
      const u = r.usage || {};
      cell(tr, `${u.input_tokens ?? 0} / ${u.output_tokens ?? 0}`, 'num');
      cell(tr, `${r.duration_ms} ms`, 'num');
      body.appendChild(tr);
    }
    $('requests-empty').hidden = rows.length > 0;
    $('requests').hidden = rows.length === 0;
  }

  async function refresh() {
    clearTimeout(refreshTimer);
    if (!current || current.state !== 'running') return;
    try {
      const [stats, page] = await Promise.all([call('gateway_stats'), call('recent_requests', { limit: 20 })]);
      $('stat-requests').textContent = stats.requests_today;
      $('stat-providers').textContent = stats.provider_count;
      $('stat-models').textContent = stats.model_count;
      $('stat-uptime').textContent = uptime(stats.uptime_secs);
      renderRequests(page);
    } catch (err) {
      // Stopped meanwhile (the next state event re-renders), or no data dir: keep what we have.
      if (err.code !== 'not_running') console.warn('refresh:', err.code, err.message);
    }
    refreshTimer = setTimeout(refresh, REFRESH_MS);
  }

  async function control(command) {
    $('start').disabled = true;
    $('stop').disabled = true;
    try {
      render(await call(command));
    } catch (err) {
      showMessage(err.message, true);
    }
  }

  function showMessage(message, bad) {
    const el = $('key-message');
    el.textContent = message;
    el.className = `message ${bad ? 'bad' : 'ok'}`;
  }

  function renderKeys(names) {
    const list = $('key-list');
    list.replaceChildren();
    for (const name of names) {
      const li = document.createElement('li');
      li.dataset.name = name;
      const label = document.createElement('code');
      label.textContent = `keyring:${name}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.title = `Delete the key ${name} from the keychain`;
      remove.addEventListener('click', async () => {
        try {
          renderKeys(await call('delete_key', { name }));
          showMessage(`Removed ${name} from the keychain.`, false);
        } catch (err) {
          showMessage(err.message, true);
        }
      });
      li.append(label, remove);
      list.appendChild(li);
    }
  }

  async function saveKey(event) {
    event.preventDefault();
    const name = $('key-name').value.trim();
    const key = $('key-value').value;
    $('key-save').disabled = true;
    try {
      renderKeys(await call('set_key', { name, key }));
      $('key-value').value = '';
      showMessage(`Saved. Use api_key = "keyring:${name}" in the config.`, false);
    } catch (err) {
      showMessage(err.message, true);
    } finally {
      $('key-save').disabled = false;
    }
  }

  function bind(id, handler) {
    $(id).addEventListener('click', handler);
  }

  function ignoreErrors(command) {
    return () => call(command).catch((err) => showMessage(err.message, true));
  }

  async function main() {
    bind('start', () => control('start_proxy'));
    bind('stop', () => control('stop_proxy'));
    bind('open-dashboard', ignoreErrors('open_dashboard'));
    bind('open-config', ignoreErrors('open_config'));
    bind('error-open-config', ignoreErrors('open_config'));
    bind('open-logs', ignoreErrors('open_logs'));
    bind('copy-url', async () => {
      try {
        const url = await call('copy_base_url');
        const button = $('copy-url');
        button.textContent = 'Copied';
        setTimeout(() => { button.textContent = 'Copy'; }, 1500);
        console.info('copied', url);
      } catch (err) {
        showMessage(err.message, true);
      }
    });
    $('key-form').addEventListener('submit', saveKey);
    $('autostart').addEventListener('change', async (event) => {
      try {
        event.target.checked = await call('set_autostart', { enabled: event.target.checked });
      } catch (err) {
        event.target.checked = !event.target.checked;
        showMessage(err.message, true);
      }
    });

    await tauri.event.listen('proxy-state', (event) => render(event.payload));
    render(await call('proxy_status'));
    call('get_autostart').then((on) => { $('autostart').checked = on; }).catch(() => {});
    call('list_keys').then(renderKeys).catch((err) => showMessage(`Stored keys cannot be listed: ${err.message}`, true));
  }

  main().catch((err) => console.error('desktop window failed to start', err));
})();
