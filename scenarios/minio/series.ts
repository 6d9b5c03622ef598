/**
 * What the MinIO kill-series labs do alike: take nodes down one at a time (reading,
 * writing and watching the health endpoints after each), and start them again.
 */
import type { Probe } from '../../src/kit.ts';
import { withTimeout } from '../../src/kit.ts';
import { type Availability, availabilityWithNodesDown } from '../../stacks/minio/config.ts';
import { ecOf, upgradedParity } from '../../stacks/minio/drives.ts';
import { BUCKET, ObjectWorkload, SIZES } from '../../stacks/minio/workload.ts';
import { erasureOf, type MinioLab, mcCommand } from './shared.ts';

/**
 * How a lab takes a node down. `crash`: the server process is killed and the container
 * keeps its address, so peers are refused at once (a process crash). `kill`: the whole
 * container dies and its address vanishes, so peers learn it only when their calls time
 * out (a machine crash, ~40 s here).
 */
export type NodeFault = 'crash' | 'kill';

export const NODE_FAULT_TEXT: Record<NodeFault, string> = {
  crash:
    "the server process is SIGKILLed while its container (and address) stays, as when the process crashes: peers' " +
    'connections are refused at once, so the survivor counts its drives offline within 2 s (the bound the lab checks)',
  kill:
    "the container is SIGKILLed and its address vanishes, as when the machine dies: peers' calls to it hang until " +
    'they time out, so the survivor counts its drives offline only after tens of seconds (10-55 s measured; within 75 s, the bound the lab checks)',
};

/** The longest the lab waits for the survivor to notice a downed node... */
export const NOTICE_WAIT_MS: Record<NodeFault, number> = { crash: 10_000, kill: 90_000 };
/** ...and the longest it lets it take, as the narration says (checked). */
export const NOTICE_BOUND_MS: Record<NodeFault, number> = { crash: 2_000, kill: 75_000 };

/** How long the survivor took to count the downed node's drives offline. */
export interface Noticed {
  /** ms from the fault to the survivor's view changing (undefined: it never did within the wait). */
  ms: number | undefined;
  how: string;
}

/** Data and parity shards an object was written with, read from its xl.meta. */
export interface Written {
  id: string;
  data: number;
  parity: number;
}

export interface StepRecord {
  step: number;
  down: string[];
  fault: NodeFault;
  expected: Availability;
  health: { cluster: number; read: number };
  noticed: Noticed;
  /** Objects put in this step, with the shards they were written with. */
  written: Written[];
}

/**
 * Waits until the survivor `via` has noticed the fault: `mc admin info` counts the
 * downed nodes' drives offline (or, when reads are expected to fail, the read-health
 * endpoint is 503). Operations before that may hang on the dead peer, which would
 * measure the detection delay, not the quorum rule.
 */
export async function waitNoticed(
  lab: MinioLab,
  via: string,
  down: string[],
  expected: Availability,
  fault: NodeFault,
) {
  const drivesDown = down.length * lab.stack.params.drives;
  const t0 = Date.now();
  const seen = await lab.until(
    `${via} to count ${down.join(', ')}'s drives offline`,
    async (): Promise<Probe<string>> => {
      // With read quorum gone the admin API itself may hang: the read-health 503 is the sign.
      if (!expected.read && (await lab.stack.health(via, 'cluster/read')) === 503)
        return { done: true, value: 'its read-health endpoint answered 503' };
      const info = await withTimeout(15_000, 'mc admin info', () => lab.stack.info(via)).catch(() => undefined);
      if (!info) return { done: false, seen: 'mc admin info gave no answer' };
      return info.offlineDisks >= drivesDown
        ? { done: true, value: `it counts ${info.offlineDisks} drives offline` }
        : { done: false, seen: `${info.offlineDisks} drives offline` };
    },
    { timeoutMs: NOTICE_WAIT_MS[fault], intervalMs: 500 },
  );
  return seen === undefined
    ? { ms: undefined, how: `${via} did not show it within ${NOTICE_WAIT_MS[fault] / 1000} s` }
    : { ms: Date.now() - t0, how: seen };
}

/**
 * Takes `order` down one at a time (`fault`), as the steps `down-<k>`. After each: wait
 * until the survivor `via` sees it, read the health endpoints, put one object of each
 * size, get every acknowledged object (processes `s3-<k>down`). The steps' text gets
 * {node}, {Fault}, {online}, {reads}, {writes}, {upgraded}, {how} and the layout's
 * {setDrives}, {ec}, {readQuorum}, {writeQuorum}. Then starts them all again (step `restart`).
 */
export async function killSeries(lab: MinioLab, via: string, order: string[], fault: NodeFault): Promise<void> {
  const view = erasureOf(lab);
  const w = new ObjectWorkload(lab.history, lab.stack);
  const down: string[] = [];
  for (const [i, node] of order.entries()) {
    const k = i + 1;
    const after = availabilityWithNodesDown(view.sets, view.parity, [...down, node]);
    const online = (view.sets[0] ?? []).filter((d) => d.node !== node && !down.includes(d.node)).length;
    const vars = {
      node,
      setDrives: view.setDrives,
      ec: view.parity,
      readQuorum: view.readQuorum,
      writeQuorum: view.writeQuorum,
      Fault: fault === 'crash' ? 'Crash' : 'Kill',
      online,
      reads: after.read ? 'work' : 'fail',
      writes: after.write ? 'work' : 'fail',
      upgraded: upgradedParity(view.parity, view.setDrives, view.setDrives - online),
      how: NODE_FAULT_TEXT[fault],
    };
    const run = async () => {
      await (fault === 'crash' ? lab.faults.crash(node) : lab.faults.kill(node));
      down.push(node);
      const noticed = await waitNoticed(lab, via, down, after, fault);
      lab.say(noticed.ms === undefined ? noticed.how : `${via} noticed after ${noticed.ms} ms: ${noticed.how}`);
      const proc = `s3-${k}down`;
      const acked = w.acked().length;
      // Reads of what is stored and new writes at once, with the health endpoints.
      const [gets, puts, health, offline] = await Promise.all([
        w.getAll(via, proc),
        w.putEach(via, proc, `w${k}down`),
        lab.stack.healthView(via),
        lab.stack.offlineView(via),
      ]);
      const written: Written[] = [];
      for (const id of w.acked().filter((x) => x.startsWith(`w${k}down-`))) {
        const meta = await lab.stack.xlMeta({ node: via, path: '/data1' }, BUCKET, id);
        const ec = meta && ecOf(meta);
        if (ec) written.push({ id, ...ec });
      }
      lab.say(offline);
      lab.observe<StepRecord>(`step-${k}`, {
        step: k,
        down: [...down],
        fault,
        expected: after,
        health,
        noticed,
        written,
      });
      const shards = [...new Set(written.map((x) => `EC:${x.parity} (${x.data}+${x.parity})`))].join(', ');
      lab.say(
        `expected from parity EC:${view.parity}: reads ${vars.reads}, writes ${vars.writes}; observed: ${puts}/` +
          `${Object.keys(SIZES).length} puts ok, ${gets}/${acked} gets ok; /minio/health/cluster ${health.cluster}, ` +
          `/minio/health/cluster/read ${health.read}${shards ? `; written with ${shards}` : ''}`,
      );
    };
    await lab.step(`down-${k}`, run, { vars });
  }
  await restartAll(lab, order, fault);
}

/** How a restart brings a downed node back, for the `restart` step's {how}. */
const RESTART_HOW: Record<NodeFault, string> = {
  crash: 'The crashed servers run again in their containers, with their drives as they were.',
  kill: 'The killed containers start again with their drives as they were (plain directories in each container).',
};

/** The `restart` step every kill-series lab declares. */
export const RESTART_STEP = {
  title: 'Start {nodes} again',
  narration:
    "{how} Objects written while a node was down miss that node's shards; MinIO heals them in the background " +
    '(and on access). The stack waits until every node lists every drive online and /minio/health/cluster is 200.',
  commands: [mcCommand('minio1', 'admin info local')],
};

/** Restarts every downed node (step `restart`), waits for all drives online, observes `afterRestart`. */
export async function restartAll(lab: MinioLab, nodes: string[], fault: NodeFault): Promise<void> {
  const run = async () => {
    for (const n of nodes) await lab.faults.start(n);
    const t0 = Date.now();
    await lab.stack.waitHealthy(120_000);
    lab.say(`every drive online and write quorum on every node ${Date.now() - t0} ms after the last start`);
    const seen = await lab.stack.drives('minio1');
    lab.observe('afterRestart', seen, `${seen.online} drives online, ${seen.offline} offline`);
  };
  const vars = { nodes: nodes.join(', '), how: RESTART_HOW[fault] };
  await lab.step('restart', run, { vars });
}
