// The connected wallet in the header, through the wallet's EIP-1193 `window.ethereum`. On load it asks only
// `eth_accounts` (never a prompt); "Connect wallet" asks `eth_requestAccounts`. Nothing is stored: the address lives
// in `window.launchpadWallet` for the other scripts (deposit, the live pool page), and a `wallet-changed` event on
// <body> tells them, and makes the live pool page fetch its "You" panel for that address at once.
"use strict";

(function () {
  window.launchpadWallet = { address: "" };

  function provider() {
    return window.ethereum && typeof window.ethereum.request === "function" ? window.ethereum : null;
  }

  function short(address) {
    return `${address.slice(0, 6)}…${address.slice(-4)}`;
  }

  function show(box, address) {
    const shown = box.querySelector("[data-wallet-address]");
    shown.textContent = address ? short(address) : "";
    shown.title = address;
    box.querySelector("[data-wallet-connected]").hidden = !address;
    box.querySelector("[data-wallet-connect]").hidden = Boolean(address);
  }

  function use(box, accounts) {
    const address = (accounts && accounts[0]) || "";
    if (address.toLowerCase() === window.launchpadWallet.address.toLowerCase()) return;
    window.launchpadWallet = { address };
    show(box, address);
    document.body.dispatchEvent(new CustomEvent("wallet-changed", { detail: { address } }));
  }

  async function connect(box, button) {
    const status = box.querySelector("[data-wallet-status]");
    try {
      button.disabled = true;
      use(box, await provider().request({ method: "eth_requestAccounts" }));
      status.textContent = "";
    } catch (error) {
      status.textContent = `The wallet did not connect: ${error.message || error}`;
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    const box = document.querySelector("[data-header-wallet]");
    const wallet = provider();
    if (!box || !wallet) return;
    show(box, "");
    box.querySelector("[data-wallet-connect]").addEventListener("click", (event) => connect(box, event.currentTarget));
    if (typeof wallet.on === "function") wallet.on("accountsChanged", (accounts) => use(box, accounts));
    try {
      use(box, await wallet.request({ method: "eth_accounts" }));
    } catch (error) {
      // A wallet that will not say its accounts is simply not connected yet: the button stays.
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
