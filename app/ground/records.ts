/** Domain records as the rest of the app sees them (booleans and numbers normalised by the store). */

export type ChannelStatus = 'active' | 'deleted' | 'error';
export type ConversationStatus = 'open' | 'closed';
export type ParticipantRole = 'source_user' | 'end_user';
export type MessageStatus = 'sent' | 'delivered' | 'read' | 'failed';
/** Which side a message came from: Pipedrive (postMessage), the platform, or the bridge itself. */
export type MessageOrigin = 'pipedrive' | 'platform' | 'system';

export interface Channel {
  id: string;
  providerChannelId: string;
  installationId: string | null;
  platform: string;
  name: string;
  avatarUrl: string | null;
  configEnc: string;
  stateEnc: string | null;
  status: ChannelStatus;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface Conversation {
  pk: number;
  id: string;
  channelId: string;
  status: ConversationStatus;
  seen: boolean;
  link: string;
  lastSeq: number;
  platformRef: string | null;
  platformState: string | null;
  sourceUserKey: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface Participant {
  conversationPk: number;
  id: string;
  role: ParticipantRole;
  name: string;
  avatarUrl: string | null;
  email: string | null;
}

export interface Attachment {
  id: string;
  messageSeq: number;
  name: string;
  mimeType: string;
  size: number | null;
  storageKey: string | null;
  remoteUrl: string | null;
}

export interface Message {
  seq: number;
  id: string;
  conversationPk: number;
  channelId: string;
  platformMessageId: string | null;
  origin: MessageOrigin;
  senderId: string;
  text: string;
  status: MessageStatus;
  error: string | null;
  createdAt: number;
  updatedAt: number;
  attachments: Attachment[];
}

/** Alvaria sessions (a platform-only table): provisional until NEW_SESSION, live until SESSION_END or its age. */
export type AlvariaSessionStatus = 'provisional' | 'live' | 'failed' | 'ended';

export interface AlvariaSession {
  pk: number;
  channelId: string;
  sessionId: string;
  conversationId: string | null;
  status: AlvariaSessionStatus;
  statusMessage: string | null;
  failThroughSeq: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Template {
  id: string;
  name: string;
  content: string;
  language: string;
}

export type InstallationStatus = 'active' | 'needs_reinstall' | 'uninstalled';

/** One Pipedrive user's authorization of this app (a (company, user) pair); tokens stay sealed here. */
export interface Installation {
  id: string;
  companyId: number;
  userId: number;
  apiDomain: string | null;
  userName: string | null;
  userEmail: string | null;
  companyName: string | null;
  companyDomain: string | null;
  isAdmin: boolean;
  iconUrl: string | null;
  accessTokenEnc: string | null;
  refreshTokenEnc: string | null;
  tokenExpiresAt: number | null;
  status: InstallationStatus;
  lastError: string | null;
  /** Sealed into session cookies; raising it ends every session issued before. */
  sessionGeneration: number;
  createdAt: number;
  updatedAt: number;
}

/** A user of an installed company who did not install the app themselves, as Pipedrive described them. */
export interface WorkspaceUser {
  companyId: number;
  userId: number;
  name: string;
  email: string | null;
  isAdmin: boolean;
  updatedAt: number;
}

/** The Pipedrive records a conversation can be started from. */
export type RecordType = 'deal' | 'person' | 'organization';

/** Who a verified iframe token speaks for. */
export interface UiClaims {
  userId: number;
  companyId: number;
}

/** What every /ui/api handler knows about its caller (ctx.state.ui). */
export interface UiIdentity extends UiClaims {
  /** The installation whose Pipedrive token serves this user: their own, else an admin's of the company. */
  installationId: string;
  isAdmin: boolean;
  userName: string;
  userEmail: string | null;
  companyName: string | null;
  companyDomain: string | null;
}
