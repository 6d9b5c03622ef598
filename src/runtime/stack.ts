import { randomBytes } from 'node:crypto';
import type { ParamTable, ParamValues } from '../params.ts';
import { resolveParams } from '../params.ts';
import { type StartedCluster, startCluster } from './cluster.ts';
import type { NodeSpec } from './node.ts';
import { markKept } from './reaper.ts';

/**
 * A middleware stack: how to lay out its nodes for given parameters, when the cluster
 * (not just each container) is ready, and the domain handle labs and users get.
 * Stacks live in `stacks/<name>/stack.ts`.
 */
export interface Stack<T extends ParamTable = ParamTable, H extends StartedStack = StartedStack> {
  name: string;
  summary: string;
  params: T;
  /**
   * Parameters every lab of this stack takes besides its own and passes on to the stack
   * (Kafka's `version`), so no lab has to declare them.
   */
  labParams?: string[];
  /** Further Compose files besides `compose/<name>.yml`: `compose/<name>-<key>.yml` with these parameters. */
  composeVariants?: Record<string, Record<string, string>>;
  /** The configurations `midlab bench` measures (default: one, with default parameters). */
  benchmarks?: Record<string, string>[];
  /** Throws UsageError for an impossible topology; returns warnings for unwise ones. */
  validate(p: ParamValues<T>): string[];
  nodes(p: ParamValues<T>): NodeSpec[];
  /** Wraps the live cluster in the stack's handle and waits until the cluster is healthy. */
  connect(cluster: StartedCluster, p: ParamValues<T>): Promise<H>;
}

/** What every started stack offers; each stack adds domain getters. */
export interface StartedStack extends AsyncDisposable {
  readonly cluster: StartedCluster;
  /** Endpoints a host client uses, as `127.0.0.1:PORT` strings, for `midlab up --json`. */
  endpoints(): Record<string, string | string[]>;
  /** Polls until the cluster is healthy again (after faults were healed). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * Each reachable node's role now (leader, follower, observer, controller, primary,
   * replica...), for the live view's tiles; a node that does not answer is left out.
   * Quick and side-effect free: it is polled about once a second while a lab runs.
   */
  liveRoles?(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The lab id its containers are labelled with; default: the stack's name and a fresh suffix, so parallel tests never collide. */
  lab?: string;
  /** Called with warnings about an unwise topology. */
  onWarning?: (w: string) => void;
  /** Where node logs are saved when the stack is stopped. */
  logDir?: string;
  /** Kept running after this process ends (`midlab up`). */
  kept?: boolean;
}

/** Starts a stack and returns once the cluster is healthy; on failure nothing is left. */
export async function startStack<T extends ParamTable, H extends StartedStack>(
  stack: Stack<T, H>,
  given: Record<string, string | number | boolean> = {},
  opts: StartOptions = {},
): Promise<H> {
  const p = resolveParams(stack.params, given, stack.name);
  for (const w of stack.validate(p)) opts.onWarning?.(w);
  const lab = opts.lab ?? `${stack.name}-${randomBytes(3).toString('hex')}`;
  const cluster = await startCluster({
    lab,
    stack: stack.name,
    nodes: stack.nodes(p),
    kept: opts.kept,
  });
  if (opts.logDir) cluster.keepLogsIn(opts.logDir);
  try {
    const started = await stack.connect(cluster, p);
    // Only a healthy cluster is kept: an `up` killed before this leaves a leftover.
    if (opts.kept) await markKept(lab, stack.name);
    return started;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
