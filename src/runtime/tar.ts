/**
 * A minimal ustar writer: enough to copy small config files into a container before it
 * starts (`putArchive`), without a dependency.
 */
export interface TarEntry {
  path: string;
  content: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
}

export function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.content === 'string' ? Buffer.from(e.content) : e.content;
    const name = e.path.replace(/^\/+/, '');
    if (Buffer.byteLength(name) > 100) throw new Error(`tar: path too long: ${e.path}`);
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write(octal(e.mode ?? 0o644, 8), 100);
    h.write(octal(e.uid ?? 0, 8), 108);
    h.write(octal(e.gid ?? 0, 8), 116);
    h.write(octal(body.length, 12), 124);
    h.write(octal(Math.floor(Date.now() / 1000), 12), 136);
    h.write('        ', 148); // checksum placeholder: eight spaces
    h.write('0', 156); // regular file
    h.write('ustar\u000000', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148);
    blocks.push(h, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\u0000`;
}
