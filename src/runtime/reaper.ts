import { docker } from './docker.ts';
import { LABEL_KEPT, LABEL_LAB, LABEL_PID, LABEL_RUN, labLabels, labSlug } from './labels.ts';
import { LABEL_OWNER, ownerAlive } from './owner.ts';

export interface ReapResult {
  containers: number;
  networks: number;
  volumes: number;
}

/**
 * Removes everything midlab labelled: for one lab, or every lab; with `which`, only the
 * objects whose labels it accepts (`madeBy(run)`, `ownerGone`). Idempotent; safe to run
 * while nothing is left.
 */
export async function reap(
  lab?: string,
  which: (labels: Record<string, string>) => boolean = () => true,
): Promise<ReapResult> {
  const label = lab ? `${LABEL_LAB}=${lab}` : LABEL_LAB;
  const filters = JSON.stringify({ label: [label] });
  const d = docker();
  const containers = (await d.listContainers({ all: true, filters })).filter((c) => which(c.Labels));
  await Promise.all(containers.map((c) => d.getContainer(c.Id).remove({ force: true, v: true }).catch(gone)));
  const networks = (await d.listNetworks({ filters })).filter((n) => which(n.Labels ?? {}));
  await Promise.all(networks.map((n) => d.getNetwork(n.Id).remove().catch(gone)));
  const volumes = ((await d.listVolumes({ filters })).Volumes ?? []).filter((v) => which(v.Labels ?? {}));
  await Promise.all(volumes.map((v) => d.getVolume(v.Name).remove().catch(gone)));
  return { containers: containers.length, networks: networks.length, volumes: volumes.length };
}

/** Objects one start of a cluster made. */
export const madeBy =
  (run: string) =>
  (labels: Record<string, string>): boolean =>
    labels[LABEL_RUN] === run;

/** Objects whose making process is gone. */
export const ownerGone = (labels: Record<string, string>): boolean =>
  !ownerAlive(labels[LABEL_OWNER], Number(labels[LABEL_PID] ?? 0));

function gone(err: { statusCode?: number }): void {
  if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
}

/** Marks a healthy cluster of `midlab up` as kept (a labelled volume; `down` removes it). */
export async function markKept(lab: string, stack: string): Promise<void> {
  await docker().createVolume({
    Name: `midlab-${labSlug(lab)}-kept`,
    Labels: { ...labLabels(lab, stack), [LABEL_KEPT]: 'true' },
  });
}

/** The labs `midlab up` marked as kept. */
async function keptLabs(): Promise<Set<string>> {
  const { Volumes } = await docker().listVolumes({ filters: JSON.stringify({ label: [`${LABEL_KEPT}=true`] }) });
  return new Set((Volumes ?? []).map((v) => v.Labels?.[LABEL_LAB] ?? ''));
}

/**
 * Removes the leftovers: labs whose midlab process is gone, except those `midlab up`
 * started to keep. A run still going and a kept cluster are left alone.
 */
export async function reapLeftovers(): Promise<ReapResult & { labs: string[] }> {
  // Networks too: a process killed between creating its network and its containers.
  const filters = JSON.stringify({ label: [LABEL_LAB] });
  const d = docker();
  const owned = [
    ...(await d.listContainers({ all: true, filters })).map((c) => c.Labels),
    ...(await d.listNetworks({ filters })).map((n) => n.Labels ?? {}),
  ];
  const kept = await keptLabs();
  const labs = [
    ...new Set(
      owned
        .filter((l) => !kept.has(l[LABEL_LAB] ?? '') && !ownerAlive(l[LABEL_OWNER], Number(l[LABEL_PID] ?? 0)))
        .map((l) => l[LABEL_LAB] as string),
    ),
  ].sort();
  const total = { containers: 0, networks: 0, volumes: 0, labs };
  for (const lab of labs) {
    const r = await reap(lab);
    total.containers += r.containers;
    total.networks += r.networks;
    total.volumes += r.volumes;
  }
  return total;
}

export interface LabSummary {
  lab: string;
  stack: string;
  pid: number;
  /** The midlab process that started it still runs. */
  alive: boolean;
  /** Started by `midlab up`: meant to outlive its process. */
  kept: boolean;
  nodes: { name: string; container: string; state: string; ports: string[] }[];
}

/** Labs that have containers, with whether the process that made them still runs. */
export async function listLabs(): Promise<LabSummary[]> {
  const d = docker();
  const containers = await d.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL_LAB] }) });
  const byLab = new Map<string, LabSummary>();
  const keptSet = await keptLabs();
  for (const c of containers) {
    const lab = c.Labels[LABEL_LAB] ?? '?';
    const pid = Number(c.Labels[LABEL_PID] ?? 0);
    let s = byLab.get(lab);
    if (!s) {
      const kept = keptSet.has(lab);
      const alive = ownerAlive(c.Labels[LABEL_OWNER], pid);
      s = { lab, stack: c.Labels['dev.midlab.stack'] ?? '?', pid, alive, kept, nodes: [] };
      byLab.set(lab, s);
    }
    s.nodes.push({
      name: c.Labels['dev.midlab.node'] ?? c.Names[0] ?? c.Id,
      container: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      state: c.State,
      ports: c.Ports.filter((p) => p.PublicPort).map((p) => `${p.IP}:${p.PublicPort}->${p.PrivatePort}`),
    });
  }
  for (const s of byLab.values()) s.nodes.sort((a, b) => a.name.localeCompare(b.name));
  return [...byLab.values()].sort((a, b) => a.lab.localeCompare(b.lab));
}
