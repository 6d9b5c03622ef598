/**
 * Teardown that cannot be skipped: whatever is registered here runs on SIGINT/SIGTERM
 * before the process exits (a second signal exits at once; `midlab reap` then sweeps).
 * The CLI turns this on with `handleSignals()`; a library user's test runner keeps its
 * own signal handling, and `await using` / `stop()` does the teardown there.
 */
type Cleanup = () => Promise<void>;

const cleanups = new Set<Cleanup>();
let installed = false;
let shuttingDown = false;
let firstSignalAt = 0;

export function onShutdown(fn: Cleanup): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

export function handleSignals(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (shuttingDown) {
        // The same Ctrl-C can arrive twice (terminal and a wrapper forwarding it).
        if (Date.now() - firstSignalAt < 1000) return;
        process.exit(sig === 'SIGINT' ? 130 : 143);
      }
      shuttingDown = true;
      firstSignalAt = Date.now();
      process.stderr.write(`\nmidlab: ${sig}: removing everything this run started...\n`);
      void Promise.allSettled([...cleanups].map((c) => c())).then(() => {
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    });
  }
}
