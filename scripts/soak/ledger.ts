import type { FakePipedrive, ReceivedMessage } from '../../fakes/pipedrive/server.ts';

/** The text every soak message carries, so what reaches Pipedrive can be traced to what was sent. */
export const marker = (key: string, seq: number) => `soak ${key}#${seq}`;
const MARKER = /^soak (\S+)#(\d+)$/;

export interface Verdict {
  sent: number;
  arrived: number;
  /** Distinct Pipedrive message ids among soak messages. */
  distinctIds: number;
  missing: string[];
  /** A sent message that reached Pipedrive under more than one id (stored twice). */
  duplicated: string[];
  /** Reached Pipedrive but was never acknowledged to a sender. */
  unexpected: string[];
  /** Per sender conversation: a later message reached Pipedrive before an earlier one. */
  orderViolations: string[];
  /** One sender conversation's messages landed in more than one Pipedrive conversation. */
  splitConversations: string[];
  /** Receive calls that repeated an id Pipedrive already held (harmless upserts, e.g. after a crash). */
  resentSameId: number;
}

/**
 * What was acknowledged to the senders, in order per conversation, against what the fake
 * Pipedrive received, in order of first arrival per id (receive upserts by id).
 */
export class Ledger {
  private readonly acked = new Map<string, number[]>();
  private readonly arrivals = new Map<string, Array<{ seq: number; pdConversation: string }>>();
  private readonly idsByMarker = new Map<string, Set<string>>();
  private resent = 0;
  ackedCount = 0;
  arrivedCount = 0;

  constructor(fake: FakePipedrive) {
    fake.events.on('message', (m) => this.observe(m));
  }

  ack(key: string, seq: number): void {
    const list = this.acked.get(key) ?? [];
    list.push(seq);
    this.acked.set(key, list);
    this.ackedCount++;
  }

  private observe(m: ReceivedMessage): void {
    const hit = MARKER.exec(m.message);
    if (!hit) return;
    if (m.versions > 1) {
      this.resent++;
      return;
    }
    const [, key, seqText] = hit;
    const text = m.message;
    const ids = this.idsByMarker.get(text) ?? new Set();
    ids.add(m.id);
    this.idsByMarker.set(text, ids);
    if (ids.size > 1) return;
    const list = this.arrivals.get(key!) ?? [];
    list.push({ seq: Number(seqText), pdConversation: m.conversation_id });
    this.arrivals.set(key!, list);
    this.arrivedCount++;
  }

  /** Every acknowledged message has reached Pipedrive. */
  complete(): boolean {
    return this.arrivedCount >= this.ackedCount && this.missing().length === 0;
  }

  private missing(): string[] {
    const out: string[] = [];
    for (const [key, seqs] of this.acked) for (const s of seqs) if (!this.idsByMarker.has(marker(key, s))) out.push(marker(key, s));
    return out;
  }

  verify(): Verdict {
    const sentMarkers = new Set<string>();
    for (const [key, seqs] of this.acked) for (const s of seqs) sentMarkers.add(marker(key, s));
    const orderViolations: string[] = [];
    const split: string[] = [];
    for (const [key, list] of this.arrivals) {
      for (let i = 1; i < list.length; i++) {
        if (list[i]!.seq < list[i - 1]!.seq) orderViolations.push(`${key}: #${list[i]!.seq} arrived after #${list[i - 1]!.seq}`);
      }
      if (new Set(list.map((a) => a.pdConversation)).size > 1) split.push(key);
    }
    // The send order is the ack order: a conversation's next message is sent only after the previous was acknowledged.
    for (const [key, seqs] of this.acked) {
      for (let i = 1; i < seqs.length; i++) if (seqs[i]! < seqs[i - 1]!) orderViolations.push(`${key}: senders acknowledged out of order (soak bug)`);
    }
    let distinct = 0;
    for (const ids of this.idsByMarker.values()) distinct += ids.size;
    return {
      sent: sentMarkers.size,
      arrived: this.idsByMarker.size,
      distinctIds: distinct,
      missing: this.missing(),
      duplicated: [...this.idsByMarker].filter(([, ids]) => ids.size > 1).map(([m, ids]) => `${m} (${[...ids].join(', ')})`),
      unexpected: [...this.idsByMarker.keys()].filter((m) => !sentMarkers.has(m)),
      orderViolations,
      splitConversations: split,
      resentSameId: this.resent,
    };
  }

  /** The Pipedrive ids of every soak message that arrived. */
  pipedriveIds(): string[] {
    return [...this.idsByMarker.values()].flatMap((s) => [...s]);
  }
}

/** The failures in a verdict, as lines (empty = every invariant holds). */
export function violations(v: Verdict): string[] {
  const out: string[] = [];
  const list = (what: string, items: string[]) => {
    if (items.length) out.push(`${items.length} ${what}: ${items.slice(0, 5).join('; ')}${items.length > 5 ? '; …' : ''}`);
  };
  list('missing in Pipedrive', v.missing);
  list('stored twice (several Pipedrive ids)', v.duplicated);
  list('unexpected in Pipedrive', v.unexpected);
  list('order violations', v.orderViolations);
  list('conversations split in Pipedrive', v.splitConversations);
  if (v.distinctIds !== v.sent) out.push(`distinct Pipedrive ids ${v.distinctIds} ≠ messages sent ${v.sent}`);
  return out;
}
