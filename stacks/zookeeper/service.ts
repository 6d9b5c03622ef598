/**
 * A tiny "service" for the registry lesson, run as its own process so a lab can freeze
 * (SIGSTOP) or kill (SIGKILL) it like a real service: it registers an ephemeral znode
 * and keeps its session alive. It prints one JSON line per event on stdout.
 *
 * Usage: node service.ts <connect-string> <path> <session-timeout-ms>
 */
import { ZkClient } from './client.ts';

const [connect, path, timeout] = process.argv.slice(2);
if (!connect || !path) {
  process.stderr.write('usage: service.ts <connect-string> <path> [session-timeout-ms]\n');
  process.exit(2);
}
const client = await ZkClient.connect(connect, { sessionTimeoutMs: Number(timeout ?? 4000) });
client.onConnected(() => say({ event: 'connected', sessionId: client.sessionId }));
const parent = path.slice(0, path.lastIndexOf('/')) || '/';
if (parent !== '/') await client.mkdirp(parent);
await client.create(path, JSON.stringify({ pid: process.pid }), { ephemeral: true });
say({ event: 'registered', path, sessionId: client.sessionId, timeoutMs: client.sessionTimeoutMs });
setInterval(() => {}, 1 << 30);

function say(o: object): void {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);
}
