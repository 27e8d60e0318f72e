// Doorwatch manager pages (alerts, audit log, staff, bans, exports, node and network).
// Every list is one call of the node's API with this page's session, so each role sees
// only what the API lets it see (the audit log: administrators and above).
"use strict";

const latest = {};
// Only the answer to a list's latest request is drawn: an earlier, slower one
// (the list shown when its tab opened) must not overwrite a filtered one.
function ticket(list) { latest[list] = (latest[list] || 0) + 1; return latest[list]; }
const stale = (list, n) => latest[list] !== n;

const day = (t) => new Date(t * 1000).toLocaleString("en-GB", { day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
const date = (t) => new Date(t * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
const words = (code) => { const s = code.replaceAll("_", " "); return s.charAt(0).toUpperCase() + s.slice(1); };
let labels = {}; // category code -> its label (alert.categories), once loaded
let labelsReady = Promise.resolve();
const label = (code) => labels[code] || words(code);

function detail(d) {
  if (!d) { return ""; }
  return Object.entries(d).map(([k, v]) => {
    const shown = k.endsWith("_at") && typeof v === "number" ? day(v) : (typeof v === "object" ? JSON.stringify(v) : String(v));
    return `${k.replaceAll("_", " ")}: ${shown}`;
  }).join(" · ");
}

function lines(...texts) {
  const box = document.createElement("span");
  box.className = "lines";
  for (const t of texts) {
    const line = document.createElement("span");
    line.textContent = t;
    box.append(line);
  }
  return box;
}

function badge(text, kind) {
  const span = document.createElement("span");
  span.className = `badge ${kind}`;
  span.textContent = text;
  return span;
}

function actionButton(label, run) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "quiet small";
  button.textContent = label;
  button.addEventListener("click", run);
  return button;
}

async function act(method, alert, done) {
  try {
    await rpc(method, { alert_id: alert.alert_id });
    await showAlerts();
    if (!$("alert-detail").hidden && $("alert-detail").dataset.alert === alert.alert_id) {
      if (method === "alert.delete") { $("alert-detail").hidden = true; } else { await openAlert(alert.alert_id); }
    }
    $("alerts-message").textContent = done;
  } catch (e) {
    $("alerts-message").textContent = e.message;
  }
}

function noteForm(box, a, name) {
  const form = document.createElement("form");
  form.className = "inline";
  const id = `note-${a.alert_id}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = "Note for every venue";
  const input = document.createElement("input");
  input.id = id;
  input.maxLength = 4000;
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "quiet small";
  save.textContent = "Save the note";
  form.append(label, input, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { input.focus(); return; }
    try {
      await rpc("alert.annotate", { alert_id: a.alert_id, text });
      await showAlerts();
      $("alerts-message").textContent = `${name}: note added.`;
    } catch (e) { $("alerts-message").textContent = e.message; }
  });
  box.replaceChildren(form);
  input.focus();
}

function actions(a) {
  const box = document.createElement("div");
  box.className = "actions";
  const name = words(a.category);
  box.append(actionButton("Open", () => openAlert(a.alert_id)));
  if (a.status === "active") {
    box.append(actionButton("Mark reviewed", () => act("alert.review", a, `${name}: reviewed.`)));
    box.append(actionButton("Subject disputes it", () => act("alert.dispute", a, `${name}: suspended while the complaint is looked at.`)));
  }
  if (a.status === "suspended" && rank(me.role) >= rank("administrator")) {
    // The API decides which administrator: the super administrator, or the alert's maker.
    box.append(actionButton("Reinstate", () => act("alert.reinstate", a, `${name}: active again.`)));
  }
  if (a.status === "active" || a.status === "suspended") {
    box.append(actionButton("Add a note", () => noteForm(box, a, name)));
  }
  if (me.role === "super_administrator") {
    const erase = actionButton("Delete", () => {
      // Two steps: deletion erases the alert here at once, for good.
      if (erase.dataset.armed) { act("alert.delete", a, `${name}: deleted; only its audit entries remain.`); return; }
      erase.dataset.armed = "1";
      erase.textContent = "Delete for good?";
      erase.classList.add("danger");
    });
    box.append(erase);
  }
  if (a.status === "active" || a.status === "suspended") {
    const withdraw = actionButton("Withdraw", () => {
      // Two steps: a withdrawal is sent to every venue and cannot be undone.
      if (withdraw.dataset.armed) { act("alert.withdraw", a, `${name}: withdrawn everywhere.`); return; }
      withdraw.dataset.armed = "1";
      withdraw.textContent = "Withdraw: are you sure?";
      withdraw.classList.add("danger");
    });
    box.append(withdraw);
  }
  return box;
}

async function showAlerts(event) {
  if (event) { event.preventDefault(); }
  const status = $("alert-status").value;
  try {
    const n = ticket("alerts");
    const alerts = await rpc("alert.list", status ? { status } : {});
    await labelsReady;
    if (stale("alerts", n)) { return; }
    const body = $("alerts-table").querySelector("tbody");
    body.replaceChildren(...alerts.map((a) => row([
      label(a.category),
      badge(words(a.status), a.status),
      lines(date(a.created_at), `by ${a.created_by}`),
      date(a.expires_at),
      a.review_overdue ? badge("Review overdue", "overdue") : (a.review_due ? date(a.review_due) : "—"),
      actions(a),
    ])));
    $("alerts-table").hidden = alerts.length === 0;
    $("alerts-message").textContent = alerts.length ? `${alerts.length} ${alerts.length === 1 ? "alert" : "alerts"}.` : "No alerts.";
    if (!status) { showReviewReminder(alerts.filter((a) => a.review_overdue).length); }
  } catch (e) {
    $("alerts-message").textContent = e.message;
  }
}

const ROLES = ["door_staff", "supervisor", "administrator", "super_administrator"];
const rank = (role) => ROLES.indexOf(role);

function showReviewReminder(overdue) {
  // The tab's badge on every tab; the reminder says what to do.
  const tab = $("tab-alerts");
  const badge_ = tab.querySelector(".count");
  badge_.textContent = overdue ? String(overdue) : "";
  badge_.hidden = overdue === 0;
  tab.setAttribute("aria-label", overdue ? `Alerts, ${overdue} due for review` : "Alerts");
  $("review-reminder").hidden = overdue === 0;
  $("review-reminder").textContent = overdue === 1
    ? "1 alert is due for its three-monthly review. Open it and check it is still accurate and still needed, then press Mark reviewed; if it is not, change it or withdraw it."
    : `${overdue} alerts are due for their three-monthly review. Open each and check it is still accurate and still needed, then press Mark reviewed; if it is not, change it or withdraw it.`;
}

const BAND_WORDS = { high: "High", medium: "Medium", low: "Low" };

async function showReceived() {
  try {
    const r = await rpc("received.summary", {});
    const venues = r.originating_venues === 1 ? "1 other venue" : `${r.originating_venues} other venues`;
    $("received").textContent = r.total
      ? `${r.total} ${r.total === 1 ? "alert" : "alerts"} from ${venues} ${r.total === 1 ? "is" : "are"} active here. They are counted, never listed: who they are about stays private unless a scan at your door matches one.`
      : "No alerts from other venues are active here.";
    if (r.loading) { $("received").textContent += " Still loading after a restart: the counts will grow."; }
    $("received-table").querySelector("tbody").replaceChildren(...r.by_category.map((c) => row([
      c.label, badge(BAND_WORDS[c.harm_band], `band-${c.harm_band}`), String(c.count),
    ])));
    $("received-table").hidden = r.total === 0;
    const b = r.by_harm_band;
    $("received-bands").textContent = r.total ? `By harm band: ${b.high} high, ${b.medium} medium, ${b.low} low.` : "";
  } catch (e) {
    $("received-table").hidden = true;
    $("received").textContent = e.message;
  }
}

function facts(list, pairs) {
  list.replaceChildren(...pairs.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    if (v instanceof Node) { dd.append(v); } else { dd.textContent = v; }
    return [dt, dd];
  }));
}

function field(form, id, labelText, control) {
  const wrap = document.createElement("div");
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = labelText;
  control.id = id;
  wrap.append(label, control);
  form.append(wrap);
  return control;
}

const isoDay = (t) => {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};

async function openAlert(alertId) {
  const box = $("alert-detail");
  let a;
  try {
    a = await rpc("alert.get", { alert_id: alertId });
  } catch (e) { $("alerts-message").textContent = e.message; return; }
  const name = words(a.category);
  $("detail-title").textContent = `${label(a.category)}: made ${date(a.created_at)} by ${a.created_by}`;
  const pairs = [
    ["Status", badge(words(a.status), a.status)],
    ["What happened", a.reason || "(purged)"],
    ["Notes for other venues", a.notes || "none"],
    ["Ends on", date(a.expires_at)],
    ["Next review", a.review_overdue ? badge("Review overdue", "overdue") : (a.review_due ? date(a.review_due) : "none")],
    ["Shared with", a.groups.join(", ") || "all members"],
  ];
  if (a.subject) {
    const s = a.subject;
    pairs.push(["About", `${s.given_names || ""} ${s.surname || ""}`.trim() + (s.date_of_birth ? `, born ${s.date_of_birth}` : "")]);
  }
  for (const n of a.annotations) { pairs.push([`Note, ${date(n.at)}`, `${n.text || ""} (${n.author}, ${n.venue})`]); }
  for (const r of a.reviews) { pairs.push([`Reviewed ${date(r.at)}`, `by ${r.reviewer}${r.note ? `: ${r.note}` : ""}`]); }
  facts($("detail-facts"), pairs);
  box.dataset.alert = a.alert_id;

  const form = $("amend-form");
  form.replaceChildren();
  const editable = a.status === "active" || a.status === "suspended";
  form.hidden = !editable;
  if (editable) {
    const reason = field(form, "amend-reason", "What happened", document.createElement("textarea"));
    reason.rows = 3; reason.maxLength = 2000; reason.value = a.reason || "";
    const notes = field(form, "amend-notes", "Notes for other venues", document.createElement("textarea"));
    notes.rows = 2; notes.maxLength = 4000; notes.value = a.notes || "";
    const ends = field(form, "amend-expires", "Ends on", document.createElement("input"));
    ends.type = "date"; ends.value = isoDay(a.expires_at);
    let groups = null;
    if (me.role === "super_administrator") {
      groups = field(form, "amend-groups", "Shared with group (empty: all members)", document.createElement("input"));
      groups.value = a.groups.join(", ");
      groups.autocapitalize = "none"; groups.spellcheck = false;
    }
    const buttons = document.createElement("div");
    buttons.className = "actions wide";
    const save = document.createElement("button");
    save.type = "submit";
    save.textContent = "Save the changes";
    buttons.append(save);
    form.append(buttons);
    form.onsubmit = async (event) => {
      event.preventDefault();
      const params = { alert_id: a.alert_id, version: a.version };
      if (reason.value.trim() !== (a.reason || "")) { params.reason = reason.value.trim(); }
      if (notes.value.trim() !== (a.notes || "")) { params.notes = notes.value.trim(); }
      if (ends.value && ends.value !== isoDay(a.expires_at)) {
        const t = Date.parse(`${ends.value}T23:59:00`) / 1000;
        if (!Number.isNaN(t)) { params.expires_at = t; }
      }
      if (groups) {
        const wanted = groups.value.split(",").map((g) => g.trim()).filter(Boolean);
        if (wanted.join(",") !== a.groups.join(",")) { params.groups = wanted; }
      }
      if (Object.keys(params).length === 2) { $("detail-message").textContent = "Nothing changed."; return; }
      try {
        await rpc("alert.amend", params);
        await showAlerts();
        await openAlert(a.alert_id);
        $("detail-message").textContent = `${name}: changed; the new version goes to every venue.`;
      } catch (e) {
        $("detail-message").textContent = e.code === 1004 && e.message.startsWith("version")
          ? "Someone changed this alert since you opened it: nothing was saved. Open it again, then make your change."
          : e.message;
      }
    };
  }
  $("detail-message").textContent = editable ? "" : "A withdrawn or expired alert cannot be changed.";
  box.hidden = false;
  box.scrollIntoView({ block: "start", behavior: "instant" });
}

function dayStart(value, plus) {
  if (!value) { return undefined; }
  const t = Date.parse(`${value}T00:00:00`) / 1000;
  return Number.isNaN(t) ? undefined : t + plus;
}

async function showAudit(event) {
  if (event) { event.preventDefault(); }
  const params = { limit: 500 };
  const actor = $("audit-actor").value.trim();
  const action = $("audit-action").value.trim();
  const alertId = $("audit-alert").value.trim();
  if (actor) { params.actor = actor; }
  if (action) { params.action = action; }
  if (alertId) { params.alert_id = alertId; }
  const since = dayStart($("audit-since").value, 0);
  const until = dayStart($("audit-until").value, 86400);
  if (since !== undefined) { params.since = since; }
  if (until !== undefined) { params.until = until; }
  try {
    const n = ticket("audit");
    const entries = await rpc("audit.query", params);
    if (stale("audit", n)) { return; }
    const body = $("audit-table").querySelector("tbody");
    body.replaceChildren(...entries.slice().reverse().map((e) => row([
      day(e.at),
      e.actor,
      e.action,
      e.alert_id ? `${e.alert_id.slice(0, 12)}…` : "",
      detail(e.detail),
    ])));
    $("audit-table").hidden = entries.length === 0;
    $("audit-message").textContent = entries.length ? `${entries.length} ${entries.length === 1 ? "entry" : "entries"}, newest first.` : "No entries match.";
  } catch (e) {
    $("audit-table").hidden = true;
    $("audit-message").textContent = e.code === 1002
      ? "The audit log is for administrators and above."
      : e.message;
  }
}

const ROLE_WORDS = {
  door_staff: "Door staff", supervisor: "Supervisor", administrator: "Administrator",
  super_administrator: "Super administrator",
};
let me = null; // the logged-in user, set as soon as the session is known (before any call returns)
session.then((info) => { me = info.user; }, () => {});

async function showStaff() {
  await session;
  $("staff-add").hidden = me.role !== "super_administrator";
  try {
    const n = ticket("staff");
    const users = await rpc("user.list", {});
    if (stale("staff", n)) { return; }
    $("staff-table").querySelector("tbody").replaceChildren(...users.map((u) => row([
      u.username,
      ROLE_WORDS[u.role] || u.role,
      u.disabled ? badge("Disabled", "withdrawn") : badge("Active", "active"),
      date(u.created_at),
      staffActions(u),
    ])));
    $("staff-table").hidden = false;
    $("staff-message").textContent = `${users.length} ${users.length === 1 ? "account" : "accounts"}.`;
  } catch (e) {
    $("staff-table").hidden = true;
    $("staff-message").textContent = e.code === 1002
      ? "Staff accounts are for administrators and above."
      : e.message;
  }
}

function staffActions(u) {
  const box = document.createElement("div");
  box.className = "actions";
  if (me.role !== "super_administrator" || u.disabled) { return box; }
  box.append(actionButton("Set a password", () => {
    const form = document.createElement("form");
    form.className = "inline";
    const id = `pw-${u.username}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = `New password for ${u.username}`;
    const input = document.createElement("input");
    input.id = id;
    input.type = "password";
    input.autocomplete = "new-password";
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "quiet small";
    save.textContent = "Save the password";
    form.append(label, input, save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await rpc("user.passwd", { username: u.username, password: input.value });
        await showStaff();
        $("staff-message").textContent = `${u.username} has a new password; their other sessions are ended.`;
      } catch (e) {
        input.value = "";
        $("staff-message").textContent = e.message;
      }
    });
    box.replaceChildren(form);
    input.focus();
  }));
  if (u.username === me.username) { return box; }
  const disable = actionButton("Disable", async () => {
    if (!disable.dataset.armed) {
      disable.dataset.armed = "1";
      disable.textContent = "Disable: are you sure?";
      disable.classList.add("danger");
      return;
    }
    try {
      await rpc("user.disable", { username: u.username });
      await showStaff();
      $("staff-message").textContent = `${u.username} is disabled and logged out everywhere.`;
    } catch (e) { $("staff-message").textContent = e.message; }
  });
  box.append(disable);
  return box;
}

async function addStaff(event) {
  event.preventDefault();
  const username = $("new-user").value.trim();
  try {
    await rpc("user.add", { username, role: $("new-role").value, password: $("new-password").value });
    $("staff-add").reset();
    await showStaff();
    $("staff-message").textContent = `${username} can log in now.`;
  } catch (e) {
    $("new-password").value = "";
    $("staff-message").textContent = e.message;
  }
}

function peerActions(p) {
  const box = document.createElement("div");
  box.className = "actions";
  if (me.role !== "super_administrator" || p.refused) { return box; }
  const revoke = actionButton("Revoke", async () => {
    if (!revoke.dataset.armed) {
      revoke.dataset.armed = "1";
      revoke.textContent = "Revoke: are you sure?";
      revoke.classList.add("danger");
      return;
    }
    try {
      await rpc("network.revoke", { peer_id: p.peer_id });
      await showNode();
      $("peers-message").textContent = `${p.venue} is revoked; the group keys are being replaced.`;
    } catch (e) { $("peers-message").textContent = e.message; }
  });
  box.append(revoke);
  return box;
}

async function makeInvite(event) {
  event.preventDefault();
  const venue = $("invite-venue").value.trim();
  const days = Number($("invite-days").value) || 1;
  try {
    const made = await rpc("network.invite", { venue, expires_in_s: days * 86400 });
    $("invite-token").value = made.token;
    const { csrf } = await session;
    const response = await fetch("/api/qr", {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text: made.token }),
    });
    if (response.ok) {
      const old = $("invite-qr").src;
      $("invite-qr").src = URL.createObjectURL(await response.blob());
      if (old.startsWith("blob:")) { URL.revokeObjectURL(old); }
    }
    $("invite-result").hidden = false;
    $("invite-message").textContent = `Invite for ${venue}, valid until ${day(made.expires_at)}.`;
  } catch (e) {
    $("invite-result").hidden = true;
    $("invite-message").textContent = e.message;
  }
}

async function showNode() {
  await session;
  $("invite-box").hidden = me.role !== "super_administrator";
  try {
    const n = ticket("node");
    const s = await rpc("node.status", {});
    if (stale("node", n)) { return; }
    const h = s.health;
    const pairs = [
      ["Network", healthWords(h)],
      ["Venue", s.venue],
      ["Peer id", s.short_id],
      ["Doorwatch", s.version],
      ["Up for", `${Math.floor(s.uptime_s / 3600)} h ${Math.floor((s.uptime_s % 3600) / 60)} min`],
      ["Alerts", `${s.counts.alerts_originated_active} from this venue, ${s.counts.alerts_received_active} received`],
      ["Networks", s.networks.map((n) => `${n.name} (${n.members} members)`).join(", ") || "none yet"],
      ["Loading", s.loading ? loadingBar(s.loading) : "done"],
      ["Last sync", h && h.last_synced_at ? day(h.last_synced_at) : "none since the node started"],
      ["Refused connections", refusals(s.gate)],
    ];
    if (s.console_fingerprint) { pairs.push(["Console certificate", s.console_fingerprint]); }
    facts($("node-facts"), pairs);
    showHealth(h);
    const peers = s.peers;
    $("peers-table").querySelector("tbody").replaceChildren(...peers.map((p) => row([
      p.venue,
      p.short_id,
      p.connected ? badge("Connected", "active") : (p.last_seen ? `last seen ${day(p.last_seen)}` : "never seen"),
      p.refused ? badge(`Refused: ${p.refused}`, "refused") : "",
      peerActions(p),
    ])));
    $("peers-table").hidden = peers.length === 0;
    const up = peers.filter((p) => p.connected).length;
    $("peers-message").textContent = peers.length
      ? `${up} of ${peers.length} connected now.`
      : "No other venue yet.";
  } catch (e) {
    $("peers-message").textContent = e.message;
  }
}

const PHASES = { records: "reading stored alert records", alerts: "opening received alerts" };

function loadingBar(l) {
  const wrap = document.createElement("span");
  const bar = document.createElement("progress");
  bar.max = Math.max(1, l.total);
  bar.value = l.done;
  bar.setAttribute("aria-label", "Loading progress");
  wrap.append(bar, ` ${PHASES[l.phase] || l.phase}: ${l.done} of ${l.total}`);
  return wrap;
}

function refusals(gate) {
  const n = (gate && gate.refused) || 0;
  if (!n) { return "none since the node started"; }
  const why = Object.entries(gate.refused_by_reason || {}).map(([k, v]) => `${v} ${k}`).join(", ");
  return `${n} since the node started${why ? ` (${why})` : ""}`;
}

const HEALTH_WORDS = {
  ok: "Connected", alone: "No other venue yet", loading: "Loading alerts",
  isolated: "Isolated", not_synced: "Not synced",
};

function healthWords(h) {
  if (!h) { return ""; }
  return `${HEALTH_WORDS[h.state] || h.state}: ${h.connected} of ${h.members} other venues connected now${h.last_contact_at && !h.connected ? `, last contact ${day(h.last_contact_at)}` : ""}`;
}

// Isolated, not synced or loading: alerts made elsewhere may be missing here. Shown
// above every tab, so nobody misses it.
function showHealth(h) {
  const bad = h && ["isolated", "not_synced", "loading"].includes(h.state);
  $("health-banner").hidden = !bad;
  $("health-banner").textContent = bad ? `${h.message} Door checks may miss an alert: see Node and network.` : "";
}

async function checkHealth() {
  try { showHealth(await rpc("node.health", {})); } catch (e) { /* shown on the next try */ }
}

async function showBans() {
  try {
    const n = ticket("bans");
    const bans = await rpc("ban.list", {});
    if (stale("bans", n)) { return; }
    $("bans-table").querySelector("tbody").replaceChildren(...bans.map((b) => row([
      `${b.subject.given_names || ""} ${b.subject.surname || ""}`.trim(),
      b.subject.date_of_birth || "",
      b.reason,
      date(b.expires_at),
      b.created_by,
      banActions(b),
    ])));
    $("bans-table").hidden = bans.length === 0;
    $("bans-message").textContent = bans.length ? `${bans.length} ${bans.length === 1 ? "ban" : "bans"}.` : "No bans.";
  } catch (e) {
    $("bans-table").hidden = true;
    $("bans-message").textContent = e.code === 1002 ? "Bans are for supervisors and above." : e.message;
  }
}

function banActions(b) {
  const box = document.createElement("div");
  box.className = "actions";
  if (me.role !== "super_administrator") { return box; }
  const lift = actionButton("Lift", async () => {
    if (!lift.dataset.armed) {
      lift.dataset.armed = "1";
      lift.textContent = "Lift: are you sure?";
      lift.classList.add("danger");
      return;
    }
    try {
      await rpc("ban.remove", { ban_id: b.ban_id });
      await showBans();
      $("bans-message").textContent = "Ban lifted.";
    } catch (e) { $("bans-message").textContent = e.message; }
  });
  box.append(lift);
  return box;
}

function moment(dateValue, timeValue, plus) {
  if (!dateValue) { return undefined; }
  const t = Date.parse(`${dateValue}T${timeValue || "00:00"}:00`) / 1000;
  return Number.isNaN(t) ? undefined : t + plus;
}

async function exportVisits(event) {
  event.preventDefault();
  const from = moment($("visits-from").value, $("visits-from-time").value, 0);
  const to = moment($("visits-to").value, $("visits-to-time").value, 60);
  if (from === undefined || to === undefined) {
    $("visits-message").textContent = "Give the first and the last day of the window.";
    return;
  }
  try {
    const result = await rpc("visits.export", { from, to });
    download(result, `visits-${$("visits-from").value}-to-${$("visits-to").value}.json`);
    const n = result.visits.length;
    $("visits-message").textContent = `${n} ${n === 1 ? "visit" : "visits"} exported; the export is in the audit log.`;
  } catch (e) {
    $("visits-message").textContent = e.code === 1002 ? "Exports are for administrators and above." : e.message;
  }
}

function download(data, name) {
  const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function exportSar(event) {
  event.preventDefault();
  const document_ = {
    document_type: $("sar-type").value,
    document_number: $("sar-number").value.trim(),
    given_names: $("sar-given").value.trim(),
    surname: $("sar-surname").value.trim(),
    date_of_birth: $("sar-dob").value,
    expiry_date: $("sar-expiry").value,
    issuing_country: $("sar-country").value.trim().toUpperCase(),
  };
  try {
    const result = await rpc("sar.export", { document: document_ });
    download(result, "subject-access.json");
    $("sar-form").reset();
    $("sar-message").textContent = `Exported: ${result.visits.length} visit(s), ${result.bans.length} ban(s), ${result.alerts.length} alert(s); the export is in the audit log.`;
  } catch (e) {
    $("sar-message").textContent = e.code === 1002 ? "Exports are for administrators and above." : e.message;
  }
}

// The tabs: a button #tab-NAME and a panel #NAME in manage.html, and here what opens
// it (null: a form only). A new tab is one entry here and its markup.
const TABS = {
  alerts: () => { showAlerts(); showReceived(); },
  audit: showAudit,
  staff: showStaff,
  bans: showBans,
  visits: null,
  node: showNode,
};

function select(tab) {
  for (const name of Object.keys(TABS)) {
    const on = name === tab;
    $(`tab-${name}`).setAttribute("aria-selected", on ? "true" : "false");
    $(name).hidden = !on;
  }
  if (TABS[tab]) { TABS[tab](); }
}

function start() {
  // Every control answers from the first moment (calls wait for the session themselves),
  // and the first tab opens at once, so a click on another tab meanwhile is not undone.
  for (const name of Object.keys(TABS)) { $(`tab-${name}`).addEventListener("click", () => select(name)); }
  $("detail-close").addEventListener("click", () => { $("alert-detail").hidden = true; });
  $("visits-form").addEventListener("submit", exportVisits);
  $("sar-form").addEventListener("submit", exportSar);
  $("staff-add").addEventListener("submit", addStaff);
  $("invite-form").addEventListener("submit", makeInvite);
  $("alerts-filter").addEventListener("submit", showAlerts);
  $("audit-filter").addEventListener("submit", showAudit);
  showWho().catch(() => {});
  labelsReady = rpc("alert.categories", {})
    .then((list) => { labels = Object.fromEntries(list.map((c) => [c.code, c.label])); })
    .catch(() => {});
  select("alerts");
  pageReady();
  checkHealth();
  setInterval(checkHealth, 60_000);
  showAlarms();
}

async function showAlarms() {
  try {
    const status = await rpc("node.status", {});
    // Identity checks that hit a limit, or runs of "not the same person": someone may be
    // guessing who an alert is about (docs/privacy.md).
    const alarms = status.counts.disclosure_alarms_7d || 0;
    $("alarms").hidden = alarms === 0;
    $("alarms").textContent = `${alarms} identity-check ${alarms === 1 ? "limit or alarm" : "limits or alarms"} in the last 7 days: someone may be guessing who an alert is about. See the audit log (actions disclosure.limit_reached and disclosure.alarm) and talk to the other venue.`;
  } catch (e) { $("alarms").hidden = true; }
}

document.addEventListener("DOMContentLoaded", start);
