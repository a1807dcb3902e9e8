// Enhancements only: everything works without this file.
// 1. A button marked data-once (Approve, Log in) is disabled after its form is submitted.
// 2. Phase 3's password checklist is ticked live for the rules a browser can check itself.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  var submitter = event.submitter;
  if (submitter && submitter.hasAttribute("data-once")) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    window.setTimeout(function () { submitter.disabled = true; }, 0);
  }
});
document.addEventListener("DOMContentLoaded", function () {
  var input = document.querySelector("input[data-password]");
  var rules = document.getElementById("password-rules");
  if (!input || !rules) { return; }
  var checks = {
    too_short: function (p) { return Array.from(p).length >= 10; },
    missing_digit: function (p) { return /\p{Nd}/u.test(p); },
    missing_uppercase: function (p) { return /\p{Lu}/u.test(p); },
    missing_lowercase: function (p) { return /\p{Ll}/u.test(p); }
  };
  rules.setAttribute("aria-live", "polite");
  input.addEventListener("input", function () {
    rules.querySelectorAll("li[data-rule]").forEach(function (item) {
      var check = checks[item.getAttribute("data-rule")];
      if (check) { item.classList.toggle("met", check(input.value)); }
    });
  });
});
