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

/** The chain of an error and what it wraps (kafkajs wraps retries and aggregates). */
export function errorChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!e || depth > 5) return;
    out.push(e);
    const x = e as { originalError?: unknown; cause?: unknown; errors?: unknown[] };
    if (x.originalError) visit(x.originalError, depth + 1);
    if (x.cause) visit(x.cause, depth + 1);
    for (const inner of x.errors ?? []) visit(inner, depth + 1);
  };
  visit(err, 0);
  return out;
}

/** The Kafka error name (kafkajs `type`) found in an error's chain, if any. */
export function kafkaErrorType(err: unknown): string | undefined {
  for (const e of errorChain(err)) {
    const t = (e as { type?: unknown }).type;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

/**
 * One send attempt's error: `fail` when the message was certainly not appended, `info`
 * when it may have been (a timeout, a dropped connection, anything unknown).
 */
export function classify(err: unknown): 'fail' | 'info' {
  const chain = errorChain(err);
  for (const e of chain) {
    const x = e as { type?: string; name?: string; message?: string; code?: string };
    if (x instanceof TimeoutError) return 'info';
    if (x.type === 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' || x.type === 'REQUEST_TIMED_OUT') return 'info';
    if (x.name === 'KafkaJSRequestTimeoutError' || x.name === 'KafkaJSConnectionClosedError') return 'info';
  }
  for (const e of chain) {
    const x = e as { type?: string; name?: string; message?: string; code?: string };
    if (x.type && CERTAIN_FAILURES.has(x.type)) return 'fail';
    // Nothing was sent: the connection was refused, or no broker/metadata to send to.
    if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(x.message ?? '') || x.code === 'ECONNREFUSED') return 'fail';
    if (x.name === 'KafkaJSBrokerNotFound' || x.name === 'KafkaJSMetadataNotLoaded') return 'fail';
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
