// The batch page: start the batch as a background job, show "12 of 50 ready", then download the PDF.
// Without this script the form posts normally and the answer is the PDF itself.
(function () {
  "use strict";
  var form = document.getElementById("batch-form");
  if (!form || !window.fetch) { return; }
  var box = document.getElementById("batch-progress");
  var bar = box.querySelector("progress");
  var text = document.getElementById("batch-progress-text");
  var button = form.querySelector("button[type=submit]");

  function show(message) { box.hidden = false; text.textContent = message; }
  function fail(message) { show(message); button.disabled = false; }

  function poll(job) {
    fetch(job.status_url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (state) {
      if (state.error) { fail(state.error); return; }
      bar.max = state.total; bar.value = state.done;
      if (state.ready) {
        show("All " + state.total + " ready: downloading the PDF.");
        button.disabled = false;
        var link = document.createElement("a");
        link.href = job.download_url;
        link.download = "";
        document.body.appendChild(link);
        link.click();
        link.remove();
        return;
      }
      show(state.done + " of " + state.total + " ready");
      window.setTimeout(function () { poll(job); }, 700);
    }).catch(function () { fail("Lost track of the batch; try again."); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    show("Preparing the reports…");
    fetch(form.dataset.jobsUrl, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        if (!answer.ok) { fail(answer.body.error || "Nothing was printed."); return; }
        bar.max = answer.body.total; bar.value = 0;
        show("0 of " + answer.body.total + " ready");
        poll(answer.body);
      })
      .catch(function () { fail("The batch could not be started; try again, or reload the page."); });
  });
}());
