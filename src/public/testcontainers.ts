// midlab/testcontainers: midlab's faults, history, checkers and reports for containers a
// test starts with testcontainers (from midlab's images or any other). Needs the
// `testcontainers` package (a peer dependency: install it beside midlab).
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { adoptCluster } from '../runtime/adopt.ts';
import type { StartedCluster } from '../runtime/cluster.ts';

/**
 * A GenericContainer whose ports are published on 127.0.0.1 only (testcontainers
 * publishes on every address of the host otherwise). Set TESTCONTAINERS_HOST_OVERRIDE=
 * 127.0.0.1 where "localhost" resolves to ::1 first, so its port checks look there.
 */
export class LoopbackContainer extends GenericContainer {
  override async start(): Promise<StartedTestContainer> {
    for (const bindings of Object.values(this.hostConfig.PortBindings ?? {}))
      for (const b of bindings as { HostIp?: string }[]) b.HostIp = '127.0.0.1';
    return super.start();
  }
}

/** Started testcontainers, by the names the test uses, as a cluster midlab's nemesis can break. */
export function adoptContainers(
  lab: string,
  containers: Record<string, StartedTestContainer>,
): Promise<StartedCluster> {
  return adoptCluster(lab, Object.fromEntries(Object.entries(containers).map(([n, c]) => [n, c.getId()])));
}
