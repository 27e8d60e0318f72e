// Shared by the manager pages and the banning notices page: the page's session, the API
// call that carries its CSRF token, table rows, and logging out. Loaded before the
// page's own script (both deferred, so they run in order once the page is parsed).
"use strict";

const $ = (id) => document.getElementById(id);

// The session ({user, csrf}), asked for once as the page loads. Every call waits for it,
// so a tab or button pressed while the page is still loading is neither lost nor sent
// without its token.
const session = fetch("/api/session", { credentials: "same-origin", cache: "no-store" })
  .then((response) => response.json())
  .then((info) => {
    if (!info.user) { window.location.assign("/"); throw new Error("Log in first."); }
    return info;
  });

async function rpc(method, params) {
  const { csrf } = await session;
  const response = await fetch("/api/rpc", {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ method, params }),
  });
  if (response.status === 401 || response.status === 403) {
    window.location.assign("/");
    throw new Error("Log in again.");
  }
  const data = await response.json();
  if (data.error !== undefined) {
    const error = new Error(data.error);
    error.code = data.code;
    throw error;
  }
  return data.result;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) { td.append(c); } else { td.textContent = c; }
    tr.append(td);
  }
  return tr;
}

// The bar at the top: who is logged in, and the Log out button.
async function showWho() {
  $("logout").addEventListener("click", async () => {
    const { csrf } = await session;
    await fetch("/api/logout", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: "{}" });
    window.location.assign("/");
  });
  const { user } = await session;
  $("who").textContent = `${user.username} (${user.role.replace("_", " ")})`;
  return user;
}

// Set once every control of the page answers (its listeners bound): tests wait for it.
function pageReady() { document.documentElement.dataset.ready = "true"; }
