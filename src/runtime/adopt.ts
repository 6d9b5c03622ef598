import { StartedCluster } from './cluster.ts';
import { docker } from './docker.ts';
import { StartedNode } from './node.ts';

/**
 * Containers started by someone else (testcontainers, a compose file) as a cluster that
 * midlab's nemesis, history and reports can work with. `nodes` maps the names the lab
 * uses (zk1, ...) to container ids or names. Each published port is known by its
 * container port (`node.hostPort('2181')`). Stopping the cluster leaves the containers
 * to whoever started them. Partitions need the NET_ADMIN capability and iptables in the
 * image (midlab's images have iptables; add the capability when starting them).
 */
export async function adoptCluster(lab: string, nodes: Record<string, string>): Promise<StartedCluster> {
  const d = docker();
  const started = await Promise.all(
    Object.entries(nodes).map(async ([name, id]) => {
      const container = d.getContainer(id);
      const info = await container.inspect();
      const hostPorts: Record<string, number> = {};
      for (const [key, bindings] of Object.entries(info.NetworkSettings.Ports ?? {})) {
        const host = bindings?.[0]?.HostPort;
        if (host) hostPorts[key.replace(/\/tcp$/, '')] = Number(host);
      }
      const network = Object.keys(info.NetworkSettings.Networks ?? {})[0] ?? 'bridge';
      return new StartedNode(
        { name, image: info.Config.Image },
        container,
        info.Name.replace(/^\//, ''),
        network,
        hostPorts,
      );
    }),
  );
  return new StartedCluster(
    { lab, stack: 'adopted', nodes: [], adopted: true },
    started[0]?.network ?? 'bridge',
    started,
  );
}
