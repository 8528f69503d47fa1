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
