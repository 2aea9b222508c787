/**
 * `npm run demo`: the whole story on one machine, no accounts, no network. The app runs on a
 * temporary sqlite database next to the project's own fakes of Pipedrive, Airy Core and
 * Alvaria Cloud (fakes/, loopback only); each step is told as it happens, then a summary
 * and the admin page URL. It keeps running until Ctrl-C.
 *
 *   DEMO_EXIT=1 or --once   exit after the summary: 0 when every step worked, 1 otherwise
 *   DEMO_PORT               the app's port (default: a free one)
 *   DEMO_LOG_LEVEL          the app's pino logs on stdout (default silent)
 *   DEMO_HOST               where a browser reaches it (default 127.0.0.1; 0.0.0.0 for another machine)
 */
import { airyUserReplies, alvariaAgentReplies, alvariaSessionEnds, readReceipts, sendToAiry, sendToAlvaria, type Talk } from './demo/conversation-steps.ts';
import { Printer } from './demo/printer.ts';
import { connectAiry, connectAlvaria, initialSync, install, type Story } from './demo/setup-steps.ts';
import { connectByHand, howToLook, summarize } from './demo/summary.ts';
import { demoHost, startWorld, type World } from './demo/world.ts';
import { dealPanel, theWindow, transcriptNote } from './demo/workspace-steps.ts';

type Step = (w: World, p: Printer, s: Story, t: Talk) => Promise<void>;
const STORY: Step[] = [
  install,
  connectAiry,
  connectAlvaria,
  initialSync,
  sendToAiry,
  sendToAlvaria,
  airyUserReplies,
  alvariaAgentReplies,
  readReceipts,
  alvariaSessionEnds,
  theWindow,
  dealPanel,
  transcriptNote,
];

const once = process.argv.includes('--once') || ['1', 'true', 'yes'].includes(process.env.DEMO_EXIT ?? '');
const port = process.env.DEMO_PORT ? Number(process.env.DEMO_PORT) : undefined;
const p = new Printer();
let world: World | undefined;

let stopping = false;
let finished = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await world?.stop().catch((err: unknown) => console.error('stopping failed:', err));
  }
  process.exit(code);
}
/** After the story, a signal is the normal end; during it, the story was cut short (128 + SIGINT). */
function onSignal(why: string): void {
  p.line(`\n${why}: stopping the app and the fakes…`);
  void stop(!finished ? 130 : p.failures ? 1 : 0);
}
process.once('SIGINT', () => onSignal('Ctrl-C'));
process.once('SIGTERM', () => onSignal('SIGTERM'));

/** Every step in order; after a failure the rest is skipped, since each builds on the one before. */
async function play(w: World): Promise<void> {
  const story: Story = {};
  const talk: Talk = {};
  for (const [i, step] of STORY.entries()) {
    try {
      await step(w, p, story, talk);
    } catch (err) {
      p.fail(`Step failed: ${err instanceof Error ? err.message : String(err)}`);
      const skipped = STORY.slice(i + 1).map((s) => s.name);
      if (skipped.length) p.say(`Skipped: ${skipped.join(', ')}`);
      break;
    }
  }
  await summarize(w, p, story);
}

p.title('Pipedrive Messaging bridge: the demo');
p.line('The app runs for real (HTTP server, sqlite, outbox worker); Pipedrive, Airy Core and Alvaria');
p.line("Cloud are the project's own fakes on 127.0.0.1 (fakes/). Nothing leaves this machine.");
try {
  world = await startWorld({ ...(port !== undefined ? { port } : {}), logLevel: process.env.DEMO_LOG_LEVEL ?? 'silent', host: demoHost(process.env.DEMO_HOST) });
} catch (err) {
  p.fail(`Could not start: ${err instanceof Error ? err.message : String(err)}`);
  await stop(1);
}
const w = world!;
p.line(`The app listens on ${w.bridge.url} (sqlite in ${w.dir})`);
await play(w);
howToLook(w, p);
connectByHand(w, p);
finished = true;
p.line();
if (p.failures) p.fail(`${p.failures} step(s) failed`);
else p.ok('Every step worked');
if (once) await stop(p.failures ? 1 : 0);
p.line('\nStill running, so you can look around. Press Ctrl-C to stop.');
