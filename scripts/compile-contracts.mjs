// Compiles every contracts/**/*.sol with solc-js (the npm package; no binary download) and writes one
// artifact per contract to build/contracts/<Name>.json: {contractName, sourceName, abi, bytecode, deployedBytecode}.
// Imports resolve from contracts/ and node_modules/ (OpenZeppelin, Uniswap).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const sourceDir = path.join(root, "contracts");
const outDir = path.join(root, "build", "contracts");

function solidityFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return solidityFiles(full);
    return entry.name.endsWith(".sol") ? [full] : [];
  });
}

function findImports(importPath) {
  for (const base of [root, path.join(root, "node_modules")]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  }
  return { error: `not found: ${importPath}` };
}

const sources = Object.fromEntries(
  solidityFiles(sourceDir).map((file) => [path.relative(root, file), { content: fs.readFileSync(file, "utf8") }]),
);
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const started = Date.now();
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
// Errors always; warnings only about our own sources (OpenZeppelin's are theirs to answer).
for (const message of output.errors || []) {
  const file = message.sourceLocation?.file || "";
  if (message.severity === "error" || file.startsWith("contracts/")) console.error(message.formattedMessage);
}
if (errors.length) process.exit(1);

// Imported third-party contracts that our contracts deploy, so the app needs their ABI too.
const exportedImports = new Set(["@openzeppelin/contracts/finance/VestingWallet.sol"]);

fs.mkdirSync(outDir, { recursive: true });
let written = 0;
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  // only our own contracts (and the few imported ones we deploy), not the imported libraries
  if (!sourceName.startsWith("contracts/") && !exportedImports.has(sourceName)) continue;
  for (const [contractName, compiled] of Object.entries(contracts)) {
    const artifact = {
      contractName,
      sourceName,
      compiler: solc.version(),
      abi: compiled.abi,
      bytecode: "0x" + compiled.evm.bytecode.object,
      deployedBytecode: "0x" + compiled.evm.deployedBytecode.object,
    };
    fs.writeFileSync(path.join(outDir, `${contractName}.json`), JSON.stringify(artifact, null, 2) + "\n");
    written += 1;
  }
}
console.log(`compiled ${Object.keys(sources).length} sources into ${written} artifacts in ${outDir} (${Date.now() - started} ms, solc ${solc.version()})`);
