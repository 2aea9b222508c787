import { EventEmitter } from 'node:events';

/** A Pipedrive user who can approve the app at the fake's authorize screen. */
export interface FakeUser {
  id: number;
  name: string;
  email: string;
  company_id: number;
  company_name: string;
  company_domain: string;
  is_admin: boolean;
  icon_url: string | null;
}

export interface FakeChannel {
  /** Pipedrive's own UUID (never used in public endpoints: they take provider_channel_id). */
  id: string;
  provider_channel_id: string;
  name: string;
  avatar_url: string | null;
  provider_type: 'facebook' | 'whatsapp' | 'other';
  template_support: boolean;
  pd_company_id: number;
  pd_user_id: number;
  created_at: string;
  /** Conversations Pipedrive learned through getConversations / getConversationById. */
  conversations: Map<string, Record<string, unknown>>;
  templates: unknown[] | null;
}

export interface ReceivedMessage {
  id: string;
  channel_id: string;
  sender_id: string;
  conversation_id: string;
  message: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  created_at: string;
  reply_by?: string;
  conversation_link?: string;
  attachments: Array<Record<string, unknown>>;
  /** How many times this id was posted (receive upserts by id). */
  versions: number;
  /** Every status it was posted with, in order. */
  statuses: string[];
}

export interface SyncRecord {
  providerChannelId: string;
  ok: boolean;
  conversations: Array<Record<string, unknown>>;
  templates: unknown[] | null;
  error?: string;
}

/** A deal, person or organization (the v2 API's fields a panel needs). */
export interface FakeRecord {
  type: 'deal' | 'person' | 'organization';
  id: number;
  /** `title` for deals, `name` for persons and organizations. */
  title: string;
  company_id: number;
}

/** A v1 note (the fields the fake keeps; `versions` counts POST + PUTs). */
export interface FakeNote {
  id: number;
  content: string;
  user_id: number;
  company_id: number;
  deal_id: number | null;
  person_id: number | null;
  org_id: number | null;
  lead_id: string | null;
  add_time: string;
  update_time: string;
  versions: number;
}

export interface FakeState {
  /** v1 notes by id. */
  notes: Map<number, FakeNote>;
  nextNoteId: number;
  users: Map<number, FakeUser>;
  /** Keyed by `${type}:${id}`. */
  records: Map<string, FakeRecord>;
  codes: Map<string, { userId: number; redirectUri: string; expiresAt: number; used: boolean }>;
  accessTokens: Map<string, { userId: number; expiresAt: number; refresh: string; revoked: boolean }>;
  refreshTokens: Map<string, { userId: number; lapsed: boolean }>;
  /** Keyed by provider_channel_id. */
  channels: Map<string, FakeChannel>;
  deletedChannels: string[];
  deletedConversations: Array<{ channelId: string; conversationId: string }>;
  /** Keyed by message id (the upsert key). */
  messages: Map<string, ReceivedMessage>;
  syncs: SyncRecord[];
  /** Contract violations by the app (bad callback answers, senders that are not participants...). */
  problems: string[];
  counters: { exchanges: number; refreshes: number; revokes: number; receives: number; rateLimited: number; dailyLimited: number; unauthorized: number; channelsRemovedAnswers: number };
  /** The app's manifest endpoints, read from its /manifest.json by linkApp(). */
  manifest: Record<string, string> | null;
}

export interface FakeEvents {
  message: [ReceivedMessage];
  sync: [SyncRecord];
  'conversation-fetched': [{ providerChannelId: string; conversationId: string; ok: boolean }];
  'channel-added': [FakeChannel];
  'channel-deleted': [string];
  refresh: [number];
  problem: [string];
  note: [FakeNote, 'add' | 'update'];
  /** A message the app's iframe sent the fake host page through the SDK (host.ts). */
  sdk: [SdkRecord];
}

export function newState(): FakeState {
  return {
    notes: new Map(),
    nextNoteId: 1,
    users: new Map(),
    records: new Map(),
    codes: new Map(),
    accessTokens: new Map(),
    refreshTokens: new Map(),
    channels: new Map(),
    deletedChannels: [],
    deletedConversations: [],
    messages: new Map(),
    syncs: [],
    problems: [],
    counters: { exchanges: 0, refreshes: 0, revokes: 0, receives: 0, rateLimited: 0, dailyLimited: 0, unauthorized: 0, channelsRemovedAnswers: 0 },
    manifest: null,
  };
}

export class FakeEmitter extends EventEmitter<FakeEvents> {}

/** Pipedrive's API error envelope: `success: false`, a message, a hint and a code. */
export const apiError = (error: string, code: string, info = '') => ({ success: false, error, error_info: info, additional_data: { code } });

/** The fake host page's surfaces (host.ts). */
export type HostSurface = 'window' | 'panel' | 'settings';

/** A message the app's iframe sent the fake host page through the SDK. */
export interface SdkRecord {
  surface: HostSurface;
  type: 'command' | 'listener' | 'track' | 'timeout';
  command?: string;
  event?: string;
  args?: any;
  at: number;
}
