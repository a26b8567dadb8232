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
