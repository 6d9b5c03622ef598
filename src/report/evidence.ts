import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResultSink } from '../engine/result.ts';
import { htmlReport } from './html.ts';
import { junitXml } from './junit.ts';

/**
 * One folder per run: history.jsonl (every operation), faults.json (the ledger),
 * observations.json, result.json, story.json (what the trainee was told), junit.xml,
 * report.html (the story, checks and plots); node logs are saved into logs/ by the
 * cluster's teardown.
 */
export const writeEvidence: ResultSink = async (result, history, story) => {
  const dir = result.outDir;
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'history.jsonl'), `${history.ops.map((o) => JSON.stringify(o)).join('\n')}\n`),
    writeFile(join(dir, 'faults.json'), `${JSON.stringify(history.faults, null, 2)}\n`),
    writeFile(join(dir, 'observations.json'), `${JSON.stringify(history.observations, null, 2)}\n`),
    writeFile(join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`),
    writeFile(join(dir, 'junit.xml'), junitXml([result])),
    writeFile(join(dir, 'story.json'), `${JSON.stringify(story, null, 2)}\n`),
    writeFile(join(dir, 'report.html'), htmlReport(result, history.evidence(), story)),
  ]);
};
