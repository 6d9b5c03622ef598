import { Socket } from 'node:net';

/** ZooKeeper's `srvr`, read from the host through a node's published client port. */
export interface Srvr {
  /** leader, follower, observer, standalone; undefined when the node does not serve. */
  mode: string | undefined;
  zxid: string | undefined;
  nodeCount: number | undefined;
  raw: string;
}

/**
 * Sends a four-letter word and reads the answer until the server closes. docker-proxy
 * accepts a connection before the server listens, so an empty answer means "not yet".
 */
export function fourLetter(host: string, port: number, word: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = new Socket();
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${word} to ${host}:${port}: no answer in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (c) => (data += c.toString()));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    sock.connect(port, host, () => sock.write(word));
  });
}

export function parseSrvr(raw: string): Srvr {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'm').exec(raw)?.[1]?.trim();
  const count = field('Node count');
  return {
    mode: field('Mode'),
    zxid: field('Zxid'),
    nodeCount: count === undefined ? undefined : Number(count),
    raw: raw.trim(),
  };
}
