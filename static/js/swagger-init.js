// Starts Swagger UI on /api/v1/docs; the spec URL comes from a data attribute (no inline script).
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  if (!container || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.ui = window.SwaggerUIBundle({
    url: container.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui-container",
    deepLinking: true,
    persistAuthorization: false
  });
})();
