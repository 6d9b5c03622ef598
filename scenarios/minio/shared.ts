/**
 * What every MinIO lab uses alike: the parity parameter, the node it goes through and the
 * commands to try there, the erasure proof, the first upload and the traced final read.
 */
import type { LabContext, Probe } from '../../src/kit.ts';
import { observed } from '../../src/kit.ts';
import { type ErasureView, erasureProblems, erasureView } from '../../stacks/minio/drives.ts';
import type { StartedMinio } from '../../stacks/minio/stack.ts';
import { BUCKET, ObjectWorkload } from '../../stacks/minio/workload.ts';

/** The `parity` parameter of the 3 x 4 labs: EC:N of the standard class, 0 for the server default (EC:4). */
export const parityParam = (describe: string) => ({ type: 'int', default: 0, min: 0, max: 6, describe }) as const;

/** The node the labs write and read through, and whose view of the cluster they report. */
export const VIA = 'minio1';

/**
 * `mc` inside a node (a node, or a step var naming one) with the alias `local` made from
 * the server's own credentials in its environment: a step's command to try.
 */
export const mcCommand = (node: string, args: string): string =>
  `docker exec {@${node}} sh -c 'MC_HOST_local=http://$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD@localhost:9000 mc ${args}'`;

/** What a trainee can try while nodes are down: the survivor's view, its health checks, the bucket. */
export const DOWN_COMMANDS = [
  mcCommand(VIA, 'admin info local'),
  mcCommand(VIA, 'ready local'),
  mcCommand(VIA, 'ready --cluster-read local'),
  mcCommand(VIA, `ls local/${BUCKET}`),
];

/** A MinIO lab's context, whatever its parameters and step keys. */
export type MinioLab = LabContext<StartedMinio, unknown, string>;

/** What a lesson needs of the layout besides erasure coding: one set of `setDrives` drives; the parity it asked for (0: none). */
export interface ErasureNeeds {
  setDrives?: number;
  parity?: number;
}

/**
 * Reads and records the erasure layout through VIA (observation `erasure`); returns the
 * reasons it is not erasure-coded or not what the lesson `needs` (a parity asked for and
 * ignored by the server: the variant's premise is not in force).
 */
export async function proveErasure(lab: MinioLab, needs: ErasureNeeds = {}): Promise<string[]> {
  const info = await lab.stack.info(VIA);
  const v = erasureView(info);
  lab.observe(
    'erasure',
    v,
    `${info.sets.length} erasure set(s) of ${v.setDrives} drives; standard parity EC:${v.parity} -> ` +
      `${v.setDrives - v.parity} data + ${v.parity} parity shards per object; read quorum ${v.readQuorum} drives, ` +
      `write quorum ${v.writeQuorum}`,
  );
  const problems = erasureProblems(info);
  if (needs.setDrives && (info.sets.length !== 1 || v.setDrives !== needs.setDrives))
    problems.push(
      `${info.sets.length} erasure set(s) of ${v.setDrives} drives: the lesson needs one of ${needs.setDrives}`,
    );
  if (needs.parity && v.parity !== needs.parity)
    problems.push(`asked for EC:${needs.parity}, the server runs EC:${v.parity}`);
  return problems;
}

/** The erasure layout the mechanism observed. */
export function erasureOf(lab: MinioLab): ErasureView {
  const v = observed<{ erasure: ErasureView }>(lab.history.evidence()).erasure;
  if (!v) throw new Error('the erasure layout was not observed');
  return v;
}

/** The bucket, one object of each size through `via`, each read back through every node (process `s3-0down`). */
export async function uploadAndReadBack(lab: MinioLab, via: string): Promise<void> {
  const w = new ObjectWorkload(lab.history, lab.stack);
  await lab.stack.client(via).makeBucket(BUCKET);
  const ok = await w.putEach(via, 's3-0down', 'base');
  const got = await Promise.all(lab.stack.nodeNames.map((n) => w.getAll(n, 's3-0down')));
  lab.say(`${ok} objects stored, read back through ${lab.stack.nodeNames.join(', ')}: ${got.join(', ')}`);
}

/**
 * The `upload` step (uploadAndReadBack through VIA), its text filled from the erasure
 * layout: {ec}, {data}, {setDrives}, {readQuorum}, {writeQuorum}.
 */
export function uploadStep(lab: MinioLab): Promise<void> {
  const v = erasureOf(lab);
  const { parity: ec, setDrives, readQuorum, writeQuorum } = v;
  const vars = { ec, data: setDrives - ec, setDrives, readQuorum, writeQuorum };
  return lab.step('upload', () => uploadAndReadBack(lab, VIA), { vars });
}

/** An acknowledged object the final read did not get: what each node answers for it, and which drives hold its xl.meta. */
export interface Vanished {
  id: string;
  answers: Record<string, string>;
  drivesWithMeta: string[];
  drives: number;
}

/**
 * The final read (process `final`) of every acknowledged object through `via`. Any it
 * does not get is traced (observation `vanished`): a GET through every node and the
 * drives that still hold its xl.meta, so a loss shows whether the data is gone or only
 * one node's answer.
 */
export async function finalRead(lab: MinioLab, via: string): Promise<void> {
  const w = new ObjectWorkload(lab.history, lab.stack);
  await w.getAll(via, 'final');
  const got = new Set(
    lab.history.ops
      .filter((o) => o.process.startsWith('final:') && o.f === 'get' && o.type === 'ok')
      .map((o) => (o.value as { id: string }).id),
  );
  const missing = w.acked().filter((id) => !got.has(id));
  if (!missing.length) return;
  const drives = (await lab.stack.erasure(via)).sets.flat();
  const held = await Promise.all(drives.map((d) => lab.stack.objectsOnDrive(d, BUCKET)));
  const traced: Vanished[] = [];
  for (const id of missing) {
    const answers: Record<string, string> = {};
    for (const n of lab.stack.nodeNames) {
      const c = lab.stack.client(n);
      answers[n] = await c.getObject(BUCKET, id).then(
        () => 'ok',
        (e: Error & { code?: string }) => e.code ?? e.message,
      );
    }
    const drivesWithMeta = drives.filter((_, i) => held[i]?.includes(id)).map((d) => `${d.node}:${d.path}`);
    traced.push({ id, answers, drivesWithMeta, drives: drives.length });
  }
  const text = traced.map(
    (v) => `${v.id}: ${JSON.stringify(v.answers)}, xl.meta on ${v.drivesWithMeta.length}/${v.drives} drives`,
  );
  lab.observe('vanished', traced, `not read back: ${text.join('; ')}`);
}

/** `lab.until` with a bound, and how long it took (ms undefined: not within the bound). */
export async function within<V>(
  lab: MinioLab,
  what: string,
  boundMs: number,
  probe: () => Promise<Probe<V>>,
): Promise<{ value: V | undefined; ms: number | undefined }> {
  const t0 = Date.now();
  const value = await lab.until(what, probe, { timeoutMs: boundMs, intervalMs: 250 });
  return { value, ms: value === undefined ? undefined : Date.now() - t0 };
}
