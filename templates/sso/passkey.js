// Passkeys at the center: forms marked data-passkey="register", "second" or "sign-in" ask the
// server for options (POST to data-options with the form's CSRF token), run the browser's
// WebAuthn ceremony, and submit the result in the form itself (fields "ceremony" and
// "credential"). Messages come from the form's data-msg-* attributes, in the page's language.
"use strict";

(function () {
  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) {
      return null;
    }
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeCredentials(list) {
    return (list || []).map(function (item) {
      var copy = Object.assign({}, item);
      copy.id = toBytes(item.id);
      return copy;
    });
  }

  function creationOptions(options) {
    var publicKey = Object.assign({}, options.publicKey);
    publicKey.challenge = toBytes(publicKey.challenge);
    publicKey.user = Object.assign({}, publicKey.user, { id: toBytes(publicKey.user.id) });
    publicKey.excludeCredentials = decodeCredentials(publicKey.excludeCredentials);
    return { publicKey: publicKey };
  }

  function requestOptions(options) {
    var publicKey = Object.assign({}, options.publicKey);
    publicKey.challenge = toBytes(publicKey.challenge);
    publicKey.allowCredentials = decodeCredentials(publicKey.allowCredentials);
    return { publicKey: publicKey };
  }

  function encodeCreated(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        clientDataJSON: toText(response.clientDataJSON),
        attestationObject: toText(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : undefined,
      },
    };
  }

  function encodeAssertion(credential) {
    var response = credential.response;
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      extensions: credential.getClientExtensionResults(),
      response: {
        authenticatorData: toText(response.authenticatorData),
        clientDataJSON: toText(response.clientDataJSON),
        signature: toText(response.signature),
        userHandle: toText(response.userHandle),
      },
    };
  }

  function show(form, text) {
    var box = form.querySelector("[data-passkey-error]");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
  }

  function optionsFor(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    return fetch(form.dataset.options, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body: body,
    }).then(function (response) {
      return response.json().then(function (json) {
        if (!response.ok) {
          throw new ServerRefusal(json.error || form.dataset.msgFailed);
        }
        return json;
      });
    });
  }

  function ServerRefusal(message) {
    this.message = message;
  }

  function run(form) {
    var kind = form.dataset.passkey;
    return optionsFor(form).then(function (options) {
      form.elements.ceremony.value = options.ceremony;
      if (kind === "register") {
        return navigator.credentials.create(creationOptions(options)).then(encodeCreated);
      }
      return navigator.credentials.get(requestOptions(options)).then(encodeAssertion);
    });
  }

  function start(event) {
    var form = event.currentTarget;
    if (form.elements.credential.value) {
      return;
    }
    event.preventDefault();
    if (!window.PublicKeyCredential || !navigator.credentials) {
      show(form, form.dataset.msgUnsupported);
      return;
    }
    if (form.dataset.busy) {
      return;
    }
    form.dataset.busy = "1";
    run(form)
      .then(function (credential) {
        form.elements.credential.value = JSON.stringify(credential);
        form.submit();
      })
      .catch(function (error) {
        delete form.dataset.busy;
        if (error instanceof ServerRefusal) {
          show(form, error.message);
        } else if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
          show(form, form.dataset.msgCancelled);
        } else if (error && error.name === "InvalidStateError") {
          show(form, form.dataset.msgDuplicate || form.dataset.msgFailed);
        } else {
          show(form, form.dataset.msgFailed);
        }
      });
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.addEventListener("submit", start);
  });
})();
