import { Socket } from 'node:net';
import { MidlabError } from '../../src/errors.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';

/**
 * The few Kafka protocol requests kafkajs does not speak, over one socket each:
 * DescribeQuorum (API 55), which `kafka-metadata-quorum.sh describe --status` sends. A
 * broker forwards it to the active controller, so the host asks through the published
 * EXTERNAL port and gets an answer in milliseconds (a JVM tool takes seconds to start,
 * too slow to time a controller failover).
 *
 * Flexible versions only (compact arrays and strings, tagged fields): request header v2,
 * response header v1.
 */

export interface QuorumReplica {
  id: number;
  logEndOffset: number;
}

export interface QuorumStatus {
  /** The active controller's node id (-1: none). */
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  voters: QuorumReplica[];
  observers: QuorumReplica[];
}

const DESCRIBE_QUORUM = 55;
const METADATA_TOPIC = '__cluster_metadata';

let correlation = 1;

/** DescribeQuorum v0 through one broker's host endpoint (`127.0.0.1:PORT`). */
export async function describeQuorum(endpoint: string, timeoutMs = 2000): Promise<QuorumStatus> {
  const body = new Writer()
    .uvarint(2) // topics: 1 (compact arrays carry length + 1)
    .compactString(METADATA_TOPIC)
    .uvarint(2) // partitions: 1
    .int32(0)
    .uvarint(0) // partition tags
    .uvarint(0) // topic tags
    .uvarint(0) // request tags
    .bytes();
  const r = new Reader(await request(endpoint, DESCRIBE_QUORUM, 0, body, timeoutMs));
  const topLevelError = r.int16();
  if (topLevelError !== 0) throw new KafkaWireError(topLevelError, 'DescribeQuorum');
  // One topic (__cluster_metadata) with one partition was asked for.
  if (r.compactArrayLength() < 1) throw new Error('DescribeQuorum: no topic in the answer');
  r.compactString();
  if (r.compactArrayLength() < 1) throw new Error('DescribeQuorum: no partition in the answer');
  r.int32();
  const err = r.int16();
  const leaderId = r.int32();
  const leaderEpoch = r.int32();
  const highWatermark = Number(r.int64());
  const replicas = (): QuorumReplica[] =>
    Array.from({ length: r.compactArrayLength() }, () => {
      const id = r.int32();
      const logEndOffset = Number(r.int64());
      r.skipTags();
      return { id, logEndOffset };
    });
  const voters = replicas();
  const observers = replicas();
  if (err !== 0) throw new KafkaWireError(err, 'DescribeQuorum');
  return { leaderId, leaderEpoch, highWatermark, voters, observers };
}

/** A Kafka API answered with an error code (`errorCode`, Kafka's number; `kafkaError`, its name). */
export class KafkaWireError extends MidlabError {
  readonly errorCode: number;
  readonly kafkaError: string | undefined;
  constructor(errorCode: number, api: string) {
    super(
      'KAFKA_WIRE',
      `${api} failed with Kafka error code ${errorCode}${ERRORS[errorCode] ? ` (${ERRORS[errorCode]})` : ''}`,
      { hint: 'the node logs in the run folder say why the broker or controller refused', exitCode: 3 },
    );
    this.name = 'KafkaWireError';
    this.errorCode = errorCode;
    this.kafkaError = ERRORS[errorCode];
  }
}

const ERRORS: Record<number, string> = {
  [-1]: 'UNKNOWN_SERVER_ERROR',
  6: 'NOT_LEADER_OR_FOLLOWER',
  7: 'REQUEST_TIMED_OUT',
  15: 'COORDINATOR_NOT_AVAILABLE',
  35: 'UNSUPPORTED_VERSION',
  41: 'NOT_CONTROLLER',
};

/** A request as it goes on the wire: size, header v2 (client id "midlab", no tags), body. */
export function frameRequest(apiKey: number, version: number, id: number, body: Buffer): Buffer {
  const clientId = Buffer.from('midlab');
  const header = Buffer.alloc(10);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(version, 2);
  header.writeInt32BE(id, 4);
  header.writeInt16BE(clientId.length, 8);
  const payload = Buffer.concat([header, clientId, Buffer.from([0]), body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

/** One request, one response, then the socket is closed. */
export function request(
  endpoint: string,
  apiKey: number,
  version: number,
  body: Buffer,
  timeoutMs: number,
): Promise<Buffer> {
  const [host, port] = endpoint.split(':');
  const id = correlation++ & 0x7fffffff;
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let data = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: Buffer) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as Buffer);
    };
    const timer = setTimeout(
      () => done(new Error(`${endpoint}: no answer to API ${apiKey} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(new Error(`${endpoint} closed the connection (API ${apiKey} v${version})`)));
    sock.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      if (data.length < 4) return;
      const len = data.readInt32BE(0);
      if (data.length < 4 + len) return;
      const frame = data.subarray(4, 4 + len);
      if (frame.readInt32BE(0) !== id) return done(new Error(`${endpoint}: answer to another request`));
      const r = new Reader(frame.subarray(4));
      r.skipTags(); // response header v1
      done(undefined, frame.subarray(4 + r.offset));
    });
    sock.connect(Number(port), host ?? HOST_IP, () => sock.write(frameRequest(apiKey, version, id, body)));
  });
}

export class Writer {
  private readonly parts: Buffer[] = [];
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int8(v: number): this {
    this.parts.push(Buffer.from([v & 0xff]));
    return this;
  }
  int64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  uvarint(v: number): this {
    const out: number[] = [];
    let n = v >>> 0;
    while (n >= 0x80) {
      out.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    out.push(n);
    this.parts.push(Buffer.from(out));
    return this;
  }
  compactString(s: string): this {
    const b = Buffer.from(s);
    this.uvarint(b.length + 1);
    this.parts.push(b);
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class Reader {
  private readonly buf: Buffer;
  offset = 0;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  uvarint(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = this.buf[this.offset++];
      if (b === undefined) throw new Error('truncated varint');
      v |= (b & 0x7f) << shift;
      if (b < 0x80) return v >>> 0;
      shift += 7;
    }
  }
  compactArrayLength(): number {
    return Math.max(0, this.uvarint() - 1);
  }
  compactString(): string {
    const n = this.uvarint() - 1;
    if (n < 0) return '';
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }
  skipTags(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.offset += this.uvarint();
    }
  }
}
