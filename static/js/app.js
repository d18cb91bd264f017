/* Behaviour for every page, driven by data- attributes so templates carry no inline script
   (the Content-Security-Policy forbids inline code).

   data-confirm="text"   on a form or a submit button: ask before submitting.
   data-autosubmit       on a select or checkbox inside a form: submit the form when it changes.
   data-allow-resubmit   on a POST form: do not block a second submission.
   Forms with invalid fields: focus the first one, so keyboard users land on the problem. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var text = (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (text && !window.confirm(text)) {
      event.preventDefault();
      return;
    }
    // A double click must not send the same money operation twice (opt out: data-allow-resubmit,
    // e.g. a form that downloads a file and leaves the page in place).
    var method = (form.getAttribute("method") || "").toLowerCase();
    if (method === "post" && !form.hasAttribute("data-allow-resubmit")) {
      if (form.dataset.submitted === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.submitted = "1";
    }
  });

  // Coming back through the browser history must leave the forms usable again.
  window.addEventListener("pageshow", function () {
    var forms = document.querySelectorAll("form[data-submitted]");
    for (var i = 0; i < forms.length; i++) {
      delete forms[i].dataset.submitted;
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-autosubmit") && target.form) {
      target.form.submit();
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector("form .is-invalid");
    if (invalid && typeof invalid.focus === "function") {
      invalid.focus();
    }
  });
})();
