// Progressive enhancement only: a launched pool's price chart, drawn with TradingView's Lightweight Charts
// (Apache-2.0, https://www.tradingview.com/; from npm, served under /static/vendor/, loaded only when a page has a
// chart). Without this file the partial's text summary says the same in words.
//
// The widget is an `hx-preserve` element: the pool page's live swaps keep it, chart and pressed range included, so
// rendering is idempotent (one chart per element, whatever the number of DOMContentLoaded/htmx events).
// Prices arrive as exact decimal strings; they become Numbers here for plotting only.
"use strict";

(function () {
  const REFRESH_MS = 60_000; // one snapshot a minute
  const charts = new WeakMap(); // widget element -> its state
  let library = null;

  function loadLibrary(src) {
    if (window.LightweightCharts) return Promise.resolve(window.LightweightCharts);
    if (!library) {
      library = new Promise((resolve, reject) => {
        const script = document.createElement("script");
        script.src = src;
        script.onload = () => resolve(window.LightweightCharts);
        script.onerror = () => {
          library = null; // a later chart may try again
          reject(new Error("the chart library did not load"));
        };
        document.head.appendChild(script);
      });
    }
    return library;
  }

  function cssColor(name, fallback) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
  }

  // Four significant digits below 1 (token prices are often 0.000000x), cents above.
  function placesFor(value) {
    const size = Math.abs(value);
    if (!size || size >= 1) return 2;
    return Math.min(18, 3 - Math.floor(Math.log10(size)));
  }

  function formatter(unit, places) {
    return (value) => (unit === "USD" ? "$" : "") + value.toFixed(places);
  }

  function say(state, text, isError) {
    if (state.status.textContent !== text) state.status.textContent = text;
    state.status.classList.toggle("error", Boolean(isError));
  }

  function create(widget, lib) {
    const host = widget.querySelector(".chart-canvas");
    const text = cssColor("--text", "#e8eaf0");
    const line = cssColor("--line", "#2a303c");
    const chart = lib.createChart(host, {
      autoSize: true,
      layout: {
        background: { type: lib.ColorType.Solid, color: "transparent" },
        textColor: text,
        attributionLogo: false, // the caption links to TradingView instead, as the licence asks
      },
      grid: { vertLines: { color: line }, horzLines: { color: line } },
      rightPriceScale: { borderColor: line },
      timeScale: { borderColor: line, timeVisible: true, secondsVisible: false },
      handleScroll: false,
      handleScale: false,
    });
    const pool = chart.addSeries(lib.LineSeries, {
      color: cssColor("--accent", "#8aa6ff"),
      lineWidth: 2,
      priceLineVisible: false, // the launch price is the one dotted line across
    });
    // No titles on the axis labels: they cover the lines on a phone; the legend under the chart names the colours.
    const oracle = chart.addSeries(lib.LineSeries, {
      color: cssColor("--warn", "#f5a524"),
      lineWidth: 1,
      lineStyle: lib.LineStyle.Dashed,
      priceLineVisible: false,
      crosshairMarkerVisible: false,
    });
    const status = widget.querySelector("[data-chart-status]");
    return { widget, lib, chart, pool, oracle, status, launchLine: null, range: widget.dataset.range, timer: null };
  }

  function points(data, field) {
    return data.points.filter((p) => p[field] !== null).map((p) => ({ time: p.time, value: Number(p[field]) }));
  }

  function draw(state, data) {
    const { lib, pool, oracle } = state;
    const prices = points(data, "price");
    const implied = points(data, "oracle_price");
    const launch = data.launch_price === null ? null : Number(data.launch_price);
    const values = prices.map((p) => p.value).concat(implied.map((p) => p.value), launch === null ? [] : [launch]);
    const smallest = Math.min(...values.filter((v) => v > 0));
    const places = placesFor(Number.isFinite(smallest) ? smallest : 1);
    const priceFormat = { type: "custom", formatter: formatter(data.unit, places), base: 10 ** places };
    pool.applyOptions({ priceFormat });
    oracle.applyOptions({ priceFormat });
    pool.setData(prices);
    oracle.setData(implied);
    if (state.launchLine) pool.removePriceLine(state.launchLine);
    state.launchLine = launch === null ? null : pool.createPriceLine({
      price: launch,
      color: cssColor("--muted", "#a3acba"),
      lineWidth: 1,
      lineStyle: lib.LineStyle.Dotted,
      axisLabelVisible: true,
    });
    state.chart.timeScale().fitContent();
    state.widget.dataset.points = String(prices.length);
    state.widget.dataset.unit = data.unit;
    say(state, prices.length
      ? `Prices in ${data.unit}, ${prices.length} point${prices.length === 1 ? "" : "s"}, times in UTC.`
      : "No snapshot in this range yet.");
  }

  async function load(state) {
    const url = new URL(state.widget.dataset.priceChart, window.location.href);
    url.searchParams.set("range", state.range);
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
      if (data.range === state.range) draw(state, data); // an older request answering late changes nothing
    } catch (error) {
      say(state, `Could not load the prices: ${error.message || error}`, true);
    }
  }

  function choose(state, button) {
    state.range = button.dataset.range;
    state.widget.dataset.range = state.range;
    state.widget.querySelectorAll("button[data-range]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b === button));
    });
    load(state);
  }

  function refreshLater(state) {
    state.timer = window.setInterval(() => {
      if (!state.widget.isConnected) {
        window.clearInterval(state.timer);
        state.chart.remove();
        return;
      }
      if (document.visibilityState === "visible") load(state);
    }, REFRESH_MS);
  }

  async function start(widget) {
    charts.set(widget, null); // claimed: a second scan while the library loads leaves it alone
    widget.hidden = false;
    const status = widget.querySelector("[data-chart-status]");
    let lib;
    try {
      lib = await loadLibrary(widget.dataset.library);
    } catch (error) {
      status.textContent = `The chart could not be drawn: ${error.message}. The summary below has the figures.`;
      return;
    }
    const state = create(widget, lib);
    charts.set(widget, state);
    widget.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-range]");
      if (button && button.getAttribute("aria-pressed") !== "true") choose(state, button);
    });
    await load(state);
    refreshLater(state);
  }

  function scan() {
    document.querySelectorAll("[data-price-chart]").forEach((widget) => {
      if (!charts.has(widget)) start(widget);
    });
  }

  document.addEventListener("DOMContentLoaded", scan);
  document.addEventListener("htmx:load", scan);
  document.addEventListener("htmx:afterSettle", scan);
})();
