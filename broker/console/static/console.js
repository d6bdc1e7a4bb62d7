// Progressive enhancement: the routing log page works without this; with it, new rows arrive
// without a reload (polled once a second, only rows after the last one seen).
"use strict";
(function () {
  const table = document.querySelector("table[data-live]");
  if (!table) return;
  const body = table.tBodies[0];
  let after = table.dataset.after || "0";
  const base = table.dataset.live;
  const join = base.includes("?") ? "&" : "?";
  const MAX_ROWS = 1000;
  async function poll() {
    try {
      const response = await fetch(base + join + "after=" + encodeURIComponent(after), {
        credentials: "same-origin",
      });
      if (response.status === 401) {
        window.location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      if (response.ok) {
        after = response.headers.get("X-Last-Seq") || after;
        const html = (await response.text()).trim();
        if (html) {
          body.insertAdjacentHTML("afterbegin", html);
          const empty = document.querySelector("p.empty");
          if (empty) empty.remove();
          while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
        }
      }
    } catch (e) {
      // the console restarting or the network gone: try again on the next tick
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
