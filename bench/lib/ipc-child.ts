/** Child side of the orchestrator's IPC: one handler per request, errors become `ok: false` replies. */
import type { Reply } from './messages.js';

export function serveIpc<Req extends { rid: number; cmd: string }>(handle: (req: Req) => Promise<Reply<unknown>>): void {
  if (!process.send) throw new Error('this process must be started by the bench orchestrator (child_process.fork)');
  process.on('message', (raw) => {
    const req = raw as Req;
    handle(req)
      .catch((err: unknown): Reply<unknown> => ({ rid: req.rid, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }))
      .then((reply) => {
        process.send?.(reply);
        if (req.cmd === 'exit') process.disconnect();
      });
  });
  // The orchestrator going away must not leave orphaned load generators behind.
  process.on('disconnect', () => process.exit(0));
}
