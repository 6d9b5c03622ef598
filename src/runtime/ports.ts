import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1, chosen before a container is created so that its
 * published port survives stop/start (Kafka advertises it; clients reconnect to it).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Several distinct free ports (held open together so none repeats). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      return new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const srv = createServer();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve(srv));
      });
    }),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/**
 * The address clusters publish their ports on, and every endpoint names: 127.0.0.1 for a
 * local engine; with `DOCKER_HOST=tcp://ADDR:PORT` (a remote engine, docker-in-docker on
 * a CI runner) the engine's own ADDR, since its ports are on that host. Never 0.0.0.0.
 */
export const HOST_IP = engineHostIp(process.env.DOCKER_HOST);

/** The host address for a `DOCKER_HOST` value (undefined: the local socket). */
export function engineHostIp(dockerHost: string | undefined): string {
  const m = /^(?:tcp|http|https):\/\/(\[[^\]]+\]|[^:/]+)/.exec(dockerHost ?? '');
  const addr = m?.[1]?.replace(/^\[|\]$/g, '');
  if (!addr || addr === '0.0.0.0' || addr === '::') return '127.0.0.1';
  return addr;
}

/** Whether a host address is an IP literal (Docker publishes ports only on those). */
export function isIpLiteral(addr: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(addr) || addr.includes(':');
}
