/* Rule form: show only the fields a rule kind uses, and suggest names as the editor types. */
"use strict";
(function () {
  const FIELDS = {
    block: ["target_field", "target_value", "strength", "valid_from", "valid_until"],
    boost: ["target_field", "target_value", "strength", "factor", "valid_from", "valid_until"],
    pin: ["target_field", "target_value", "slot", "devices", "visitors", "priority",
          "valid_from", "valid_until"],
    pick: ["target_field", "target_value", "valid_from", "valid_until"],
    max_age: ["target_field", "target_value", "hours"],
    freshness: ["target_field", "target_value", "hours"],
    cap: ["target_field", "target_value", "max_per_value", "top_k"],
    mmr: ["mmr_lambda"],
  };
  const OPTIONAL = ["target_field", "target_value", "strength", "factor", "slot", "devices",
    "visitors", "priority", "hours", "max_per_value", "top_k", "mmr_lambda", "valid_from",
    "valid_until"];
  const lookupUrl = () => document.body.dataset.editorialLookup ||
    window.location.pathname.replace(/\/(\d+\/change|add)\/?$/, "/lookup/");

  function toggle(box) {
    const kind = box.querySelector("select[name$='-kind']");
    if (!kind) return;
    const shown = FIELDS[kind.value] || OPTIONAL;
    for (const name of OPTIONAL) {
      const row = box.querySelector(".form-row.field-" + name);
      if (row) row.style.display = shown.includes(name) ? "" : "none";
    }
    const target = box.querySelector("select[name$='-target_field']");
    if ((kind.value === "pin" || kind.value === "pick") && target && !target.value) target.value = "article";
  }

  let timer = null;
  function lookupField(input) {
    if (input.name === "scope_value") {  // the rule set's scope: sections, devices, variants
      const scope = document.querySelector("select[name='scope']");
      return scope && scope.value !== "site" ? "scope:" + scope.value : "";
    }
    const box = input.closest(".inline-related");
    const field = box && box.querySelector("select[name$='-target_field']");
    return field ? field.value : "";
  }

  function suggest(input) {
    const field = {value: lookupField(input)};
    if (!field.value) return;
    let list = document.getElementById(input.id + "-list");
    if (!list) {
      list = document.createElement("datalist");
      list.id = input.id + "-list";
      input.after(list);
      input.setAttribute("list", list.id);
    }
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const url = lookupUrl() + "?field=" + encodeURIComponent(field.value) +
        "&q=" + encodeURIComponent(input.value);
      const response = await fetch(url, {credentials: "same-origin"});
      if (!response.ok) return;
      const data = await response.json();
      list.replaceChildren(...data.results.map((r) => {
        const option = document.createElement("option");
        option.value = r.value;
        option.label = r.label;
        return option;
      }));
    }, 150);
  }

  document.addEventListener("change", (e) => {
    const box = e.target.closest && e.target.closest(".inline-related");
    if (box && e.target.name && e.target.name.endsWith("-kind")) toggle(box);
  });
  document.addEventListener("input", (e) => {
    if (e.target.classList && e.target.classList.contains("editorial-lookup")) suggest(e.target);
  });
  document.addEventListener("focusin", (e) => {
    if (e.target.classList && e.target.classList.contains("editorial-lookup")) suggest(e.target);
  });
  document.addEventListener("formset:added", (e) => {
    const box = e.target.closest ? e.target.closest(".inline-related") || e.target : e.target;
    toggle(box);
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".inline-related").forEach(toggle);
  });
})();
