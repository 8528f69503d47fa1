// atrest: small progressive enhancements (no inline scripts; pages work without this file).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent;
  navigator.clipboard.writeText(text).then(
    () => { button.textContent = "Copied"; },
    () => { if ("select" in source) source.select(); button.textContent = "Press Ctrl+C to copy"; },
  );
});

// A download that takes seconds (the PDF): say it is being prepared until the file arrives.
// The link asks for a cookie holding a token of its own; the file comes with it.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-preparing]");
  if (!link || link.getAttribute("aria-busy") === "true") return;
  const token = Math.random().toString(36).slice(2, 14);
  const url = new URL(link.href, window.location.href);
  url.searchParams.set("ready", token);
  link.href = url.toString();
  const label = link.textContent;
  link.setAttribute("aria-busy", "true");
  link.classList.add("busy");
  link.textContent = link.dataset.preparing;
  const started = Date.now();
  const timer = window.setInterval(() => {
    const arrived = document.cookie.split("; ").includes(`atrest_report_ready=${token}`);
    if (!arrived && Date.now() - started < 120000) return;
    window.clearInterval(timer);
    document.cookie = "atrest_report_ready=; Max-Age=0; Path=/; SameSite=Strict";
    link.textContent = label;
    link.removeAttribute("aria-busy");
    link.classList.remove("busy");
  }, 250);
});
