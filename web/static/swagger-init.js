// Starts Swagger UI on /api/v1/docs (web/templates/swagger_ui.html). A file of its own because the
// Content-Security-Policy allows no inline script; the settings come from the container's data attributes.
(function () {
  var container = document.getElementById('swagger-ui-container');
  var config = {
    url: container.dataset.specUrl,
    dom_id: '#swagger-ui-container',
    validatorUrl: null, // no badge fetched from validator.swagger.io: the policy allows this site only
  };
  var extra = JSON.parse(container.dataset.config || '{}');
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });
  window.ui = SwaggerUIBundle(config);
})();
