// Autocomplete for the search box from /api/suggest: the only script on the
// page, which works without it.  Suggestions are inserted as text, never HTML.
(() => {
  const input = document.getElementById("q");
  const list = document.getElementById("suggestions");
  if (!input || !list || !window.fetch) return;
  let timer = 0, controller = null, active = -1;

  const items = () => Array.from(list.children);
  const hide = () => { list.hidden = true; input.setAttribute("aria-expanded", "false"); active = -1; };
  const select = (i) => {
    items().forEach((li, j) => li.setAttribute("aria-selected", String(j === i)));
    active = i;
  };
  const show = (found) => {
    list.replaceChildren(...found.map((s, i) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = `suggestion-${i}`;
      const a = document.createElement("a");
      a.href = `${input.dataset.base}?q=${encodeURIComponent(s.text)}`;
      const text = document.createElement("span");
      text.textContent = s.text;
      const n = document.createElement("span");
      n.className = "n";
      n.textContent = String(s.count);
      a.append(text, n);
      li.append(a);
      return li;
    }));
    list.hidden = found.length === 0;
    input.setAttribute("aria-expanded", String(!list.hidden));
    active = -1;
  };
  const load = async () => {
    const prefix = input.value.trim();
    if (controller) controller.abort();
    if (!prefix) { hide(); return; }
    controller = new AbortController();
    try {
      const r = await fetch(`${input.dataset.suggest}?limit=8&q=${encodeURIComponent(prefix)}`, { signal: controller.signal });
      if (r.ok && input.value.trim() === prefix) show(await r.json()); else if (!r.ok) hide();
    } catch (e) {
      if (e.name !== "AbortError") hide();
    }
  };

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 120); });
  input.addEventListener("keydown", (e) => {
    const n = items().length;
    if (list.hidden || !n) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      select(e.key === "ArrowDown" ? (active + 1) % n : (active - 1 + n) % n);
      input.setAttribute("aria-activedescendant", `suggestion-${active}`);
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      window.location.href = items()[active].querySelector("a").href;
    } else if (e.key === "Escape") {
      hide();
    }
  });
  list.addEventListener("mousedown", (e) => e.preventDefault());  // a click on a suggestion keeps the focus
  input.addEventListener("blur", hide);
})();
