import type { SyncRecord } from '../../fakes/pipedrive/server.ts';
import { adminCall, installVia } from '../lib/install.ts';
import type { Printer } from './printer.ts';
import { listening, nextEvent, STEP_TIMEOUT_MS, type World } from './world.ts';

/** A channel as the demo follows it: ours, Pipedrive's, and the standing conversation once synced. */
export interface DemoChannel {
  id: string;
  providerChannelId: string;
  name: string;
  sync: Promise<SyncRecord>;
  conversationId?: string;
}

/** What the story learns as it goes, for the later steps and the summary. */
export interface Story {
  cookie?: string;
  userName?: string;
  airy?: DemoChannel;
  alvaria?: DemoChannel;
}

export async function install(w: World, p: Printer, s: Story): Promise<void> {
  p.step('Install the app in Pipedrive (OAuth)');
  p.say("A Pipedrive admin opens the app's /auth/pipedrive: it redirects to Pipedrive's authorize page");
  p.say('(the fake approves at once), Pipedrive sends the browser back to /auth/pipedrive/callback with a code');
  const { installation, cookie, user } = await installVia(w.bridge, w.pipedrive);
  s.cookie = cookie;
  s.userName = user.name;
  p.ok(`The app exchanged the code for tokens (${w.pipedrive.state.counters.exchanges} exchange) and stored them encrypted`);
  p.ok(`Installed for ${user.name} <${user.email}> of ${user.company_name} (company ${user.company_id}, installation ${installation.id})`);
  p.ok('The callback set a session cookie and sent the browser to /admin');
}

/** POST /admin/api/channels as the admin page does; answers the created channel with its URLs. */
async function connect(w: World, s: Story, body: Record<string, unknown>): Promise<{ id: string; provider_channel_id: string; urls: Record<string, string> }> {
  if (!s.cookie) throw new Error('not installed');
  const res = await adminCall(w.bridge, s.cookie, 'POST', '/channels', body);
  const json = (await res.json()) as { channel?: { id: string; provider_channel_id: string; urls: Record<string, string> }; error?: { message: string } };
  if (res.status !== 201 || !json.channel) throw new Error(`connect answered ${res.status}: ${json.error?.message ?? JSON.stringify(json)}`);
  return json.channel;
}

/** Pipedrive's initial sync of a channel: already recorded, or still to come. */
function syncOf(w: World, providerChannelId: string): Promise<SyncRecord> {
  const done = w.pipedrive.state.syncs.find((r) => r.providerChannelId === providerChannelId);
  return done ? Promise.resolve(done) : w.pipedrive.next('sync', (r) => r.providerChannelId === providerChannelId, STEP_TIMEOUT_MS);
}

export async function connectAiry(w: World, p: Printer, s: Story): Promise<void> {
  p.step('Connect an Airy Core channel (admin page → POST /admin/api/channels)');
  p.say(`The admin enters Airy's API URL (${w.airy.url}) and its system token`);
  const subscribed = w.airy.broker.subscriberCount > 0 ? Promise.resolve() : listening(nextEvent(w.airy.broker, 'subscribed', "the app's subscription to Airy's WebSocket"));
  const name = 'Airy support';
  const ch = await connect(w, s, { provider: 'airy', name, config: { api_url: w.airy.url, system_token: w.airy.systemToken } });
  s.airy = { id: ch.id, providerChannelId: ch.provider_channel_id, name, sync: listening(syncOf(w, ch.provider_channel_id)) };
  const source = [...w.airy.model.sources.values()].find((x) => x.actionEndpoint?.includes(ch.id));
  p.ok(`Airy: the app created the source "${source?.id}" with its action endpoint ${source?.actionEndpoint}`);
  p.ok(`Airy: ...and a channel on it (${w.airy.model.channels.size} channel in Airy)`);
  p.ok(`Pipedrive: the app registered the channel "${name}" (provider_channel_id ${ch.provider_channel_id})`);
  await subscribed;
  p.ok("The app subscribed to Airy's WebSocket (STOMP) for delivery and read receipts");
}

export async function connectAlvaria(w: World, p: Printer, s: Story): Promise<void> {
  p.step('Connect an Alvaria Cloud channel (admin page → POST /admin/api/channels)');
  p.say(`The admin enters the org id, OAuth client, API key, work type and Alvaria's callback signing key`);
  const tokensBefore = w.alvaria.tokenCalls;
  const name = 'Alvaria service desk';
  const ch = await connect(w, s, { provider: 'alvaria', name, config: w.alvaria.channelConfig() });
  s.alvaria = { id: ch.id, providerChannelId: ch.provider_channel_id, name, sync: listening(syncOf(w, ch.provider_channel_id)) };
  p.ok(`Alvaria: the app checked the credentials by getting a token (${w.alvaria.tokenCalls - tokensBefore} token call)`);
  p.ok(`Pipedrive: the app registered the channel "${name}" (provider_channel_id ${ch.provider_channel_id})`);
  const callbackUrl = ch.urls.callback_url;
  if (!callbackUrl) throw new Error('the connect answer has no callback_url for Alvaria');
  w.alvaria.deliveries.callbackUrl = callbackUrl;
  p.ok(`The admin page shows the callback URL to hand to Alvaria Customer Care: ${callbackUrl}`);
}

export async function initialSync(w: World, p: Printer, s: Story): Promise<void> {
  p.step("Pipedrive's initial sync (getConversations right after each addChannel)");
  p.say('Pipedrive cannot open a conversation, so the app keeps one standing conversation per channel and Pipedrive user');
  for (const ch of [s.airy, s.alvaria]) {
    if (!ch) throw new Error('a channel is missing');
    const rec = await ch.sync;
    if (!rec.ok) throw new Error(`the sync of ${ch.name} failed: ${rec.error}`);
    const conv = rec.conversations[0] as { id: string; participants: Array<{ name: string; role: string }> } | undefined;
    if (!conv) throw new Error(`the sync of ${ch.name} returned no conversation`);
    ch.conversationId = conv.id;
    const who = conv.participants.map((x) => `${x.name} as ${x.role}`).join(' and ');
    p.ok(`${ch.name}: Pipedrive fetched ${rec.conversations.length} conversation, ${conv.id}, between ${who}`);
  }
}
