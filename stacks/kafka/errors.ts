import { TimeoutError as ClientTimeout, NetworkError, ProtocolError } from '@platformatic/kafka';
import { TimeoutError } from '../../src/runtime/poll.ts';

/** Error names of Kafka that certainly mean "not appended" (the broker refused before writing). */
const CERTAIN_FAILURES = new Set([
  'NOT_ENOUGH_REPLICAS',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_REQUIRED_ACKS',
  'TOPIC_AUTHORIZATION_FAILED',
  'CORRUPT_MESSAGE',
  'INVALID_RECORD',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_TOPIC_EXCEPTION',
]);

/** The chain of an error and what it wraps (the client wraps a refusal in a ResponseError, within a MultipleErrors). */
export function errorChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!e || depth > 5) return;
    out.push(e);
    const x = e as { cause?: unknown; errors?: unknown[] };
    if (x.cause) visit(x.cause, depth + 1);
    for (const inner of x.errors ?? []) visit(inner, depth + 1);
  };
  visit(err, 0);
  return out;
}

/** Kafka's own name of the error one link of a chain stands for (the client's ProtocolError `apiId`). */
function nameOf(e: unknown): string | undefined {
  const x = e as { apiId?: unknown; code?: unknown };
  return x.code === ProtocolError.code && typeof x.apiId === 'string' ? x.apiId : undefined;
}

/** The Kafka error name (NOT_ENOUGH_REPLICAS, ...) found in an error's chain, if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    const name = nameOf(e);
    if (name) return name;
  }
  return undefined;
}

/** Whether the client says trying again may help (a Kafka "not yet" error, a lost connection). */
export function retriable(err: unknown): boolean {
  return errorChain(err).some((e) => (e as { canRetry?: unknown }).canRetry === true);
}

/**
 * One send attempt's error: `fail` when the message was certainly not appended, `info`
 * when it may have been (a timeout, a dropped connection, anything unknown).
 */
export function classify(err: unknown): 'fail' | 'info' {
  const chain = errorChain(err);
  for (const e of chain) {
    const x = e as { message?: string; code?: string };
    const name = nameOf(x);
    if (x instanceof TimeoutError || x instanceof ClientTimeout) return 'info';
    if (name === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' || name === 'REQUEST_TIMED_OUT') return 'info';
    // The connection broke with a request on it: it may have been appended.
    if (x.code === NetworkError.code && /^Connection (closed|error)/.test(x.message ?? '')) return 'info';
  }
  for (const e of chain) {
    const x = e as { message?: string; code?: string };
    const name = nameOf(x);
    if (name && CERTAIN_FAILURES.has(name)) return 'fail';
    // Nothing was sent: the connection was refused, or the metadata names no broker to send to.
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(x.message ?? '') || x.code === 'ECONNREFUSED') return 'fail';
    if (/broker is not available in the current cluster metadata/.test(x.message ?? '')) return 'fail';
  }
  return 'info';
}

/** A short text for an error: Kafka's error name when there is one. */
export function errorText(err: unknown): string {
  const type = kafkaErrorType(err);
  const msg = (err as Error)?.message ?? String(err);
  return type && !msg.includes(type) ? `${type}: ${msg}` : msg;
}

/** The former name of `classify`, kept for the labs that still call it. */
export const classifySendError = classify;
