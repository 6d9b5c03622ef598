import Docker from 'dockerode';
import { DockerUnreachableError } from '../errors.ts';

let client: Docker | undefined;

/**
 * The one dockerode client. dockerode does not negotiate the API version; we leave it
 * unset so the engine's own version is used (Debian's engine speaks 1.41).
 * DOCKER_HOST is honoured by dockerode itself.
 */
export function docker(): Docker {
  client ??= new Docker();
  return client;
}

export interface EngineInfo {
  version: string;
  apiVersion: string;
  memoryBytes: number;
  cpus: number;
}

/** Asks the engine who it is; a typed error with the remedy when it does not answer. */
export async function engineInfo(): Promise<EngineInfo> {
  try {
    const [v, info] = await Promise.all([docker().version(), docker().info()]);
    return { version: v.Version, apiVersion: v.ApiVersion, memoryBytes: info.MemTotal, cpus: info.NCPU };
  } catch (err) {
    throw new DockerUnreachableError(err);
  }
}

/** Reads a dockerode stream to the end. */
export function streamToString(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/** Splits Docker's multiplexed stdout/stderr frames (non-TTY containers and execs). */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i];
    const len = buf.readUInt32BE(i + 4);
    const body = buf.subarray(i + 8, i + 8 + len);
    (type === 2 ? err : out).push(body);
    i += 8 + len;
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/** A raw engine request that answers with a stream (for endpoints dockerode lacks). */
export function dialStream(options: Record<string, unknown>): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker().modem.dial({ ...options, isStream: true } as never, (err: unknown, stream: unknown) => {
      if (err) reject(err);
      else resolve(stream as NodeJS.ReadableStream);
    });
  });
}
