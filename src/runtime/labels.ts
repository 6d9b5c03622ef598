import { LABEL_OWNER, ownerOf } from './owner.ts';

/** Every container, network and volume midlab makes carries these labels, so the
 * reaper can find whatever a dead process left behind. */
export const LABEL_LAB = 'dev.midlab.lab';
export const LABEL_STACK = 'dev.midlab.stack';
export const LABEL_NODE = 'dev.midlab.node';
/** The process that made it, so `midlab ps` can tell live labs from leftovers. */
export const LABEL_PID = 'dev.midlab.pid';
/**
 * On the marker volume `midlab up` creates once its cluster is healthy: the lab is kept
 * after its process ends, until `midlab down`. An `up` killed before that leaves a
 * leftover like any other run, which `reap` removes.
 */
export const LABEL_KEPT = 'dev.midlab.kept';
/** One start of a cluster: what a failed or concurrent start removes is only its own. */
export const LABEL_RUN = 'dev.midlab.run';
/** On images: the hash of the recipe they were built from. */
export const LABEL_RECIPE = 'dev.midlab.recipe';

export function labLabels(
  lab: string,
  stack: string,
  opts: { node?: string; run?: string } = {},
): Record<string, string> {
  const labels: Record<string, string> = {
    [LABEL_LAB]: lab,
    [LABEL_STACK]: stack,
    [LABEL_PID]: String(process.pid),
    [LABEL_OWNER]: ownerOf(),
  };
  if (opts.node) labels[LABEL_NODE] = opts.node;
  if (opts.run) labels[LABEL_RUN] = opts.run;
  return labels;
}

/** Docker object names: midlab-<lab>[-<node>], lab ids being kebab-case. */
export function labSlug(lab: string): string {
  return lab
    .replace(/[^a-zA-Z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
}
