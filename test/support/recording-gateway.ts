import { EventEmitter } from 'node:events';
import type { Channel } from '../../app/inbox/types.ts';
import type { PipedriveGateway, ReceiveMessageBody } from '../../app/pipedrive/receive-job.ts';

/** A Pipedrive gateway that keeps what the bridge would send to Pipedrive's receive endpoint. */
export class RecordingGateway extends EventEmitter implements PipedriveGateway {
  readonly bodies: ReceiveMessageBody[] = [];
  async receiveMessage(_channel: Channel, body: ReceiveMessageBody): Promise<void> {
    this.bodies.push(body);
    this.emit('receive', body);
  }
}
