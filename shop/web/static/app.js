// Progressive enhancement only: every page works without this file (the pages' tests
// run the checkout with JavaScript disabled). It is loaded from /static under the
// strict Content-Security-Policy (script-src 'self'), so it holds no inline handlers.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // A select marked data-autosubmit submits its form when changed (the sort order); the
  // form's own submit button stays for keyboard users and for browsers without scripts.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit();
    }
  });
})();
