// The admin's pool form: under each amount, percent or duration, the integer it will store, as it is typed.
// The server parses the same way (pools/units.py) and is the one that decides; this only shows the conversion.
(() => {
  const DURATION = { d: 86400, day: 86400, days: 86400, h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
    m: 60, min: 60, mins: 60, minute: 60, minutes: 60, s: 1, sec: 1, secs: 1, second: 1, seconds: 1 };

  const group = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

  function amount(text, decimals, unit) {
    let cleaned = text.trim();
    if (unit && cleaned.toUpperCase().endsWith(unit.toUpperCase())) cleaned = cleaned.slice(0, -unit.length).trim();
    cleaned = cleaned.replace(/^\$/, "");
    const match = /^(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d+))?$/.exec(cleaned);
    if (!cleaned || !match || !(match[1] || match[2])) return null;
    const fraction = (match[2] || "").replace(/0+$/, "");
    if (fraction.length > decimals) return null;
    const digits = ((match[1] || "0").replace(/,/g, "") + fraction.padEnd(decimals, "0")).replace(/^0+(?=\d)/, "");
    return group(digits);
  }

  function duration(text) {
    const cleaned = text.trim().toLowerCase().replace(/,/g, " ").replace(/ and /g, " ");
    if (["", "0", "none"].includes(cleaned)) return "0";
    const parts = [...cleaned.matchAll(/(\d+)\s*([a-z]+)/g)];
    if (!parts.length || cleaned.replace(/(\d+)\s*([a-z]+)/g, "").trim()) return null;
    let seconds = 0;
    for (const [, number, word] of parts) {
      if (!(word in DURATION)) return null;
      seconds += Number(number) * DURATION[word];
    }
    return Number.isSafeInteger(seconds) ? group(String(seconds)) : null;
  }

  function update(input) {
    const output = input.parentElement.querySelector(".conversion output");
    if (!output) return;
    const unit = input.parentElement.querySelector(".unit")?.textContent || "";
    const value = input.dataset.duration
      ? duration(input.value)
      : amount(input.value, Number(input.dataset.decimals), unit);
    output.textContent = value ?? "… (not a valid value yet)";
  }

  document.addEventListener("input", (event) => {
    if (event.target.matches?.("input[data-stored]")) update(event.target);
  });
})();
