// Autosave of unsaved typing (tracker/notes/drafts.py): a form with data-draft-url posts its fields, CSRF
// token included and passwords left out, a moment after typing stops (and at least every half minute while typing
// goes on, which also keeps the login session alive up to its absolute lifetime). The server keeps them as the
// user's draft and the page restores it when opened again. Before any other form of the page is submitted (a
// vital reading below the note, say), the typing not yet kept is saved first, so the page that comes back still
// has it. If a save fails (the session ended, the network is down), the status line says so and the page stays as
// it is, so nothing typed is thrown away.
(function () {
  var DELAY = 1500;
  var MAX_WAIT = 30000;
  var drafts = [];

  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-url]"), function (form) {
    var status = form.querySelector("[data-draft-status]");
    var draft = { form: form, timer: null, firstChange: 0, dirty: false, submitted: false, inflight: null };
    function say(text) { if (status) { status.textContent = text; } }
    draft.send = function (keepalive) {
      if (draft.timer) { window.clearTimeout(draft.timer); }
      draft.timer = null;
      draft.firstChange = 0;
      if (draft.submitted || !draft.dirty) { return Promise.resolve(); }
      draft.dirty = false;
      var data = new FormData(form);
      Array.prototype.forEach.call(form.querySelectorAll("input[type=password]"), function (input) {
        data.delete(input.name);
      });
      var sent = fetch(form.getAttribute("data-draft-url"), {
        method: "POST", body: data, credentials: "same-origin", redirect: "manual", keepalive: !!keepalive,
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        var type = response.headers.get("content-type") || "";
        if (response.ok && type.indexOf("application/json") === 0) {
          return response.json().then(function (body) { say("Draft kept at " + body.saved_at + " (not yet saved)."); });
        }
        draft.dirty = true;
        say("Your typing could not be kept as a draft: your session may have ended. Keep this page open, " +
            "sign in again in another tab, then save.");
      }).catch(function () {
        draft.dirty = true;
        say("Your typing could not be kept as a draft (no connection). Keep this page open and save again later.");
      }).then(function () { if (draft.inflight === sent) { draft.inflight = null; } });
      draft.inflight = sent;
      return sent;
    };
    form.addEventListener("input", function () {
      var now = Date.now();
      draft.dirty = true;
      if (!draft.firstChange) { draft.firstChange = now; }
      if (draft.timer) { window.clearTimeout(draft.timer); }
      var wait = Math.min(DELAY, Math.max(0, draft.firstChange + MAX_WAIT - now));
      draft.timer = window.setTimeout(function () { draft.send(false); }, wait);
    });
    drafts.push(draft);
  });
  if (!drafts.length) { return; }

  // Any form of the page: its own typing goes with it; the other forms' typing is kept first.
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    var flushed = false;
    form.addEventListener("submit", function (event) {
      drafts.forEach(function (draft) { if (draft.form === form) { draft.submitted = true; } });
      var pending = drafts.filter(function (draft) {
        return draft.form !== form && (draft.dirty || draft.inflight);
      });
      if (!pending.length || flushed || event.defaultPrevented) { return; }
      event.preventDefault();
      flushed = true;
      var submitter = event.submitter || null;
      Promise.all(pending.map(function (draft) {
        return draft.dirty ? draft.send(false) : draft.inflight;
      })).then(function () {
        if (form.requestSubmit) { form.requestSubmit(submitter); } else { form.submit(); }
      });
    });
  });
  // Leaving by a link: what is not kept yet goes out with the page.
  window.addEventListener("pagehide", function () {
    drafts.forEach(function (draft) { if (draft.dirty) { draft.send(true); } });
  });
})();
