import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { History } from '../engine/history.ts';
import type { RunResult } from '../engine/runner.ts';
import { htmlReport } from './html.ts';
import { junitXml } from './junit.ts';

/**
 * One folder per run: history.jsonl (every operation), faults.json (the ledger),
 * observations.json, result.json, junit.xml, report.html (with plots); node logs are saved into logs/ by the
 * cluster's teardown.
 */
export async function writeEvidence(dir: string, result: RunResult, history: History): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'history.jsonl'), `${history.ops.map((o) => JSON.stringify(o)).join('\n')}\n`),
    writeFile(join(dir, 'faults.json'), `${JSON.stringify(history.faults, null, 2)}\n`),
    writeFile(join(dir, 'observations.json'), `${JSON.stringify(history.observations, null, 2)}\n`),
    writeFile(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`),
    writeFile(join(dir, 'junit.xml'), junitXml([result])),
    writeFile(join(dir, 'report.html'), htmlReport(result, history.evidence())),
  ]);
}
