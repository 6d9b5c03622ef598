import type { AnyLab } from '../../src/engine/lab.ts';
import bitrot from './bitrot.ts';
import erasureTolerance from './erasure-tolerance.ts';
import healing from './healing.ts';
import notFound from './not-found.ts';
import notesTopology from './notes-topology.ts';
import partition from './partition.ts';

/** The MinIO labs, in course order (registered in scenarios/index.ts). */
export const minioLabs: AnyLab[] = [erasureTolerance, notesTopology, notFound, healing, bitrot, partition];
