// The spinstream control page: workers (add, mode, interval, deploy, stop, restart), venues and
// their freshness, a candles chart and the live ticks/book of one instrument. Data comes over
// the WebSocket /api/live (twice a second); actions are JSON POSTs to /api/workers.
"use strict";
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (v, d = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
let watched = null;
let sock = null;
window.spinstream = { last: null, messages: 0 };

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  let data = null;
  try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function showError(msg) { $("#error").textContent = msg || ""; }

async function act(method, path, body) {
  showError("");
  try { await api(method, path, body); return true; } catch (e) { showError(e.message); return false; }
}

async function loadStrategies() {
  try {
    const s = await api("GET", "/api/strategies");
    const sel = $("#add-path");
    sel.innerHTML = s.files.map((f) => `<option value="${esc(f)}">${esc(f)}</option>`).join("");
    if (!s.files.length) showError("no strategy files in the allowed directories: " + s.allowed.join(", "));
  } catch (e) { showError(e.message); }
}

$("#add-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ok = await act("POST", "/api/workers", {
    path: $("#add-path").value, name: $("#add-name").value || null,
    mode: $("#add-mode").value, interval: $("#add-interval").value,
  });
  if (ok) $("#add-name").value = "";
});

function workerRow(w) {
  const tr = document.createElement("tr");
  tr.dataset.worker = w.name;
  tr.innerHTML = `<td class="name"></td><td class="path muted"></td>
    <td><select class="mode"><option value="server">Server</option>
      <option value="browser">Browser</option></select></td>
    <td><input class="interval" size="5"></td><td class="state"></td>
    <td class="ticks num"></td><td class="errors num"></td><td class="last-error"></td>
    <td><button class="deploy">Deploy &amp; Start</button> <button class="stop">Stop</button>
      <button class="restart">Restart</button> <button class="remove">Remove</button>
      <button class="show-logs">Logs</button></td>`;
  const base = "/api/workers/" + encodeURIComponent(w.name);
  tr.querySelector(".mode").addEventListener("change", (e) => act("POST", base, { mode: e.target.value }));
  tr.querySelector(".interval").addEventListener("change", (e) => act("POST", base, { interval: e.target.value }));
  tr.querySelector(".deploy").addEventListener("click", () => act("POST", base + "/deploy", {}));
  tr.querySelector(".stop").addEventListener("click", () => act("POST", base + "/stop", {}));
  tr.querySelector(".restart").addEventListener("click", () => act("POST", base + "/restart", {}));
  tr.querySelector(".remove").addEventListener("click", () => act("DELETE", base, {}));
  tr.querySelector(".show-logs").addEventListener("click", () => { window.spinstream.logsOf = w.name; });
  return tr;
}

function renderWorkers(workers) {
  const body = $("#workers tbody");
  const seen = new Set();
  for (const w of workers) {
    seen.add(w.name);
    let tr = body.querySelector(`tr[data-worker="${CSS.escape(w.name)}"]`);
    if (!tr) { tr = workerRow(w); body.appendChild(tr); }
    tr.querySelector(".name").textContent = w.name;
    tr.querySelector(".path").textContent = w.path + (w.code_changed ? " (changed: restart)" : "");
    const mode = tr.querySelector(".mode");
    if (document.activeElement !== mode) mode.value = w.mode;
    const iv = tr.querySelector(".interval");
    if (document.activeElement !== iv) iv.value = w.interval;
    const st = tr.querySelector(".state");
    st.textContent = w.state + (w.warm_s !== null && w.state === "running" ? ` (warm ${fmt(w.warm_s)} s)` : "");
    st.className = "state state-" + w.state;
    tr.querySelector(".ticks").textContent = w.ticks;
    tr.querySelector(".errors").textContent = w.errors;
    const le = tr.querySelector(".last-error");
    le.textContent = le.title = w.crash || w.last_error || "";
  }
  for (const tr of [...body.querySelectorAll("tr")]) if (!seen.has(tr.dataset.worker)) tr.remove();
  const name = window.spinstream.logsOf || (workers[0] && workers[0].name);
  const w = workers.find((x) => x.name === name);
  const logs = $("#logs"), atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
  logs.textContent = w ? `${w.name}: last log lines\n` + (w.logs.join("\n") || "(none)") : "";
  if (atEnd) logs.scrollTop = logs.scrollHeight;  // follow the newest lines
}

function renderVenues(accounts) {
  const out = [];
  for (const [alias, a] of Object.entries(accounts)) {
    const buckets = Object.entries(a.buckets || {}).map(([b, v]) =>
      `${esc(b)} ${fmt(v.available, 0)}/${fmt(v.capacity, 0)} (${v.limit}/${v.per_s}s ${esc(v.scope)})`).join(", ");
    const sent = Object.entries((a.rest || {}).sent || {}).map(([k, v]) => `${esc(k)} ${v}`).join(", ");
    out.push(`<div class="acct" data-account="${esc(alias)}"><h3>${esc(alias)} <span class="muted">${esc(a.venue)} · env ${esc(a.env)}
      ${a.server_only ? "· server-only" : ""} · declared: ${esc(a.declared.join(", ") || "none")}
      · <span title="reads answered from the stream cache (tickers, books, balances, positions, orders)">REST calls saved</span> <b class="saved">${a.saved}</b> · REST sent ${sent || "0"}
      · stale <b class="stale-count">${a.stale.length}</b></span></h3>`);
    if (!a.started) { out.push(`<div class="muted">not started (deploy a worker)</div></div>`); continue; }
    out.push(`<div class="muted">REST budget: ${buckets || "–"}</div>`);
    out.push(`<table class="conns"><thead><tr><th>connection</th><th>connected</th><th>fresh</th>
      <th>reason</th><th class="num">msg/s</th><th class="num">subs</th><th class="num">frame age s</th>
      <th class="num">lag ms</th><th class="num">reconnects</th><th>problem</th></tr></thead><tbody>`);
    for (const c of a.connections) {
      const fresh = c.connected && c.live;
      out.push(`<tr data-conn="${esc(c.name)}" data-fresh="${fresh}"><td>${esc(c.name)}</td>
        <td class="${c.connected ? "yes" : "no"}">${c.connected ? "yes" : "no"}</td>
        <td class="fresh ${fresh ? "yes" : "no"}">${fresh ? "fresh" : "STALE" + (c.down_for_s !== null ? ` ${fmt(c.down_for_s, 0)} s` : "")}</td>
        <td>${esc(c.reason || "")}</td><td class="num">${fmt(c.msgs_per_s, 0)}</td>
        <td class="num">${c.subscriptions}</td><td class="num">${fmt(c.last_frame_age_s)}</td>
        <td class="num">${fmt(c.lag_s * 1000, 0)}</td><td class="num">${c.reconnects}</td>
        <td>${esc(c.problem || "")}</td></tr>`);
    }
    out.push(`</tbody></table>`);
    if (a.stale.length) {
      out.push(`<div class="stale">stale: ` + a.stale.slice(0, 12).map((s) =>
        `${esc(s.market)} ${esc(s.kind)} ${esc(s.symbol || "")} (${esc(s.reason)}, ${fmt(s.stale_for_s, 0)} s)`).join("; ") + `</div>`);
    }
    out.push(`</div>`);
  }
  $("#venues").innerHTML = out.join("");
}

function renderMarket(instruments, view) {
  const sel = $("#instrument");
  const keys = instruments.map((i) => i.key);
  if (sel.dataset.keys !== keys.join("|")) {
    sel.innerHTML = keys.map((k) => `<option value="${esc(k)}">${esc(k)}</option>`).join("");
    sel.dataset.keys = keys.join("|");
  }
  if (view) {
    if (document.activeElement !== sel) sel.value = view.key;
    $("#chart-source").textContent = `bars: ${view.source} · ${view.bars.length} bars`;
  }
  window.drawCandles($("#chart"), view ? view.bars : []);
  const book = view && view.book;
  const rows = [];
  if (book) {
    for (let i = 0; i < Math.max(book.bids.length, book.asks.length); i++) {
      const b = book.bids[i] || ["", ""], a = book.asks[i] || ["", ""];
      rows.push(`<tr><td>${b[1]}</td><td>${b[0]}</td><td>${a[0]}</td><td>${a[1]}</td></tr>`);
    }
  }
  $("#book tbody").innerHTML = rows.join("") || `<tr><td colspan="4" class="muted">${view && view.book === null && instruments.find((i) => i.key === view.key && i.book) ? "book stale: not served" : "no book streamed"}</td></tr>`;
  const ticks = view ? view.ticks.slice().reverse() : [];
  $("#ticks tbody").innerHTML = ticks.map((t) =>
    `<tr><td>${new Date(t[0]).toLocaleTimeString()}</td><td>${t[1] ?? ""}</td><td>${t[2] ?? ""}</td><td>${t[3] ?? ""}</td></tr>`).join("");
}

$("#instrument").addEventListener("change", (e) => {
  watched = e.target.value;
  if (sock && sock.readyState === 1) sock.send(JSON.stringify({ watch: watched }));
});

function render(m) {
  window.spinstream.last = m;
  window.spinstream.messages += 1;
  const h = $("#health");
  h.textContent = m.health.ok ? "healthy" : `${m.health.problems.length} problem(s)`;
  h.className = "badge " + (m.health.ok ? "ok" : "bad");
  $("#problems").textContent = m.health.problems.join(" · ");
  renderWorkers(m.workers);
  renderVenues(m.accounts);
  renderMarket(m.instruments, m.view);
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/live";
  sock = new WebSocket(url);
  sock.onopen = () => {
    $("#live-state").textContent = "open";
    if (watched) sock.send(JSON.stringify({ watch: watched }));
  };
  sock.onmessage = (ev) => { const m = JSON.parse(ev.data); if (m.type === "status") render(m); };
  sock.onclose = () => { $("#live-state").textContent = "closed: retrying"; setTimeout(connect, 1000); };
}

loadStrategies();
connect();
