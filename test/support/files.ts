import assert from 'node:assert/strict';
import type { Channel, Conversation } from '../../app/ground/records.ts';
import type { TestBridge } from './harness.ts';

export interface Upload {
  name: string;
  type: string;
  data: Uint8Array | string;
}

/** Posts files through postMessage (as Pipedrive does) and answers their signed URLs by name. */
export async function uploadFiles(b: TestBridge, channel: Channel, conv: Conversation, files: Upload[]): Promise<Map<string, string>> {
  const fd = new FormData();
  fd.append('conversationId', conv.id);
  fd.append('message', 'files');
  for (const f of files) fd.append('files', new Blob([f.data], { type: f.type }), f.name);
  const posted = await b.call(`/api/channels/${channel.providerChannelId}/messages`, { method: 'POST', body: fd });
  assert.equal(posted.status, 200, await posted.clone().text());
  const { data } = (await posted.json()) as { data: { id: string } };
  const msg = (await (await b.call(`/api/channels/${channel.providerChannelId}/messages/${data.id}`)).json()) as { attachments: Array<{ name: string; url: string }> };
  return new Map(msg.attachments.map((a) => [a.name, a.url]));
}
