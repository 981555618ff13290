// Verify screen: progressive enhancements only; every form works without this file.
//  - [data-code-input]: groups the digits in fours while typing ("1234 5678 9012").
//  - [data-scan]: where a camera is available, scans the voucher's QR code with the browser's
//    BarcodeDetector, else with jsQR (static/vendor/jsqr, loaded on first use), then submits.
//  - [data-confirm-form]: disables its button after the first press (the server's request key
//    already makes a second press harmless; this only saves a round trip).
(function () {
  "use strict";
  var CODE_LENGTH = 12;

  function digitsOf(text) {
    return String(text || "").replace(/[０-９]/g, function (ch) {
      return String.fromCharCode(ch.charCodeAt(0) - 0xfee0);  // full-width digits from a Chinese IME
    }).replace(/\D/g, "");
  }

  function grouped(digits) {
    return digits.slice(0, CODE_LENGTH).replace(/(\d{4})(?=\d)/g, "$1 ");
  }

  function enhanceCodeInput(input) {
    // Digits typed before this script ran (it is deferred) are grouped at once.
    var typed = digitsOf(input.value);
    if (typed.length && typed.length <= CODE_LENGTH) input.value = grouped(typed);
    input.addEventListener("input", function () {
      var caret = input.selectionStart, before = input.value;
      var digitsBeforeCaret = digitsOf(before.slice(0, caret)).length;
      var digits = digitsOf(before);
      if (digits.length > CODE_LENGTH) return;  // pasted something else: leave it to the server
      var value = grouped(digits);
      if (value === before) return;
      input.value = value;
      // Put the caret back after the same number of digits.
      var pos = 0, seen = 0;
      while (pos < value.length && seen < digitsBeforeCaret) {
        if (/\d/.test(value.charAt(pos))) seen++;
        pos++;
      }
      try { input.setSelectionRange(pos, pos); } catch (e) { /* not focused */ }
    });
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.jsQR) return resolve();
      var script = document.createElement("script");
      script.src = src;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(script);
    });
  }

  function makeDetector(form) {
    // The browser's own detector where it reads QR codes; jsQR otherwise.
    if ("BarcodeDetector" in window && window.BarcodeDetector.getSupportedFormats) {
      return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") === -1) throw new Error("no qr_code");
        var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
        return function (video) {
          return detector.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : null; });
        };
      }).catch(function () { return jsqrDetector(form); });
    }
    return jsqrDetector(form);
  }

  function jsqrDetector(form) {
    return loadScript(form.dataset.jsqrSrc).then(function () {
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d", { willReadFrequently: true });
      return function (video) {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return Promise.resolve(null);
        var scale = Math.min(1, 640 / Math.max(w, h));  // smaller frames decode faster
        canvas.width = Math.round(w * scale);
        canvas.height = Math.round(h * scale);
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        var image = context.getImageData(0, 0, canvas.width, canvas.height);
        var found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        return Promise.resolve(found ? found.data : null);
      };
    });
  }

  function enhanceScanner(form) {
    var button = form.querySelector("[data-scan]");
    var panel = form.querySelector("[data-scanner]");
    var input = form.querySelector("[data-code-input]");
    if (!button || !panel || !input) return;
    var media = navigator.mediaDevices;
    if (!window.isSecureContext || !media || !media.getUserMedia || !window.Promise) return;  // no camera: typing only
    var video = panel.querySelector("video");
    var status = panel.querySelector("[data-scan-status]");
    var stream = null, running = false;

    function say(text) { if (status) status.textContent = text || ""; }

    function stop() {
      running = false;
      if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
      video.srcObject = null;
      panel.hidden = true;
      button.hidden = false;
    }

    function found(raw) {
      var digits = digitsOf(raw);
      if (digits.length !== CODE_LENGTH) { say(form.dataset.msgUnreadable); return false; }
      input.value = grouped(digits);
      stop();
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      return true;
    }

    button.addEventListener("click", function () {
      button.hidden = true;
      panel.hidden = false;
      say(form.dataset.msgStarting);
      running = true;
      media.getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false }).then(function (s) {
        stream = s;
        if (!running) { stop(); return null; }
        video.srcObject = s;
        return video.play().then(function () { return makeDetector(form); });
      }).then(function (detect) {
        if (!detect) return;
        say(form.dataset.msgLooking);
        (function tick() {
          if (!running) return;
          detect(video).then(function (raw) {
            if (raw && found(raw)) return;
            setTimeout(tick, 200);
          }, function () { setTimeout(tick, 400); });
        })();
      }).catch(function () {
        stop();
        button.hidden = true;  // denied or no camera: do not offer it again on this page
        var note = document.createElement("p");
        note.className = "muted small";
        note.textContent = form.dataset.msgDenied;
        button.parentNode.appendChild(note);
      });
    });
    panel.querySelector("[data-scan-stop]").addEventListener("click", stop);
    button.hidden = false;
  }

  document.querySelectorAll("[data-code-input]").forEach(enhanceCodeInput);
  document.querySelectorAll("[data-verify-form]").forEach(enhanceScanner);
  document.querySelectorAll("[data-confirm-form]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      // After this tick, so the press itself still submits the form.
      if (button) setTimeout(function () { button.disabled = true; }, 0);
    });
  });
})();
