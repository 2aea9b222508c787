import type { ReceivedMessage } from '../../fakes/pipedrive/server.ts';
import { SPEC_AVAILABLE } from '../../fakes/pipedrive/contract.ts';
import type { Printer } from './printer.ts';
import type { DemoChannel, Story } from './setup-steps.ts';
import { pipedriveGets, type World } from './world.ts';

const short = (text: string, max = 48) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** A sender's name as the app tells Pipedrive (getSenderById): Alvaria's end_user takes the agent's alias. */
async function senderNames(w: World, messages: ReceivedMessage[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const m of messages) {
    const key = `${m.channel_id}/${m.sender_id}`;
    if (names.has(key)) continue;
    const sender = await pipedriveGets<{ name: string }>(w, `/${encodeURIComponent(m.channel_id)}/senders/${encodeURIComponent(m.sender_id)}`).catch(() => ({ name: m.sender_id }));
    names.set(key, sender.name);
  }
  return names;
}

/** What the fake Pipedrive holds at the end: per channel and conversation, each message with the statuses it went through. */
export async function summarize(w: World, p: Printer, s: Story): Promise<void> {
  p.title('Summary: what Pipedrive holds now');
  p.line("Every message the app pushed to Pipedrive's receive endpoint, with each status it was pushed with.");
  p.line("A Pipedrive user's own message appears once its status changes (delivered, read, failed).");
  const channels = [s.airy, s.alvaria].filter((c): c is DemoChannel => !!c);
  const messages = [...w.pipedrive.state.messages.values()];
  const names = await senderNames(w, messages);
  let total = 0;
  for (const ch of channels) {
    const mine = messages.filter((m) => m.channel_id === ch.providerChannelId);
    const conversations = [...new Set(mine.map((m) => m.conversation_id))];
    p.line();
    p.line(`${ch.name} (${ch.providerChannelId}): ${conversations.length} conversation(s), ${mine.length} message(s)`);
    for (const conv of conversations) {
      const inConv = mine.filter((m) => m.conversation_id === conv);
      p.line(`  conversation ${conv}: ${inConv.length} message(s)`);
      for (const m of inConv) {
        const who = short(names.get(`${m.channel_id}/${m.sender_id}`) ?? m.sender_id, 12).padEnd(12);
        p.line(`    ${m.id}  ${who} "${short(m.message)}"  [${m.statuses.join(' → ')}]`);
      }
    }
    total += mine.length;
  }
  p.line();
  p.line(`Total: ${channels.length} channel(s), ${total} message(s) received by Pipedrive`);
  const problems = w.pipedrive.state.problems;
  if (problems.length) {
    p.warn(`The fake Pipedrive flagged ${problems.length} contract problem(s):`);
    for (const x of problems) p.line(`     - ${short(x, 200)}`);
  } else if (SPEC_AVAILABLE) {
    p.line("Contract checks: the app's answers and messages matched Pipedrive's contract (0 problems)");
  } else {
    // Without Pipedrive's OpenAPI file beside the checkout the fake validates no answer against it: claim only what ran.
    p.line("Contract checks: the fake Pipedrive's own checks found 0 problems; the answers were not validated against Pipedrive's OpenAPI file (it is not beside this checkout)");
  }
}

export function howToLook(w: World, p: Printer): void {
  const app = w.bridge.config.appUrl;
  p.title('Look around');
  p.line(`Admin page:   ${app}/admin`);
  p.line(`Sign in:      open ${app}/auth/pipedrive in a browser; the fake Pipedrive OAuth approves at once and lands on /admin`);
  p.line(`Also:         ${app}/healthz   ${app}/metrics   ${app}/manifest.json`);
  p.line(`Inside Pipedrive (the fake Pipedrive web app framing the workspace pages, as the signed-in admin):`);
  p.line(`  window:     ${w.pipedrive.host.url('window')}`);
  p.line(`  deal panel: ${w.pipedrive.host.url('panel', { resource: 'deal', selectedIds: '42' })}`);
  p.line(`  settings:   ${w.pipedrive.host.url('settings')}`);
  p.line(`  all pages:  ${w.pipedrive.url}/host`);
  p.line(`Fakes:        Pipedrive ${w.pipedrive.url}  Airy ${w.airy.url}  Alvaria ${w.alvaria.url}`);
  p.line(`Database:     ${w.dir}/demo.sqlite (temporary, removed on exit)`);
}

/** What a person needs to connect a channel on the admin page by hand, against the running fakes. */
export function connectByHand(w: World, p: Printer): void {
  const alvaria = w.alvaria.channelConfig();
  p.title('Connect a channel by hand');
  p.line(`Sign in as above, then use "Connect a channel" on ${w.bridge.config.appUrl}/admin with these values`);
  p.line('(the fakes are the platforms; the app calls them from this machine):');
  p.line();
  p.line('  Airy Core');
  p.line(`    API URL (api_url)              ${w.airy.url}`);
  p.line(`    System token (system_token)    ${w.airy.systemToken}`);
  p.line();
  p.line('  Alvaria Cloud');
  p.line(`    API URL (api_url)              ${alvaria.api_url}`);
  p.line(`    Token URL (token_url)          ${alvaria.token_url}`);
  p.line(`    Org id (org_id)                ${alvaria.org_id}`);
  p.line(`    Client id (client_id)          ${alvaria.client_id}`);
  p.line(`    Client secret (client_secret)  ${alvaria.client_secret}`);
  p.line(`    API key (api_key)              ${alvaria.api_key}`);
  p.line(`    Work type id (work_type_id)    ${alvaria.work_type_id}`);
  p.line('    Callback public key (callback_public_keys), PEM:');
  for (const l of String(alvaria.callback_public_keys[0] ?? '')
    .trim()
    .split('\n'))
    p.line(`      ${l}`);
}
