import { describe, it } from 'vitest';
import { minioLabs } from '../../scenarios/minio/index.ts';
import { expectLabPasses } from '../helpers/lab.ts';

// Every MinIO lab with its defaults, plus the notes' topology with EC:6.
const runs = minioLabs.flatMap((lab) => {
  const base = { name: lab.id, lab, params: {} as Record<string, string> };
  return lab.id === 'minio/notes-topology'
    ? [base, { ...base, name: `${lab.id} (parity=6)`, params: { parity: '6' } }]
    : [base];
});

describe.each(runs)('$name', ({ lab, params }) => {
  it('passes, keeps its evidence and leaves nothing behind', () => expectLabPasses(lab, params));
});
