// The browser's time zone fills the sign-in form's hidden field, so that times are shown in
// it until the member chooses another in her profile. Nothing else here: the pages work
// without script, and htmx (htmx.min.js) only lightens a few forms.
document.addEventListener("DOMContentLoaded", function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  document.querySelectorAll("input.js-tz").forEach(function (input) { input.value = zone; });
});
