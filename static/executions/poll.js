// Polls an execution (fetch follows the poll's 303 to the result) and shows the
// outcome of a credential check. Vendored, no dependencies, no CDN.
(function () {
  "use strict";
  function show(text, ok) {
    const node = document.getElementById("verify-outcome");
    node.textContent = text;
    node.className = ok === undefined ? "" : ok ? "success" : "errornote";
  }
  function describe(body) {
    if (body.status !== "succeeded") {
      return ["The check ended " + body.status + ": " + (body.error || ""), false];
    }
    if (body.result && body.result.verified) {
      return ["Verified: the service accepted these credentials.", true];
    }
    return ["Not verified: " + ((body.result && body.result.reason) || "no reason given"), false];
  }
  async function poll(url, deadline) {
    const answer = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    const body = await answer.json();
    if (body.result !== undefined || body.error !== undefined) {
      const [text, ok] = describe(body);
      show(text, ok);
      return;
    }
    if (answer.status !== 200) { show("Could not read the execution (" + answer.status + ").", false); return; }
    show(body.status === "running" ? "Running…" : "Waiting for a worker…");
    if (Date.now() > deadline) { show("Still not finished; reload this page later.", false); return; }
    setTimeout(function () { poll(url, deadline); }, 500);
  }
  document.addEventListener("DOMContentLoaded", function () {
    const config = JSON.parse(document.getElementById("verify-poll").textContent);
    poll(config.url, Date.now() + 120000).catch(function (error) { show("Polling failed: " + error, false); });
  });
})();
