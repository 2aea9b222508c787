import type { Channel } from '../../ground/records.ts';
import type { PipedriveClient } from '../../pipedrive/client.ts';
import type { Db } from '../../store/db.ts';
import { isChannelsApiRemoved, PipedriveApiError } from '../../pipedrive/api-errors.ts';
import { channelsApiRemoved, surfaceOf, usesChannelsApi } from '../../domain/surface.ts';
import { unlinkedGateway, type PipedriveGateway, type ReceiveMessageBody } from './receive-job.ts';

/**
 * The real gateway: delivers through the channel's installation. A channel without one keeps
 * the unlinked behaviour (dead letter naming the reason). Pipedrive's failures carry their
 * classification (429 and 5xx retried honouring Retry-After), which the outbox reads.
 */
export function installationGateway(client: PipedriveClient, db?: Db): PipedriveGateway {
  return {
    async receiveMessage(channel: Channel, body: ReceiveMessageBody, opts = {}) {
      if (!channel.installationId) return unlinkedGateway.receiveMessage(channel, body);
      // On the workspace surface nobody reads the Messaging inbox, and Pipedrive removed its API:
      // nothing is sent there, so nothing is retried or dead-lettered against it.
      const { surface, ...call } = opts;
      if (db && !usesChannelsApi(surface ?? (await surfaceOf(db, channel.installationId)).surface)) return;
      try {
        // From a worker slot: a pacing wait gives the slot back (DeferError) instead of sleeping in it.
        await client.receiveMessage(channel.installationId, body, { ...call, inWorker: true });
      } catch (err) {
        if (db && isChannelsApiRemoved(err, true)) {
          await channelsApiRemoved(db, channel.installationId, (err as PipedriveApiError).status);
          return;
        }
        throw err;
      }
    },
  };
}
