// Autosave of unsaved typing (tracker/sessions/drafts.py): a form with data-draft-url posts its fields, CSRF
// token included and passwords left out, a moment after typing stops. The server keeps them as the user's draft
// and the page restores it when opened again. If a save fails (the session ended, the network is down), the
// status line says so and the page stays as it is, so nothing typed is thrown away.
(function () {
  var DELAY = 1500;
  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-url]"), function (form) {
    var status = form.querySelector("[data-draft-status]");
    var timer = null;
    var submitted = false;
    function say(text) { if (status) { status.textContent = text; } }
    function send() {
      timer = null;
      if (submitted) { return; }
      var data = new FormData(form);
      Array.prototype.forEach.call(form.querySelectorAll("input[type=password]"), function (input) {
        data.delete(input.name);
      });
      fetch(form.getAttribute("data-draft-url"), {
        method: "POST", body: data, credentials: "same-origin", redirect: "manual",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (response.ok && type.indexOf("application/json") === 0) {
          return response.json().then(function (body) { say("Draft kept at " + body.saved_at + " (not yet saved)."); });
        }
        say("Your typing could not be kept as a draft: your session may have ended. Keep this page open, " +
            "sign in again in another tab, then save.");
      }).catch(function () {
        say("Your typing could not be kept as a draft (no connection). Keep this page open and save again later.");
      });
    }
    form.addEventListener("input", function () {
      if (timer) { window.clearTimeout(timer); }
      timer = window.setTimeout(send, DELAY);
    });
    form.addEventListener("submit", function () {
      submitted = true;
      if (timer) { window.clearTimeout(timer); }
    });
  });
})();
