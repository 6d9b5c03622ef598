import { Socket } from 'node:net';
import { MidlabError } from '../../src/errors.ts';
import { HOST_IP } from '../../src/runtime/ports.ts';

/**
 * Kafka requests framed by hand, over one socket each, for what no client sends: a
 * request whose bytes a lab shapes itself (the network-cut probe, the transactions
 * lab's ListOffsets to one given broker).
 *
 * Flexible versions only (compact arrays and strings, tagged fields): request header v2,
 * response header v1.
 */

let correlation = 1;

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
