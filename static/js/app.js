// Idle sign-out: once the server-side idle timeout has passed with no page load, go to the login page, which
// says why. The server enforces the timeout itself; this only stops a screen from showing health data to the
// next person at the desk. A page with unsaved typing is left alone so nothing typed is thrown away.
(function () {
  var body = document.body;
  var seconds = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var loginUrl = body.getAttribute("data-login-url");
  if (!seconds || !loginUrl) { return; }
  var dirty = false;
  document.addEventListener("input", function () { dirty = true; });
  window.setTimeout(function () {
    if (!dirty) { window.location.assign(loginUrl); }
  }, (seconds + 5) * 1000);
})();

// Errors where the eye is (WCAG 2.2, 3.3.1 Error Identification): a page that comes back with a refused form opens
// at that form's error summary, focused, so a screen reader reads it and the eye finds it without scrolling; each
// line of the summary links to its field, and following the link puts the cursor in the field.
(function () {
  var summary = document.querySelector("[data-error-summary]") || document.querySelector("[data-refusal]");
  function show() {
    summary.scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
  }
  if (summary) {
    show();
    // The browser's own scroll to the URL's fragment (the form's section) comes at the load and takes the focus
    // away: show the summary again after it.
    window.addEventListener("load", function () { window.setTimeout(show, 0); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-error-summary] a[href^='#']"), function (link) {
    link.addEventListener("click", function (event) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      var target = field.matches("input, select, textarea") ? field : field.querySelector("input, select, textarea");
      if (!target) { return; }
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      target.focus({ preventScroll: true });
    });
  });
})();
