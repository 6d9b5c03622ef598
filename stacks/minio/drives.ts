/**
 * What a MinIO cluster's drives say, as pure readings: the erasure layout `mc admin info`
 * reports, the drives' states, and an object's xl.meta (its erasure index and shards).
 */
import type { ClusterInfo } from './admin.ts';
import { readQuorum, writeQuorum } from './config.ts';

/** A drive on a node: where one shard of every object of a set lives. */
export interface DriveRef {
  node: string;
  path: string;
}

export const driveLabel = (d: DriveRef) => `${d.node}:${d.path}`;

/** What a lab keeps of the erasure layout, as the server reported it. */
export interface ErasureView {
  parity: number;
  setDrives: number;
  sets: DriveRef[][];
  readQuorum: number;
  writeQuorum: number;
  online: number;
  offline: number;
}

export function erasureView(info: ClusterInfo): ErasureView {
  const parity = info.standardParity ?? -1;
  const setDrives = info.sets[0]?.length ?? 0;
  return {
    parity,
    setDrives,
    sets: info.sets.map((s) => s.map((d) => ({ node: d.node, path: d.path }))),
    readQuorum: readQuorum(setDrives, parity),
    writeQuorum: writeQuorum(setDrives, parity),
    online: info.onlineDisks,
    offline: info.offlineDisks,
  };
}

/** The reasons a layout is not erasure-coded (none: it is). */
export function erasureProblems(info: ClusterInfo): string[] {
  const problems: string[] = [];
  if (info.standardParity === undefined) problems.push('the server reports no standard-class parity');
  else if (info.standardParity < 1) problems.push(`parity ${info.standardParity}: no erasure coding`);
  if (!info.sets.length) problems.push('no erasure set reported');
  return problems;
}

/** Every drive's state as one node's `mc admin info` lists it. */
export interface DrivesSeen {
  online: number;
  offline: number;
  states: string[];
}

export const drivesSeen = (info: ClusterInfo): DrivesSeen => ({
  online: info.onlineDisks,
  offline: info.offlineDisks,
  states: info.drives.map((d) => `${d.endpoint}=${d.state}`),
});

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

/**
 * The parity MinIO gives an object written while `offline` drives of its set are
 * down (storage class optimize=availability, the default): one more per offline drive,
 * at most half the set, so the object is as safe as one written with every drive up.
 */
export function upgradedParity(parity: number, setDrives: number, offline: number): number {
  return Math.min(parity + offline, Math.floor(setDrives / 2));
}
