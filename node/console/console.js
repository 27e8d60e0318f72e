// Doorwatch door console. Every action is one call of the node's API (POST
// /api/rpc, with the CSRF token held here in memory only); scans and ladder
// changes arrive by server-sent events. Nothing is written to the browser's
// storage, and nothing personal goes into a URL.
"use strict";

const REASONS = {
  under_age: "Under 18",
  document_expired: "The ID has expired",
  not_authentic: "The scanner says the ID may not be genuine",
  banned_here: "Banned from this venue",
  possible_alert_match: "Possible match with another venue's alert: follow the check below",
  alerts_loading: "Alerts are still loading: check the ID yourself",
  typed: "Typed in by hand: no scanner checked this ID",
  document_inconsistent: "The licence number does not match the name, birth date or sex: look at the card",
  clear: "Of age, ID in date, no ban and no alert",
};
const WORDS = { admit: "ADMIT", check: "CHECK", refuse: "REFUSE" };
const BANDS = { low: "low", medium: "medium", high: "high" };
const DONE_STATES = {
  checking: [],
  pending: [],
  identity_confirmed: ["checking"],
  photo_shown: ["checking", "identity", "photo"],
  confirmed: ["checking", "identity", "photo"],
  dismissed: ["checking", "identity", "photo"],
};
const MESSAGES = {
  checking: "Checking the customer's identity with the venue that made the alert…",
  identity_confirmed: "Identity confirmed by the other venue. Fetching the photo…",
  identity_partial: "Only the first name and date of birth agree: no photo. Check the ID yourself.",
  not_subject: "Not the person in the alert: this is no longer a match.",
  originator_unreachable: "The other venue cannot be reached now. Treat as a possible match and ask a supervisor.",
  rate_limited: "Too many checks for this alert. Treat as a possible match and ask a supervisor.",
  expired: "The alert is no longer active: this is no longer a match.",
  refused: "The other venue refused the check. Ask a supervisor.",
  photo_shown: "Compare the two photos with the customer in front of you.",
  confirmed: "Same person: the alert's details are below.",
  dismissed: "Not the same person: the alert does not apply.",
};

const $ = (id) => document.getElementById(id);
let csrf = "";
let events = null;
let current = null; // {scan, match, photoUrl}
let supervisor = false;
let lane = "main";
let categories = null;
let healthTimer = null;

// The network indicator: small while alerts are up to date; amber when alerts made
// elsewhere may be missing here (node.health), so door staff know a clear scan may
// not be the whole story.
const HEALTH = {
  ok: ["ok", "Network OK"],
  isolated: ["bad", "Matches may be incomplete: no other venue reachable"],
  not_synced: ["bad", "Matches may be incomplete: alerts not up to date"],
  loading: ["bad", "Matches may be incomplete: alerts still loading"],
};

async function checkHealth() {
  let h;
  try { h = await rpc("node.health", {}); } catch (e) { return; }
  const shown = HEALTH[h.state];
  $("health").hidden = !shown;
  if (!shown) { return; }
  $("health").className = `health ${shown[0]}`;
  $("health").textContent = shown[1];
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { data = { error: "The node sent no answer." }; }
  if (response.status === 401 && path !== "/api/login") { showLogin(""); }
  return { status: response.status, data };
}

async function rpc(method, params) {
  const { data } = await post("/api/rpc", { method, params });
  if (data.error !== undefined) { throw new Error(data.error); }
  return data.result;
}

function showLogin(message) {
  if (events) { events.close(); events = null; }
  if (healthTimer) { clearInterval(healthTimer); healthTimer = null; }
  $("door-view").hidden = true;
  $("login-view").hidden = false;
  $("password").value = "";
  $("login-error").textContent = message;
  refreshToken();
  $("username").focus();
}

async function refreshToken() {
  const response = await fetch("/api/session", { credentials: "same-origin", cache: "no-store" });
  const data = await response.json();
  csrf = data.csrf;
  return data;
}

function showDoor(user) {
  $("login-view").hidden = true;
  $("door-view").hidden = false;
  $("who").textContent = `${user.username} (${user.role.replace("_", " ")}) at door ${user.lane}`;
  $("lane-name").textContent = user.lane;
  lane = user.lane;
  $("manage-link").hidden = user.role === "door_staff";
  // Typing an ID in and reporting an incident: supervisors and above.
  supervisor = user.role !== "door_staff";
  $("supervisor").hidden = !supervisor;
  follow();
  if (!healthTimer) { healthTimer = setInterval(checkHealth, 60_000); }
}

function follow() {
  if (events) { events.close(); }
  events = new EventSource("/api/events");
  events.addEventListener("open", () => { setLink(true); checkHealth(); });
  events.addEventListener("error", async () => {
    setLink(false);
    if (events && events.readyState === EventSource.CLOSED) {
      const data = await refreshToken();
      if (!data.user) { showLogin("Your session ended. Log in again."); }
    }
  });
  events.addEventListener("ended", () => { showLogin("Your session ended. Log in again."); });
  events.addEventListener("scan", (e) => { onScan(JSON.parse(e.data)); });
  events.addEventListener("match", (e) => { onMatch(JSON.parse(e.data)); });
}

function setLink(up) {
  $("link").textContent = up ? "Live" : "Reconnecting…";
  $("link").classList.toggle("down", !up);
}

function setVerdict(verdict, reasons, age) {
  const box = $("verdict");
  box.hidden = false;
  box.className = `verdict ${verdict}`;
  $("verdict-word").textContent = WORDS[verdict] || verdict;
  $("verdict-age").textContent = age === undefined ? "" : `Age ${age}`;
  const list = $("verdict-reasons");
  const words = reasons.length || verdict !== "admit" ? reasons : ["clear"];
  list.replaceChildren(...words.map((r) => {
    const li = document.createElement("li");
    li.textContent = REASONS[r] || r;
    return li;
  }));
}

function onScan(scan) {
  if (current && current.photoUrl) { URL.revokeObjectURL(current.photoUrl); }
  current = { scan, match: scan.matches.find((m) => !["not_subject", "dismissed"].includes(m.state)) || null };
  $("waiting").hidden = true;
  setVerdict(scan.verdict, scan.reasons, scan.age);
  $("note").value = "";
  $("decision-status").textContent = "";
  $("decision-status").className = "message";
  for (const id of ["admit", "refuse"]) { $(id).disabled = false; }
  $("decision").hidden = false;
  $("report").hidden = true;
  $("report-open").hidden = !supervisor;
  $("report-status").textContent = "";
  $("typed").hidden = true;
  $("photos").hidden = true;
  $("question").hidden = true;
  $("details").hidden = true;
  $("photo-alert").removeAttribute("src");
  $("photo-scan").removeAttribute("src");
  if (!current.match) { $("match").hidden = true; return; }
  $("match").hidden = false;
  const band = BANDS[current.match.harm_band] || "unknown";
  const level = document.createElement("span");
  level.className = `level ${band}`;
  level.textContent = band.toUpperCase();
  $("band").replaceChildren("Harm band of the alert: ", level);
  showState(current.match.state, "");
  if (current.match.state === "pending") { fetchPhoto(); } // this venue's own alert
}

function onMatch(update) {
  if (!current || !current.match || current.match.match_id !== update.match_id) { return; }
  current.match.state = update.state;
  showState(update.state, update.message || "");
  if (update.state === "identity_confirmed") { fetchPhoto(); }
}

function showState(state, message) {
  const done = DONE_STATES[state];
  for (const li of $("ladder").children) {
    const step = li.dataset.step;
    li.className = "";
    if (done && done.includes(step)) { li.classList.add("done"); }
  }
  const next = { checking: "checking", pending: "checking", identity_confirmed: "photo" }[state];
  if (next) {
    for (const li of $("ladder").children) {
      if (li.dataset.step === next) { li.classList.add("active"); }
    }
  }
  if (!done) {
    const first = [...$("ladder").children].find((li) => !li.classList.contains("done"));
    if (first) { first.classList.add("failed"); }
  }
  $("ladder-message").textContent = MESSAGES[state] ? (MESSAGES[state] + (message && !["not_subject", "dismissed", "identity_partial"].includes(state) ? ` (${message})` : "")) : message;
  if (["not_subject", "dismissed", "expired"].includes(state) && current) {
    const rest = current.scan.reasons.filter((r) => r !== "possible_alert_match");
    const refusing = rest.some((r) => ["under_age", "document_expired", "not_authentic", "banned_here"].includes(r));
    setVerdict(refusing ? "refuse" : (rest.length ? "check" : "admit"), rest, current.scan.age);
  }
}

async function fetchPhoto() {
  const match = current.match;
  try {
    const shown = await rpc("match.photo", { match_id: match.match_id, timeout_s: 20 });
    if (current.match !== match) { return; }
    match.state = shown.state;
    showState(shown.state, "");
    if (shown.photo) {
      const bytes = Uint8Array.from(atob(shown.photo), (c) => c.charCodeAt(0));
      current.photoUrl = URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
      $("photo-alert").src = current.photoUrl;
    } else {
      $("photo-alert").alt = "The alert has no photo";
    }
    $("photo-scan").src = `/api/scan-photo/${encodeURIComponent(current.scan.scan_id)}`;
    $("photos").hidden = false;
    $("question").hidden = false;
    // First the question, then the decision: the answer releases the details.
    $("decision").hidden = true;
    $("same-yes").disabled = false;
    $("same-no").disabled = false;
    $("same-yes").focus({ preventScroll: true });
    $("question").scrollIntoView({ block: "end", behavior: "instant" });
  } catch (e) {
    if (current.match === match) { $("ladder-message").textContent = e.message; }
  }
}

async function answer(same) {
  const match = current.match;
  $("same-yes").disabled = true;
  $("same-no").disabled = true;
  try {
    const result = await rpc("match.confirm", { match_id: match.match_id, same_person: same });
    $("question").hidden = true;
    $("decision").hidden = false;
    if (result.details) {
      match.state = "confirmed";
      showState("confirmed", "");
      const box = $("verdict");
      box.className = "verdict refuse";
      $("verdict-word").textContent = "ALERT";
      const li = document.createElement("li");
      li.textContent = `Same person as the alert from ${result.details.originating_venue}: read it below`;
      $("verdict-reasons").replaceChildren(li);
      await showDetails(result.details);
      $("refuse").focus({ preventScroll: true });
      $("details").scrollIntoView({ block: "start", behavior: "instant" });
    } else if (result.banned) {
      // A Pubwatch banning notice: refuse; no alert details come (docs/banning-notices.md).
      match.state = "confirmed";
      showState("confirmed", "");
      $("ladder-message").textContent = result.banned.refuse;
      $("verdict").className = "verdict refuse";
      $("verdict-word").textContent = "REFUSE";
      const li = document.createElement("li");
      li.textContent = result.banned.refuse;
      $("verdict-reasons").replaceChildren(li);
      $("refuse").focus({ preventScroll: true });
    } else {
      match.state = "dismissed";
      showState("dismissed", "");
      $("photos").hidden = true;
      $("admit").focus();
    }
  } catch (e) {
    $("ladder-message").textContent = e.message;
    $("same-yes").disabled = false;
    $("same-no").disabled = false;
  }
}

// The category's label as the manager pages show it ("Assault causing injury
// (actual bodily harm)"), not its code; the code in words if the list cannot load.
async function categoryLabel(code) {
  if (!categories) {
    try { categories = await rpc("alert.categories", {}); } catch (e) { categories = null; }
  }
  const found = (categories || []).find((c) => c.code === code);
  if (found) { return found.label; }
  const words = code.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

async function showDetails(d) {
  const when = (t) => new Date(t * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
  const rows = [
    ["Category", await categoryLabel(d.category)],
    ["What happened", d.reason || "(not given)"],
    ["Alert from", d.originating_venue],
    ["Made on", when(d.created_at)],
    ["Ends on", when(d.expires_at)],
  ];
  if (d.notes) { rows.push(["Notes", d.notes]); }
  for (const a of d.annotations || []) { rows.push(["Note added", a.text || ""]); }
  $("details-list").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = v;
    return [dt, dd];
  }));
  $("details").hidden = false;
}

async function decide(admitted) {
  const scan = current.scan;
  const note = $("note").value.trim();
  for (const id of ["admit", "refuse"]) { $(id).disabled = true; }
  try {
    await rpc("admission.decide", { scan_id: scan.scan_id, admitted, note: note || null });
    $("decision-status").textContent = admitted ? "Recorded: admitted." : "Recorded: refused tonight.";
    $("decision-status").className = `message recorded ${admitted ? "yes" : "no"}`;
  } catch (e) {
    $("decision-status").textContent = e.message;
    for (const id of ["admit", "refuse"]) { $(id).disabled = false; }
  }
}

async function openReport() {
  if (!categories) {
    try { categories = await rpc("alert.categories", {}); } catch (e) { $("report-status").textContent = e.message; return; }
    $("report-category").replaceChildren(...categories.map((c) => {
      const option = document.createElement("option");
      option.value = c.code;
      option.textContent = c.label;
      return option;
    }));
  }
  $("report").hidden = false;
  $("report-form").hidden = false;
  $("report-reason").value = "";
  $("report-notes").value = "";
  $("report-status").textContent = "";
  $("report-category").focus();
  $("report").scrollIntoView({ block: "start", behavior: "instant" });
}

async function sendReport(event) {
  event.preventDefault();
  const reason = $("report-reason").value.trim();
  if (!reason) { $("report-status").textContent = "Say what happened."; $("report-reason").focus(); return; }
  const notes = $("report-notes").value.trim();
  $("report-send").disabled = true;
  try {
    const made = await rpc("alert.create", {
      scan_id: current.scan.scan_id, category: $("report-category").value, reason, notes: notes || null,
    });
    const until = new Date(made.expires_at * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" });
    $("report-form").hidden = true;
    $("report-open").hidden = true;
    $("report-status").textContent = `Alert made; it is shared with the network until ${until}.`;
  } catch (e) {
    $("report-status").textContent = e.message;
  } finally {
    $("report-send").disabled = false;
  }
}

function openTyped() {
  $("typed").hidden = false;
  $("typed-status").textContent = "";
  $("typed-number").focus();
  $("typed").scrollIntoView({ block: "start", behavior: "instant" });
}

async function sendTyped(event) {
  event.preventDefault();
  const document_ = {
    document_type: $("typed-type").value,
    document_number: $("typed-number").value.trim(),
    given_names: $("typed-given").value.trim(),
    surname: $("typed-surname").value.trim(),
    date_of_birth: $("typed-dob").value,
    expiry_date: $("typed-expiry").value,
    issuing_country: $("typed-country").value.trim().toUpperCase(),
  };
  $("typed-send").disabled = true;
  try {
    // The verdict comes back on this door's live stream, like a scanner's.
    await rpc("scan.submit", { document: document_, entry: "typed", lane });
    $("typed-form").reset();
    $("typed").hidden = true;
  } catch (e) {
    $("typed-status").textContent = e.message;
  } finally {
    $("typed-send").disabled = false;
  }
}

async function login(event) {
  event.preventDefault();
  $("login-button").disabled = true;
  const form = { username: $("username").value, password: $("password").value, lane: $("lane").value };
  let { status, data } = await post("/api/login", form);
  if (status === 403) {
    // The page's token was out of date (a session ended meanwhile): once more with a new one.
    await refreshToken();
    ({ status, data } = await post("/api/login", form));
  }
  $("login-button").disabled = false;
  if (status !== 200) {
    $("password").value = "";
    $("login-error").textContent = data.error || "Login refused.";
    return;
  }
  csrf = data.csrf;
  $("password").value = "";
  $("login-error").textContent = "";
  showDoor(data.user);
}

async function logout() {
  await post("/api/logout", {});
  showLogin("");
}

async function start() {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("same-yes").addEventListener("click", () => answer(true));
  $("same-no").addEventListener("click", () => answer(false));
  $("admit").addEventListener("click", () => decide(true));
  $("refuse").addEventListener("click", () => decide(false));
  $("report-open").addEventListener("click", openReport);
  $("report-form").addEventListener("submit", sendReport);
  $("report-cancel").addEventListener("click", () => { $("report").hidden = true; });
  $("typed-open").addEventListener("click", openTyped);
  $("typed-form").addEventListener("submit", sendTyped);
  $("typed-cancel").addEventListener("click", () => { $("typed").hidden = true; });
  const data = await refreshToken();
  if (data.user) { showDoor(data.user); } else { showLogin(""); }
  performance.mark("doorwatch-ready"); // the first load's end, for bench/bench_console.py
}

document.addEventListener("DOMContentLoaded", start);
