// Doorwatch banning notices page: list, read, vote, appeal, letters and nominations,
// each one call of the node's API with this page's session (the API checks roles, the
// committee and the nominator's exclusion).
"use strict";

let shown = 0;

const date = (t) => new Date(t * 1000).toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
const until = (n) => (n.state === "voting" || n.state === "cancelled") ? "" : (n.until === null ? "for life" : date(n.until));
const tally = (n) => n.rounds.map((r) => `${r.round ? "appeal" : "nomination"}: ${r.tally.uphold} uphold, ${r.tally.reject} reject of ${r.tally.eligible}${r.outcome ? ` (${r.outcome})` : ""}`).join("; ");

function button(label, run) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "quiet small";
  b.textContent = label;
  b.addEventListener("click", run);
  return b;
}

async function showNotices(event) {
  if (event) { event.preventDefault(); }
  const n = ++shown;
  const state = $("notice-state").value;
  try {
    const { notices } = await rpc("notice.list", state ? { state } : {});
    if (n !== shown) { return; }
    $("notices-table").querySelector("tbody").replaceChildren(...notices.map((x) => {
      const tr = row([x.nominated_by + (x.own ? " (this venue)" : ""), x.state, x.scope, x.lifetime ? "lifetime" : `${x.duration_days} days`, until(x), tally(x), button("Open", () => openNotice(x.notice_id))]);
      tr.dataset.notice = x.notice_id;
      return tr;
    }));
    $("notices-table").hidden = notices.length === 0;
    $("notices-message").textContent = notices.length === 0 ? "No notices." : "";
  } catch (e) {
    $("notices-message").textContent = e.message;
  }
}

// A sentence when member doors stop enforcing the ban before it ends: the alert it
// rides on is no longer active, so is not re-issued before its year is out
// (door_until, given at the nominating venue).
function doorGap(x) {
  if (x.door_until === null || x.door_until === undefined || x.state === "cancelled" || x.state === "expired") { return ""; }
  const end = x.lifetime ? null : (x.until !== null ? x.until : x.nominated_at + x.duration_days * 86400);
  if (end !== null && end <= x.door_until) { return ""; }
  return `Member doors enforce this ban only until ${date(x.door_until)}: the alert it rides on is no longer active (disputed, withdrawn, expired or deleted), and only an active alert is re-issued before its year is out. Reinstate it, or nominate again from a new alert.`;
}

async function openNotice(id) {
  $("detail-message").textContent = "";
  let x;
  try { x = await rpc("notice.get", { notice_id: id }); } catch (e) { $("detail-message").textContent = e.message; return; }
  $("notice-detail").hidden = false;
  $("notice-detail").dataset.notice = id;
  $("detail-title").textContent = `Notice ${id.slice(0, 8)}: ${x.state}${until(x) ? `, until ${until(x)}` : ""}`;
  $("detail-summary").textContent = x.summary ? `What happened: ${x.summary}` : "The case is for the committee and the liaison only.";
  $("detail-grounds").textContent = [x.appeal_grounds ? `Grounds of appeal: ${x.appeal_grounds}` : "", doorGap(x)].filter(Boolean).join(" ");
  const actions = [];
  const open = x.state === "voting" || x.state === "appealed";
  if (x.can_vote && open) {
    const reason = document.createElement("input");
    reason.id = "vote-reason";
    reason.setAttribute("aria-label", "Reason (optional, for the nominating venue)");
    reason.placeholder = "Reason (optional)";
    const vote = (choice) => async () => {
      try {
        const params = { notice_id: id, vote: choice };
        if (reason.value.trim()) { params.reason = reason.value.trim(); }
        await rpc("notice.vote", params);
        $("detail-message").textContent = `Your vote (${choice}) is recorded.`;
        showNotices();
      } catch (e) { $("detail-message").textContent = e.message; }
    };
    actions.push(reason, button("Uphold", vote("uphold")), button("Reject", vote("reject")));
  }
  if (x.own && x.state === "upheld") {
    const grounds = document.createElement("input");
    grounds.id = "appeal-grounds";
    grounds.setAttribute("aria-label", "The appellant's grounds");
    grounds.placeholder = "Grounds of appeal";
    actions.push(grounds, button("Record appeal", async () => {
      try {
        await rpc("notice.appeal", { notice_id: id, grounds: grounds.value });
        $("detail-message").textContent = "Appeal recorded: the committee votes again.";
        showNotices();
      } catch (e) { $("detail-message").textContent = e.message; }
    }));
  }
  if (x.own && x.rounds.length && x.rounds[0].outcome === "upheld") {
    const letter = (kind) => async () => {
      try {
        const made = await rpc("notice.letter", { notice_id: id, kind });
        const bytes = Uint8Array.from(atob(made.pdf), (c) => c.charCodeAt(0));
        const a = document.createElement("a");
        a.href = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
        a.download = made.filename;
        document.body.append(a);
        a.click();
        a.remove();
      } catch (e) { $("detail-message").textContent = e.message; }
    };
    actions.push(button("Notice letter (PDF)", letter("notice")));
    if (x.rounds.length > 1 && x.rounds[1].outcome) { actions.push(button("Appeal outcome letter (PDF)", letter("appeal_outcome"))); }
  }
  $("detail-actions").replaceChildren(...actions);
}

// The alerts a nomination can be about: this venue's active ones, named as the manager
// pages name them (category, when, by whom), never by the person.
async function showAlertChoices() {
  const select = $("nominate-alert");
  try {
    const [alerts, categories] = await Promise.all([
      rpc("alert.list", { status: "active" }),
      rpc("alert.categories", {}),
    ]);
    const labels = Object.fromEntries(categories.map((c) => [c.code, c.label]));
    const options = [new Option(alerts.length ? "Choose an alert" : "This venue has no active alert", "")];
    for (const a of alerts) {
      const what = labels[a.category] || a.category;
      options.push(new Option(`${what}, ${date(a.created_at)} by ${a.created_by} (${a.alert_id.slice(0, 8)})`, a.alert_id));
    }
    select.replaceChildren(...options);
  } catch (e) {
    select.replaceChildren(new Option("The alerts could not be listed", ""));
    $("nominate-message").textContent = e.message;
  }
}

async function nominate(event) {
  event.preventDefault();
  if (!$("nominate-alert").value) {
    $("nominate-message").textContent = "Choose the alert whose subject you nominate.";
    return;
  }
  const days = $("nominate-days").value.trim();
  const params = { alert_id: $("nominate-alert").value, summary: $("nominate-summary").value };
  if (days) { params.duration_days = Number(days); } else { params.lifetime_reason = $("nominate-reason").value; }
  try {
    const made = await rpc("notice.nominate", params);
    $("nominate-message").textContent = `Nominated: the committee votes until ${date(made.rounds[0].deadline)}. ${doorGap(made)}`.trim();
    showNotices();
  } catch (e) {
    $("nominate-message").textContent = e.message;
  }
}

function start() {
  $("notices-filter").addEventListener("submit", showNotices);
  $("nominate-form").addEventListener("submit", nominate);
  $("nominate-alert").addEventListener("change", () => { $("nominate-message").textContent = ""; });
  showWho().catch(() => {});
  showNotices();
  showAlertChoices();
  pageReady();
}

document.addEventListener("DOMContentLoaded", start);
