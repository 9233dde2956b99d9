// Progressive enhancement only: after launch, "Add to wallet" asks the wallet to track the token (EIP-747
// `wallet_watchAsset`). The button stays hidden without a wallet (site.js shows `.wallet-only` when there is one).
"use strict";

(function () {
  function wallet() {
    return window.ethereum && typeof window.ethereum.request === "function" ? window.ethereum : null;
  }

  function say(element, text, isError) {
    element.textContent = text;
    element.classList.toggle("error", Boolean(isError));
  }

  async function watchAsset(button) {
    const status = button.parentElement.querySelector(".watch-status");
    const { address, symbol, chainId } = button.dataset;
    const options = { address, symbol, decimals: Number(button.dataset.decimals) };
    // Wallets fetch the logo themselves, so it must be an absolute URL; the site serves the stored PNG.
    if (button.dataset.image) options.image = new URL(button.dataset.image, window.location.href).href;
    try {
      button.disabled = true;
      // Wallets track a token on the chain they are on: move to the token's first (the wallet asks its user).
      const current = parseInt(await wallet().request({ method: "eth_chainId" }), 16);
      if (current !== Number(chainId)) {
        const wanted = "0x" + Number(chainId).toString(16);
        await wallet().request({ method: "wallet_switchEthereumChain", params: [{ chainId: wanted }] });
      }
      const added = await wallet().request({ method: "wallet_watchAsset", params: { type: "ERC20", options } });
      say(status, added === false ? "Not added: the wallet declined." : `$${symbol} added to your wallet.`);
    } catch (error) {
      say(status, `Could not add it: ${error.message || error}`, true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-watch-asset]");
    if (button && wallet()) watchAsset(button);
  });
})();
