// Progressive enhancement only: every page reads fine without this file. It adds a copy button, a live countdown,
// the live pool page's version protocol, Sign-In with Ethereum and the claim button, through the wallet's EIP-1193
// `window.ethereum`.
"use strict";

(function () {
  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function say(element, text, isError) {
    if (!element) return;
    element.textContent = text;
    element.classList.toggle("error", Boolean(isError));
  }

  function wallet() {
    return window.ethereum && typeof window.ethereum.request === "function" ? window.ethereum : null;
  }

  function enhance(root) {
    if (wallet()) {
      root.querySelectorAll(".wallet-only[hidden]").forEach((el) => { el.hidden = false; });
      root.querySelectorAll(".no-wallet").forEach((el) => { el.hidden = true; });
    }
    if (navigator.clipboard) {
      root.querySelectorAll("[data-copy][hidden]").forEach((el) => { el.hidden = false; });
    }
  }

  // --- countdown ---------------------------------------------------------------------------------------------
  function spell(seconds) {
    if (seconds <= 0) return "0 s";
    const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (d) return h ? `${d} d ${h} h` : `${d} d`;
    if (h) return m ? `${h} h ${m} min` : `${h} h`;
    if (m) return `${m} min ${s} s`;
    return `${s} s`;
  }

  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach((el) => {
      const left = Math.floor((Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000);
      el.textContent = spell(left);
    });
  }

  // --- wallet helpers ----------------------------------------------------------------------------------------
  function utf8Hex(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function post(url, fields) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    return answer;
  }

  async function signIn(button) {
    const box = button.closest("[data-siwe]");
    const status = box.querySelector(".siwe-status");
    const provider = wallet();
    try {
      button.disabled = true;
      say(status, "Asking your wallet for an address…");
      const [address] = await provider.request({ method: "eth_requestAccounts" });
      const { message } = await post(box.dataset.messageUrl, { address });
      say(status, "Sign the message in your wallet…");
      const signature = await provider.request({ method: "personal_sign", params: [utf8Hex(message), address] });
      const answer = await post(box.dataset.verifyUrl, { message, signature, next: box.dataset.next || "" });
      say(status, `Signed in as ${answer.address}.`);
      window.location.assign(answer.next);
    } catch (error) {
      say(status, `Sign-in failed: ${error.message || error}`, true);
      button.disabled = false;
    }
  }

  async function waitForReceipt(provider, hash) {
    for (let i = 0; i < 600; i += 1) {
      const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (receipt) return receipt;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new Error("no receipt after ten minutes");
  }

  async function claim(button) {
    const status = button.closest("section").querySelector(".claim-status");
    const provider = wallet();
    try {
      button.disabled = true;
      const accounts = await provider.request({ method: "eth_requestAccounts" });
      const from = accounts.find((a) => a.toLowerCase() === button.dataset.account.toLowerCase());
      if (!from) throw new Error(`switch your wallet to ${button.dataset.account}: only it can claim this allocation`);
      const chainId = parseInt(await provider.request({ method: "eth_chainId" }), 16);
      if (chainId !== Number(button.dataset.chainId)) throw new Error(`switch your wallet to chain ${button.dataset.chainId}`);
      say(status, "Confirm the claim in your wallet…");
      const hash = await provider.request({
        method: "eth_sendTransaction",
        params: [{ from, to: button.dataset.vault, data: button.dataset.calldata, value: "0x0" }],
      });
      say(status, `Sent ${hash}; waiting for it to be mined…`);
      const receipt = await waitForReceipt(provider, hash);
      if (receipt.status !== "0x1" && receipt.status !== 1) throw new Error(`the transaction ${hash} reverted`);
      say(status, "Claimed.");
      if (window.htmx) document.body.dispatchEvent(new CustomEvent("claimed"));
      else window.location.reload();
    } catch (error) {
      say(status, `Claim failed: ${error.message || error}`, true);
      button.disabled = false;
    }
  }

  async function copy(button) {
    const source = document.querySelector(button.dataset.copy);
    const status = button.parentElement.querySelector(".copy-status");
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      say(status, "Copied.");
    } catch (error) {
      say(status, "Copy failed: select the address and copy it by hand.", true);
    }
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-siwe-start], [data-claim], [data-copy]");
    if (!target) return;
    if (target.matches("[data-siwe-start]")) signIn(target);
    else if (target.matches("[data-claim]")) claim(target);
    else copy(target);
  });
  // --- the live pool page ----------------------------------------------------------------------------------------
  // Each poll says which version of the fragment the page shows (the server answers 204 while it is current), whose
  // "You" panel to render (the connected wallet's address, else the one the page was opened for) and the values of
  // inputs marked data-live-param (the deposit amount, so the fragment's payment request matches what is typed).
  function liveParameters(event) {
    const element = event.detail.elt;
    if (!element || element.id !== "pool-live") return;
    const parameters = event.detail.parameters;
    parameters.v = element.dataset.version || "";
    const address = (window.launchpadWallet && window.launchpadWallet.address) || element.dataset.address || "";
    if (address) parameters.address = address;
    element.querySelectorAll("[data-live-param][name]").forEach((input) => {
      if (input.value) parameters[input.name] = input.value;
    });
  }

  // What the script owns survives a morph: the visibility of what it shows or hides (wallet-only buttons, Copy;
  // the server's HTML always has them hidden, and re-hiding a focused button would drop keyboard focus to <body>),
  // and a countdown's ticking seconds while it counts to the same moment (the server says it to the minute).
  function keepScriptOwnedParts() {
    if (!window.Idiomorph) return;
    const owned = ".wallet-only, .no-wallet, [data-copy]";
    const callbacks = window.Idiomorph.defaults.callbacks;
    callbacks.beforeAttributeUpdated = (name, element) => !(name === "hidden" && element.matches(owned));
    callbacks.beforeNodeMorphed = (oldNode, newNode) =>
      !(oldNode.matches && oldNode.matches("time[data-countdown]") &&
        newNode.getAttribute && oldNode.getAttribute("datetime") === newNode.getAttribute("datetime"));
  }

  document.addEventListener("htmx:configRequest", liveParameters);
  document.addEventListener("htmx:afterSettle", () => enhance(document));
  document.addEventListener("DOMContentLoaded", () => {
    keepScriptOwnedParts();
    enhance(document);
    tick();
    setInterval(tick, 1000);
  });
})();
