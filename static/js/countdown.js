// Counts down to a deadline shown in [data-countdown] (ISO time); reloads when it passes.
(function () {
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var deadline = new Date(el.dataset.countdown).getTime();
    function tick() {
      var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      if (left === 0) {
        el.textContent = el.dataset.expiredText || "0:00";
        setTimeout(function () { location.reload(); }, 1500);
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      setTimeout(tick, 1000);
    }
    tick();
  });
})();
