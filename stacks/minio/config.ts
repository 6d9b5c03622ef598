/**
 * Distributed MinIO: node names, the server command, and the erasure-code arithmetic.
 * Pure functions, unit-tested.
 */
export const S3_PORT = 9000;
export const CONSOLE_PORT = 9001;
/** Drives are /data1../dataN inside each node (the image makes /data1../data4). */
export const MAX_DRIVES_PER_NODE = 4;

export function nodeNames(nodes: number): string[] {
  return Array.from({ length: nodes }, (_, i) => `minio${i + 1}`);
}

export function drivePaths(drivesPerNode: number): string[] {
  return Array.from({ length: drivesPerNode }, (_, i) => `/data${i + 1}`);
}

/**
 * The command every node runs: the same on all of them, with MinIO's `{a...b}` ellipses
 * (one node: a local-path server, erasure-coded when it has several drives).
 */
export function serverCommand(nodes: number, drivesPerNode: number): string[] {
  const drives = drivesPerNode === 1 ? '/data1' : `/data{1...${drivesPerNode}}`;
  const volume = nodes === 1 ? drives : `http://minio{1...${nodes}}:${S3_PORT}${drives}`;
  return ['minio', 'server', '--address', `:${S3_PORT}`, '--console-address', `:${CONSOLE_PORT}`, volume];
}

/** MinIO's default parity of the standard storage class for an erasure set of this many drives. */
export function defaultParity(setDrives: number): number {
  if (setDrives <= 1) return 0;
  if (setDrives <= 3) return 1;
  if (setDrives <= 5) return 2;
  if (setDrives <= 7) return 3;
  return 4;
}

/**
 * The erasure-set size MinIO picks for this many drives in one pool: the largest size
 * from 2 to 16 that divides the drive count evenly (MinIO further prefers a size that
 * divides by the node count, which this does too for the symmetric layouts midlab starts).
 * Only a prediction: labs read the real layout from the server.
 */
export function setSize(totalDrives: number, nodes = 1): number {
  if (totalDrives <= 16) return totalDrives;
  for (let s = 16; s >= 2; s--) {
    if (totalDrives % s === 0 && (s % nodes === 0 || nodes % s === 0)) return s;
  }
  return totalDrives;
}

/** Read quorum: as many drives as there are data shards. */
export function readQuorum(setDrives: number, parity: number): number {
  return setDrives - parity;
}

/** Write quorum: the data shards, plus one when data = parity (so two halves cannot both write). */
export function writeQuorum(setDrives: number, parity: number): number {
  const data = setDrives - parity;
  return data === parity ? data + 1 : data;
}

export interface Availability {
  read: boolean;
  write: boolean;
}

/** Whether reads and writes can work with `online` drives left in an erasure set. */
export function availabilityWith(online: number, setDrives: number, parity: number): Availability {
  return { read: online >= readQuorum(setDrives, parity), write: online >= writeQuorum(setDrives, parity) };
}

/**
 * Availability with some nodes down, set by set: every set must have quorum (an object
 * lives in one set, and the cluster-wide probes ask for all). `sets` lists each set's
 * drives by node.
 */
export function availabilityWithNodesDown(sets: { node: string }[][], parity: number, down: string[]): Availability {
  let read = true;
  let write = true;
  for (const set of sets) {
    const online = set.filter((d) => !down.includes(d.node)).length;
    const a = availabilityWith(online, set.length, parity);
    read &&= a.read;
    write &&= a.write;
  }
  return { read, write };
}

/**
 * Whether the default layout keeps write quorum with any one node down (a prediction
 * from the server's default rules; 2 nodes never do, 4 x 2 and 3 x 4 do).
 */
export function survivesOneNode(nodes: number, drivesPerNode: number, parity = 0): boolean {
  if (nodes < 2) return false;
  const set = setSize(nodes * drivesPerNode, nodes);
  const p = parity || defaultParity(set);
  return set - Math.ceil(set / nodes) >= writeQuorum(set, p);
}
