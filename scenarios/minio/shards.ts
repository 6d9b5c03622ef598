import type { Ctx } from './common.ts';

/** A drive on a node: where one shard of every object of a set lives. */
export interface DriveRef {
  node: string;
  path: string;
}

export const driveLabel = (d: DriveRef) => `${d.node}:${d.path}`;

/** Objects of `bucket` that have a directory (their xl.meta) on a drive. */
export async function objectsOnDrive(lab: Ctx, d: DriveRef, bucket: string): Promise<string[]> {
  const r = await lab.stack.cluster
    .node(d.node)
    .exec(['sh', '-c', `cd ${d.path}/${bucket} 2>/dev/null && for o in *; do [ -f "$o/xl.meta" ] && echo "$o"; done`]);
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** The part file of an object's shard on a drive (objects over 128 KiB), or undefined. */
export async function partFile(lab: Ctx, d: DriveRef, bucket: string, id: string): Promise<string | undefined> {
  const r = await lab.stack.cluster
    .node(d.node)
    .exec(['sh', '-c', `ls ${d.path}/${bucket}/${id}/*/part.1 2>/dev/null | head -1`]);
  return r.stdout.trim() || undefined;
}

export async function fileSha256(lab: Ctx, node: string, file: string): Promise<string | undefined> {
  const r = await lab.stack.cluster.node(node).exec(['sha256sum', file]);
  return r.exitCode === 0 ? r.stdout.split(' ')[0] : undefined;
}

/** The small integer msgpack stores after `key` in an xl.meta (undefined: absent or not small). */
function intAfter(xlMeta: Buffer, key: string): number | undefined {
  const k = Buffer.concat([Buffer.from([0xa0 | key.length]), Buffer.from(key)]);
  const at = xlMeta.indexOf(k);
  if (at < 0) return undefined;
  const b = xlMeta[at + k.length];
  if (b === undefined) return undefined;
  if (b <= 0x7f) return b; // positive fixint
  if (b === 0xcc || b === 0xd0) return xlMeta[at + k.length + 1]; // uint8 / int8
  return undefined;
}

/**
 * This drive's erasure index and the data-shard count, from the object's xl.meta
 * (msgpack: the keys "EcIndex" and "EcM" followed by small integers). Index 1..EcM
 * hold data shards: the ones a GET reads first.
 */
export function ecIndexOf(xlMeta: Buffer): { index: number; data: number } | undefined {
  const index = intAfter(xlMeta, 'EcIndex');
  const data = intAfter(xlMeta, 'EcM');
  return index !== undefined && data !== undefined ? { index, data } : undefined;
}

/** The data (EcM) and parity (EcN) shards an object was written with, from its xl.meta. */
export function ecOf(xlMeta: Buffer): { data: number; parity: number } | undefined {
  const data = intAfter(xlMeta, 'EcM');
  const parity = intAfter(xlMeta, 'EcN');
  return data !== undefined && parity !== undefined ? { data, parity } : undefined;
}

export async function xlMeta(lab: Ctx, d: DriveRef, bucket: string, id: string): Promise<Buffer | undefined> {
  const r = await lab.stack.cluster.node(d.node).exec(['base64', '-w0', `${d.path}/${bucket}/${id}/xl.meta`]);
  return r.exitCode === 0 ? Buffer.from(r.stdout.trim(), 'base64') : undefined;
}

/** `mc admin heal -r [--scan deep] local/<bucket>` (deep: verifies every shard's hashes) on a node: output or the error, never throws. */
export async function healBucket(lab: Ctx, node: string, bucket: string, deep = false): Promise<string> {
  try {
    const out = await lab.stack.mc(node, [
      'admin',
      'heal',
      '-r',
      ...(deep ? ['--scan', 'deep'] : []),
      `local/${bucket}`,
      '--json',
    ]);
    return out.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
  } catch (err) {
    return `error: ${(err as Error).message.slice(0, 300)}`;
  }
}
