// The deposit panel, enhanced: the amount box checks as you type (BigInt, never floats) and updates the payment
// request, and "Deposit with wallet" switches the wallet to the pool's chain, sends ETH or calls the token's
// transfer, then follows the transaction until the site says it is credited. Without this file the panel's GET form
// does the same checks on the server, and the address and QR code serve any wallet or exchange.
//
// The panel sits inside the live fragment, which htmx swaps every few seconds: listeners are delegated, every
// number is read from the form's data attributes when needed (they carry the latest raise and limits), and the
// amount input and the status line keep their state through a swap (hx-preserve).
"use strict";

(function () {
  const POLL_MS = 1500;
  const FOLLOW_LIMIT_MS = 15 * 60 * 1000;
  const QR_DELAY_MS = 300;
  const TRANSFER_SELECTOR = "a9059cbb"; // transfer(address,uint256)
  let busy = false; // a deposit is being sent or followed: a swap must not enable the button again
  let qrTimer = null;

  const form = () => document.querySelector("[data-deposit-form]");
  const statusLine = () => document.getElementById("deposit-tx-status");
  const wallet = () => (window.ethereum && typeof window.ethereum.request === "function" ? window.ethereum : null);

  function say(text, isError) {
    const line = statusLine();
    if (!line) return;
    line.textContent = text;
    line.classList.toggle("error", Boolean(isError));
  }

  // --- amounts -------------------------------------------------------------------------------------------------

  // Whole units as typed ("1,000.5", "2 ETH") to the smallest unit; {problem} names what is wrong. The same grammar
  // as the server's pools.units.parse_units: commas only in groups of three, ASCII digits.
  function parseAmount(text, decimals, symbol) {
    let cleaned = text.trim();
    if (symbol && cleaned.toUpperCase().endsWith(symbol.toUpperCase())) {
      cleaned = cleaned.slice(0, -symbol.length).trim();
    }
    const match = /^([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.([0-9]+))?$/.exec(cleaned);
    if (!cleaned || !match || !(match[1] || match[2])) return { problem: "not-a-number" };
    const fraction = (match[2] || "").replace(/0+$/, "");
    if (fraction.length > decimals) return { problem: "too-fine" };
    const whole = (match[1] || "0").replace(/,/g, "");
    const amount = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
    if (amount <= 0n) return { problem: "zero" };
    return { amount };
  }

  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // Exact decimal text, truncated (never rounded up) to `places` decimals when given.
  function formatUnits(value, decimals, places) {
    const scale = 10n ** BigInt(decimals);
    let fraction = decimals ? (value % scale).toString().padStart(decimals, "0") : "";
    if (places !== undefined) fraction = fraction.slice(0, places);
    fraction = fraction.replace(/0+$/, "");
    const whole = group((value / scale).toString());
    return fraction ? `${whole}.${fraction}` : whole;
  }

  function formatShare(bps) {
    const text = `${bps / 100n}.${(bps % 100n).toString().padStart(2, "0")}`;
    return text.replace(/0+$/, "").replace(/\.$/, "") + "%";
  }

  function formatUsd(amount, decimals, answer, feedDecimals) {
    const cents = (amount * answer * 100n) / 10n ** BigInt(decimals + feedDecimals);
    return `$${group((cents / 100n).toString())}.${(cents % 100n).toString().padStart(2, "0")}`;
  }

  // The typed amount against the pool's limits: {amount} when the pool would credit all of it, else {message}.
  function checkAmount(box) {
    const input = document.getElementById("deposit-amount");
    const data = box.dataset;
    const text = input ? input.value : "";
    if (!text.trim()) return { empty: true };
    const parsed = parseAmount(text, Number(data.decimals), data.symbol);
    const problems = { "not-a-number": data.msgNotANumber, "too-fine": data.msgTooFine, zero: data.msgZero };
    if (parsed.problem) return { message: problems[parsed.problem] };
    if (parsed.amount < BigInt(data.least || "0")) return { message: data.msgBelow };
    if (parsed.amount > BigInt(data.most || "0")) return { message: data.msgAbove };
    return { amount: parsed.amount };
  }

  function paymentUri(data, amount) {
    if (data.native === "true") {
      const uri = `ethereum:${data.depositAddress}@${data.chainId}`;
      return amount ? `${uri}?value=${amount}` : uri;
    }
    const uri = `ethereum:${data.asset}@${data.chainId}/transfer?address=${data.depositAddress}`;
    return amount ? `${uri}&uint256=${amount}` : uri;
  }

  function showEstimate(box, amount) {
    const data = box.dataset;
    const estimate = box.querySelector("[data-estimate]");
    if (!estimate) return;
    estimate.hidden = !amount;
    if (!amount) return;
    const total = BigInt(data.raised || "0") + amount;
    const decimals = Number(data.decimals);
    box.querySelector("[data-estimate-share]").textContent = formatShare((amount * 10000n) / total);
    const tokens = (BigInt(data.depositorSupply || "0") * amount) / total;
    box.querySelector("[data-estimate-tokens]").textContent = formatUnits(tokens, 18, 2);
    const usdPart = box.querySelector("[data-estimate-usd-part]");
    usdPart.hidden = !data.feedAnswer;
    if (data.feedAnswer) {
      box.querySelector("[data-estimate-usd]").textContent =
        formatUsd(amount, decimals, BigInt(data.feedAnswer), Number(data.feedDecimals));
    }
  }

  function showPaymentRequest(box, amount) {
    const data = box.dataset;
    const uri = document.querySelector("[data-payment-uri]");
    if (!uri) return;
    const wanted = paymentUri(data, amount);
    if (uri.textContent === wanted) return;
    uri.textContent = wanted;
    const caption = document.querySelector("[data-qr-amount]");
    const asked = amount ? `, asking for ${formatUnits(amount, Number(data.decimals))} ${data.symbol}` : "";
    if (caption) caption.textContent = asked;
    clearTimeout(qrTimer);
    // The QR code is drawn by the server: fetch this page as the GET form would ask for it, and take its code.
    // A failed fetch leaves the previous code: the request's text, shown under it, is already the new one.
    qrTimer = setTimeout(() => drawQr(box, amount, wanted).catch(() => {}), QR_DELAY_MS);
  }

  async function drawQr(box, amount, wanted) {
    const query = amount ? `?amount=${formatUnits(amount, Number(box.dataset.decimals)).replace(/,/g, "")}` : "";
    const response = await fetch(box.getAttribute("action").split("#")[0] + query, { credentials: "same-origin" });
    if (!response.ok) return;
    const drawn = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-qr]");
    const holder = document.querySelector("[data-qr]");
    const uri = document.querySelector("[data-payment-uri]");
    if (drawn && holder && uri && uri.textContent === wanted) holder.innerHTML = drawn.innerHTML;
  }

  // Everything that depends on the typed amount; also run after each swap, as the raise and limits move.
  function refresh() {
    const box = form();
    if (!box) return;
    const check = checkAmount(box);
    const input = document.getElementById("deposit-amount");
    const error = box.querySelector("[data-amount-error]");
    if (error) error.textContent = check.message || "";
    if (input) {
      if (check.message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    showEstimate(box, check.amount);
    showPaymentRequest(box, check.amount);
    const submit = box.querySelector("[data-amount-submit]");
    if (submit) submit.hidden = true; // the payment request follows the typing: nothing to submit
    const button = box.querySelector("[data-wallet-deposit]");
    const missing = box.querySelector("[data-wallet-missing]");
    if (button) button.hidden = !wallet();
    if (missing) missing.hidden = Boolean(wallet());
    if (button && busy) button.disabled = true;
  }

  // --- the wallet ----------------------------------------------------------------------------------------------

  class WalletProblem extends Error {}

  const shortHash = (hash) => `${hash.slice(0, 6)}…${hash.slice(-4)}`;
  // MetaMask on mobile wraps the provider's error code in data.originalError.
  const errorCode = (error) => error && (error.code ?? error.data?.originalError?.code);

  function describe(error) {
    const code = errorCode(error);
    const text = String((error && error.message) || error).split("\n")[0].slice(0, 200);
    if (error instanceof WalletProblem) return text;
    if (code === 4001) return "You declined in your wallet: nothing was sent.";
    if (code === 4100) return "Your wallet did not let this site use the account: nothing was sent.";
    if (code === -32002) return "Your wallet already has a request waiting: answer it in the wallet, then try again.";
    if (/revert/i.test(text)) {
      return "The wallet says this transfer would revert (is the balance enough?): nothing was sent.";
    }
    return `The deposit did not go through: ${text}`;
  }

  async function chooseAccount(provider, data) {
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new WalletProblem("Your wallet gave no account: unlock it and try again.");
    const expected = (data.account || "").toLowerCase();
    if (!expected) return accounts[0];
    const from = accounts.find((a) => a.toLowerCase() === expected);
    if (!from) {
      throw new WalletProblem(
        `Your wallet is on ${accounts[0]}, but this page counts the limits of ${data.account}: ` +
          "switch accounts in the wallet.",
      );
    }
    return from;
  }

  async function currentChain(provider) {
    return BigInt(await provider.request({ method: "eth_chainId" }));
  }

  // Onto the pool's chain: switch, and when the wallet does not know the chain (4902), add it (which also switches).
  async function reachChain(provider, chain) {
    const wanted = BigInt(chain.chainId);
    if ((await currentChain(provider)) === wanted) return;
    say(`Asking your wallet to switch to ${chain.chainName}…`);
    try {
      await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chain.chainId }] });
    } catch (error) {
      if (errorCode(error) !== 4902) throw error;
      if (!chain.rpcUrls.length) {
        throw new WalletProblem(
          `Your wallet does not know ${chain.chainName} (chain ${wanted}): add it in the wallet, then try again.`,
        );
      }
      say(`Asking your wallet to add ${chain.chainName}…`);
      await provider.request({ method: "wallet_addEthereumChain", params: [chain] });
      if ((await currentChain(provider)) !== wanted) {
        await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: chain.chainId }] });
      }
    }
    const now = await currentChain(provider);
    if (now !== wanted) {
      throw new WalletProblem(`Your wallet is still on chain ${now}, not ${wanted}: nothing was sent.`);
    }
  }

  const word = (hex) => hex.replace(/^0x/, "").padStart(64, "0");

  function depositTransaction(data, from, amount) {
    if (data.native === "true") return { from, to: data.depositAddress, value: `0x${amount.toString(16)}` };
    const call = `0x${TRANSFER_SELECTOR}${word(data.depositAddress.toLowerCase())}${word(amount.toString(16))}`;
    return { from, to: data.asset, data: call, value: "0x0" };
  }

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function readStatus(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return response.ok ? response.json() : null;
  }

  // Until the site says the deposit is confirmed: its own answer when it has one, the wallet's receipt before that.
  async function follow(provider, hash, statusUrl) {
    const url = statusUrl.replace("/TX_HASH/", `/${hash}/`);
    const started = Date.now();
    let block = null;
    while (Date.now() - started < FOLLOW_LIMIT_MS) {
      const answer = await readStatus(url);
      if (answer && answer.status === "confirmed") {
        say(answer.message, answer.credited === "0");
        return;
      }
      if (answer && answer.status === "pending") {
        say(answer.message);
      } else if (block === null) {
        const receipt = await provider.request({ method: "eth_getTransactionReceipt", params: [hash] });
        if (receipt && (receipt.status === "0x0" || receipt.status === 0)) {
          throw new WalletProblem(`The transaction ${shortHash(hash)} reverted: nothing was deposited.`);
        }
        if (receipt) {
          block = BigInt(receipt.blockNumber);
          say(`In block ${block}: waiting for the site to see it.`);
        }
      }
      await pause(POLL_MS);
    }
    throw new WalletProblem(
      `${shortHash(hash)} is still not credited after 15 minutes: check it in your wallet's history.`,
    );
  }

  async function deposit(button) {
    const box = form();
    const provider = wallet();
    if (!box || !provider || busy) return;
    const check = checkAmount(box);
    if (!check.amount) {
      refresh(); // the box says what is wrong
      if (check.empty) say("Type an amount first.", true);
      return;
    }
    const data = box.dataset;
    busy = true;
    button.disabled = true;
    try {
      say("Asking your wallet for an account…");
      const from = await chooseAccount(provider, data);
      await reachChain(provider, JSON.parse(data.walletChain));
      say("Confirm the deposit in your wallet…");
      const transaction = depositTransaction(data, from, check.amount);
      const hash = await provider.request({ method: "eth_sendTransaction", params: [transaction] });
      say(`Sent ${shortHash(hash)}; waiting for it to be mined.`);
      await follow(provider, hash, data.statusUrl);
    } catch (error) {
      say(describe(error), true);
    } finally {
      busy = false;
      const now = form();
      const current = now && now.querySelector("[data-wallet-deposit]");
      if (current) current.disabled = now.dataset.poolStatus === "scheduled" || BigInt(now.dataset.most || "0") <= 0n;
    }
  }

  document.addEventListener("input", (event) => {
    if (event.target && event.target.id === "deposit-amount") refresh();
  });
  document.addEventListener("submit", (event) => {
    if (!event.target.matches("[data-deposit-form]")) return;
    event.preventDefault(); // the page already shows what the server would: no reload
    refresh();
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-wallet-deposit]");
    if (button && !button.disabled) deposit(button);
  });
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("htmx:load", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
