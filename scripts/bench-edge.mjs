// Times the saml-edge core inside WebAssembly under Node's V8 (the engine in workerd).
// Usage: node scripts/bench-edge.mjs <dir with wasm-bindgen --target nodejs output>
// Prints one line per figure; scripts/bench-edge builds the module and calls this.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import path from "node:path";

const dir = path.resolve(process.argv[2] ?? "target/wasm-bench");
const require = createRequire(import.meta.url);

// Cold start: load (compile + instantiate) the module, build the fixture, first request.
const t0 = performance.now();
const bench = require(path.join(dir, "saml_edge_wasm_bench.js"));
const t1 = performance.now();
bench.prepare();
const t2 = performance.now();
const status = bench.acs_request_8kb();
const t3 = performance.now();
if (status !== 303) throw new Error(`ACS answered ${status}, expected 303`);
console.log(`cold start: load ${(t1 - t0).toFixed(1)} ms, fixture (connector + certificate) ${(t2 - t1).toFixed(1)} ms, first ACS request ${(t3 - t2).toFixed(1)} ms`);

// Steady state: CPU per call, after warm-up so V8's optimizing tier has kicked in.
function measure(name, fn, iterations) {
  for (let i = 0; i < Math.max(5, iterations / 10); i++) fn();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    if (!fn()) throw new Error(`${name} failed`);
  }
  const wall = (performance.now() - w0) / iterations;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / iterations;
  console.log(`${name.padEnd(32)} ${cpuMs.toFixed(3)} ms CPU/op  (${wall.toFixed(3)} ms wall/op, ${iterations} ops)`);
}

const n = Number(process.env.ITERATIONS ?? 200);
measure("rsa2048_verify (rsa crate)", () => bench.rsa2048_verify(), n);
measure("rsa2048_verify (fixed-width)", () => bench.rsa2048_verify_fixed_width(), n);
measure("validate_response (8 KB)", () => bench.validate_response_8kb(), n);
measure("acs_request (8 KB, whole core)", () => bench.acs_request_8kb() === 303, n);
measure("validate_response (small, baseline)", () => bench.validate_response_small(), n);
measure("validate encrypted (OAEP+AES-GCM)", () => bench.validate_encrypted_gcm(), Math.max(20, n / 10));
measure("authn_request redirect, unsigned", () => bench.authn_request_unsigned(), n);
measure("authn_request redirect, RSA-2048 signed", () => bench.authn_request_signed(), Math.max(20, n / 10));
