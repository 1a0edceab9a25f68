/*
 * modelwrap's /docs page: loads /openapi.json (which needs the `read` scope when authentication
 * is on: the page then asks for an API key first, kept for this tab only) and renders it with
 * swagger-ui, pre-authorized with that key so that "Try it out" calls work at once.
 * No online validator, no remote files: everything comes from this server.
 */
(function () {
  'use strict';

  var STORE = 'modelwrap.apiKey';
  var form = document.getElementById('mw-key-form');
  var input = document.getElementById('mw-api-key');
  var error = document.getElementById('mw-key-error');

  function storedKey() {
    try {
      return window.sessionStorage.getItem(STORE) || '';
    } catch (e) {
      return '';
    }
  }

  function storeKey(key) {
    try {
      window.sessionStorage.setItem(STORE, key);
    } catch (e) {
      /* storage disabled: the key lives as long as the page */
    }
  }

  function fetchSpec(key) {
    var headers = { Accept: 'application/json' };
    if (key) {
      headers['X-API-Key'] = key;
    }
    return window.fetch('/openapi.json', { headers: headers, credentials: 'omit' });
  }

  function render(spec, key) {
    form.hidden = true;
    var ui = window.SwaggerUIBundle({
      spec: spec,
      dom_id: '#swagger-ui',
      validatorUrl: null,
      deepLinking: false,
      layout: 'BaseLayout',
      presets: [window.SwaggerUIBundle.presets.apis],
      defaultModelsExpandDepth: 0,
      displayRequestDuration: true,
      onComplete: function () {
        if (key) {
          ui.preauthorizeApiKey('ApiKeyHeader', key);
        }
      }
    });
    window.modelwrapDocs = ui;
  }

  function showForm(message) {
    form.hidden = false;
    error.hidden = !message;
    error.textContent = message || '';
    input.focus();
  }

  function load(key) {
    return fetchSpec(key).then(function (resp) {
      if (resp.status === 401 || resp.status === 403) {
        showForm(key ? 'This key was refused (HTTP ' + resp.status + ').' : '');
        return;
      }
      if (!resp.ok) {
        showForm('The API description could not be loaded (HTTP ' + resp.status + ').');
        return;
      }
      return resp.json().then(function (spec) {
        render(spec, key);
      });
    }).catch(function (e) {
      showForm('The API description could not be loaded: ' + e);
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var key = input.value.trim();
    if (!key) {
      return;
    }
    storeKey(key);
    load(key);
  });

  load(storedKey());
})();
