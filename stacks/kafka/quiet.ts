/**
 * kafkajs 2.2.4 schedules a timer with a negative delay when it is not throttled
 * (requestQueue.scheduleCheckPendingRequests); Node 24 then prints a
 * TimeoutNegativeWarning on stderr, in the middle of a lab's story. The timer is clamped
 * to 1 ms, as kafkajs expects, so that one warning is dropped; every other one is kept.
 * Installed when the first kafkajs client is made, never at import.
 */
const original = process.emitWarning;
let installed = false;

export function quietKafkaJs(): void {
  if (installed) return;
  installed = true;
  process.emitWarning = function emitWarning(this: unknown, warning: string | Error, ...rest: unknown[]) {
    const first = rest[0];
    const type = typeof first === 'string' ? first : (first as { type?: string } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning' || (warning as Error)?.name === 'TimeoutNegativeWarning') return;
    return (original as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
}
