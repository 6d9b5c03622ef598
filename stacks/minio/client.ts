import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import type { History } from '../../src/engine/history.ts';
import { MidlabError } from '../../src/errors.ts';
import { TimeoutError, withTimeout } from '../../src/runtime/poll.ts';

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * An S3 call that failed: `code` is the S3 error code (NoSuchKey, SlowDownWrite, ...) or
 * `HTTP <status>`; `outcome` says whether it certainly did not happen (`fail`) or may
 * have (`info`); `status` is the HTTP status when the server answered.
 */
export class S3Error extends MidlabError {
  readonly outcome: 'fail' | 'info';
  readonly status: number | undefined;
  constructor(what: string, cause: unknown) {
    const code = s3Code(cause);
    super(code, `${what}: ${code}`, {
      hint: 'the node logs in the run folder say what the server saw; `mc admin info` shows its drives',
      exitCode: 3,
      cause,
    });
    this.name = 'S3Error';
    this.outcome = classify(cause);
    const status = (cause as { statusCode?: unknown })?.statusCode;
    this.status = typeof status === 'number' ? status : Number(/^HTTP (\d+)$/.exec(code)?.[1]) || undefined;
  }
}

/** A command run inside a node (`mc ...`) that failed. */
export class MinioCommandError extends MidlabError {
  constructor(what: string, node: string, output: string) {
    super('MINIO_COMMAND', `${what} on ${node}: ${output.trim().slice(0, 300)}`, {
      hint: `run it yourself with \`npx midlab shell\` on ${node}; the node log in the run folder says more`,
      exitCode: 3,
    });
    this.name = 'MinioCommandError';
  }
}

/** The S3 error code of a failure (SlowDownWrite, XMinioServerNotInitialized, ...), else its name. */
export function s3Code(err: unknown): string {
  if (err instanceof S3Error) return err.code;
  // Before the code: a TimeoutError's code is TIMEOUT, and classify must see a time-out.
  if (err instanceof TimeoutError) return 'Timeout';
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code) return e.code;
  // The v8 client turns a retryable status (503 and the like) into a plain Error without
  // the XML body's code: keep the status.
  const status = /Retryable HTTP status: (\d+)/.exec(String(e?.message ?? ''));
  if (status) return `HTTP ${status[1]}`;
  if (typeof e?.name === 'string' && e.name !== 'Error') return e.name;
  return String(e?.message ?? err);
}

/**
 * A failed S3 call certainly did not happen when the server answered with an error
 * (quorum errors included); a timeout or a dropped connection may have happened.
 */
export function classify(err: unknown): 'fail' | 'info' {
  if (err instanceof S3Error) return err.outcome;
  const code = s3Code(err);
  if (code === 'Timeout' || /ECONNRESET|EPIPE|socket hang up|ETIMEDOUT/i.test(code)) return 'info';
  if (code === 'ECONNREFUSED' || code.startsWith('HTTP ')) return 'fail';
  return (err as { code?: unknown })?.code !== undefined ? 'fail' : 'info';
}

/**
 * What the server finally answered to a put its client had given up on (the request is not
 * cancelled: a time-out only stops the waiting), at `time` on the history's clock.
 */
export interface LateAnswer {
  id: string;
  time: number;
  ok: boolean;
  code?: string;
}

const lateAnswer = (history: History, id: string, call: Promise<unknown>): Promise<LateAnswer> =>
  call.then(
    () => ({ id, time: history.now(), ok: true }),
    (err: unknown) => ({ id, time: history.now(), ok: false, code: s3Code(err) }),
  );

/** Put and get of whole objects, each a recorded operation with the object's sha256. */
export class MinioClient {
  readonly endpoint: string;
  readonly raw: Minio.Client;
  private readonly timeoutMs: number;
  /** The eventual answers of the puts that timed out. */
  readonly late: Promise<LateAnswer>[] = [];

  constructor(endpoint: string, creds: { accessKey: string; secretKey: string }, opts: { timeoutMs?: number } = {}) {
    this.endpoint = endpoint;
    const [host, port] = endpoint.split(':') as [string, string];
    this.raw = new Minio.Client({
      endPoint: host,
      port: Number(port),
      useSSL: false,
      accessKey: creds.accessKey,
      secretKey: creds.secretKey,
      region: 'us-east-1',
      // One attempt per operation: the history records what the server answered, not a retry's outcome.
      retryOptions: { disableRetry: true },
    });
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** One call, bounded; a failure the server answered becomes an S3Error (a timeout stays a TimeoutError). */
  private t<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withTimeout(this.timeoutMs, `${what} on ${this.endpoint}`, fn).catch((err: unknown) => {
      throw err instanceof TimeoutError ? err : new S3Error(`${what} on ${this.endpoint}`, err);
    });
  }

  async makeBucket(bucket: string): Promise<void> {
    await this.t(`make bucket ${bucket}`, async () => {
      if (!(await this.raw.bucketExists(bucket))) await this.raw.makeBucket(bucket, 'us-east-1');
    });
  }

  async getObject(bucket: string, key: string): Promise<Buffer> {
    return this.t(`GET ${bucket}/${key}`, async () => {
      const stream = (await this.raw.getObject(bucket, key)) as Readable;
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    });
  }

  /**
   * A recorded put: value {id, bucket, size, sha256}; a failure carries the S3 error code
   * as its error.
   */
  async put(
    history: History,
    process: string,
    node: string,
    bucket: string,
    id: string,
    data: Buffer,
  ): Promise<{ ok: boolean; code?: string }> {
    const value = { id, bucket, size: data.length, sha256: sha256(data) };
    const h = history.invoke(process, 'put', value, node);
    const call = this.raw.putObject(bucket, id, data, data.length);
    try {
      await this.t(`PUT ${bucket}/${id}`, () => call);
      h.ok(value);
      return { ok: true };
    } catch (err) {
      const code = s3Code(err);
      if (classify(err) === 'fail') h.fail(code, value);
      else h.info(code, value);
      if (err instanceof TimeoutError) this.late.push(lateAnswer(history, id, call));
      return { ok: false, code };
    }
  }

  /** A recorded get: value {id, size, sha256} of what came back; failure with the S3 error code. */
  async get(
    history: History,
    process: string,
    node: string,
    bucket: string,
    id: string,
  ): Promise<{ ok: boolean; sha256?: string; data?: Buffer; code?: string }> {
    const h = history.invoke(process, 'get', { id, bucket }, node);
    try {
      const data = await this.getObject(bucket, id);
      const digest = sha256(data);
      h.ok({ id, bucket, size: data.length, sha256: digest });
      return { ok: true, sha256: digest, data };
    } catch (err) {
      const code = s3Code(err);
      if (classify(err) === 'fail') h.fail(code, { id, bucket });
      else h.info(code, { id, bucket });
      return { ok: false, code };
    }
  }
}
