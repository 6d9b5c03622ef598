import type { AnyLab } from '../src/engine/lab.ts';
import zkEnsembleBasics from './zookeeper/ensemble-basics.ts';

/** Every lab, in the order a course would take them. A new lab is added here. */
export const labs: AnyLab[] = [zkEnsembleBasics];
