import { spawn, spawnSync } from 'node:child_process';
import { docker } from '../../src/runtime/docker.ts';
import { LABEL_LAB } from '../../src/runtime/labels.ts';

/** Everything carrying midlab's label for one lab (or all labs). */
export async function leftovers(lab?: string): Promise<{ containers: number; networks: number }> {
  const filters = JSON.stringify({ label: [lab ? `${LABEL_LAB}=${lab}` : LABEL_LAB] });
  const [containers, networks] = await Promise.all([
    docker().listContainers({ all: true, filters }),
    docker().listNetworks({ filters }),
  ]);
  return { containers: containers.length, networks: networks.length };
}

/** Runs the CLI to completion. */
export function midlab(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/midlab.js', ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Starts the CLI in the background (to interrupt it). */
export function midlabAsync(...args: string[]) {
  return spawn(process.execPath, ['bin/midlab.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
