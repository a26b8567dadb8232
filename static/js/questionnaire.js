// The public questionnaire: as soon as an answer that raises an urgent flag is chosen (PHQ-9 item 9 above 0), show
// the crisis line; the server shows it again with the result. Without JavaScript it shows after sending.
(function () {
  "use strict";
  var box = document.getElementById("crisis");
  if (!box) { return; }
  function update() {
    var urgent = document.querySelector("input[data-urgent]:checked");
    box.hidden = !urgent;
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.matches("input[type=radio]")) { update(); }
  });
  update();
  var problems = document.getElementById("problems");
  if (problems) { problems.focus(); }
})();
