import type { Tx } from './db.ts';

export type { Installation, InstallationStatus } from '../ground/records.ts';
import type { Installation, InstallationStatus } from '../ground/records.ts';

interface InstallationRow {
  id: string;
  pd_company_id: number | string;
  pd_user_id: number | string;
  api_domain: string | null;
  user_name: string | null;
  user_email: string | null;
  company_name: string | null;
  company_domain: string | null;
  is_admin: boolean | number;
  icon_url: string | null;
  access_token_enc: string | null;
  refresh_token_enc: string | null;
  token_expires_at: number | string | null;
  status: InstallationStatus;
  last_error: string | null;
  session_generation: number | string | null;
  created_at: number | string;
  updated_at: number | string;
}

const toInstallation = (r: InstallationRow): Installation => ({
  id: r.id,
  companyId: Number(r.pd_company_id),
  userId: Number(r.pd_user_id),
  apiDomain: r.api_domain,
  userName: r.user_name,
  userEmail: r.user_email,
  companyName: r.company_name,
  companyDomain: r.company_domain,
  isAdmin: Boolean(r.is_admin),
  iconUrl: r.icon_url,
  accessTokenEnc: r.access_token_enc,
  refreshTokenEnc: r.refresh_token_enc,
  tokenExpiresAt: r.token_expires_at === null ? null : Number(r.token_expires_at),
  status: r.status,
  lastError: r.last_error,
  sessionGeneration: Number(r.session_generation ?? 0),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export interface InstallationProfile {
  companyId: number;
  userId: number;
  apiDomain: string;
  userName: string;
  userEmail: string | null;
  companyName: string | null;
  companyDomain: string | null;
  isAdmin: boolean;
  iconUrl: string | null;
}

export interface SealedTokens {
  accessTokenEnc: string;
  refreshTokenEnc: string;
  expiresAt: number;
}

/**
 * Inserts or refreshes the installation of (company, user): a reinstall keeps the id (so its
 * channels stay linked) and replaces profile, tokens and status.
 */
export async function upsertInstallation(db: Tx, id: string, p: InstallationProfile, t: SealedTokens, now: number): Promise<Installation> {
  await db('installations')
    .insert({
      id,
      pd_company_id: p.companyId,
      pd_user_id: p.userId,
      api_domain: p.apiDomain,
      user_name: p.userName,
      user_email: p.userEmail,
      company_name: p.companyName,
      company_domain: p.companyDomain,
      is_admin: p.isAdmin,
      icon_url: p.iconUrl,
      access_token_enc: t.accessTokenEnc,
      refresh_token_enc: t.refreshTokenEnc,
      token_expires_at: t.expiresAt,
      status: 'active',
      last_error: null,
      created_at: now,
      updated_at: now,
    })
    .onConflict(['pd_company_id', 'pd_user_id'])
    .merge([
      'api_domain',
      'user_name',
      'user_email',
      'company_name',
      'company_domain',
      'is_admin',
      'icon_url',
      'access_token_enc',
      'refresh_token_enc',
      'token_expires_at',
      'status',
      'last_error',
      'updated_at',
    ]);
  return (await findInstallationByUser(db, p.companyId, p.userId))!;
}

export async function findInstallation(db: Tx, id: string): Promise<Installation | undefined> {
  const row = await db<InstallationRow>('installations').where({ id }).first();
  return row && toInstallation(row);
}

export async function findInstallationByUser(db: Tx, companyId: number, userId: number): Promise<Installation | undefined> {
  const row = await db<InstallationRow>('installations').where({ pd_company_id: companyId, pd_user_id: userId }).first();
  return row && toInstallation(row);
}

/** Installations of a company that can still chat (standing conversations are made for these users). */
export async function listCompanyInstallations(db: Tx, companyId: number): Promise<Installation[]> {
  const rows = await db<InstallationRow>('installations').where({ pd_company_id: companyId }).whereNot({ status: 'uninstalled' }).orderBy('created_at');
  return rows.map(toInstallation);
}

/** Stores refreshed tokens; `refreshTokenEnc` null keeps the stored one (Pipedrive returns the same token). */
export async function saveTokens(db: Tx, id: string, t: { accessTokenEnc: string; refreshTokenEnc: string | null; expiresAt: number; apiDomain: string | null }, now: number): Promise<void> {
  const row: Record<string, unknown> = { access_token_enc: t.accessTokenEnc, token_expires_at: t.expiresAt, updated_at: now };
  if (t.refreshTokenEnc) row.refresh_token_enc = t.refreshTokenEnc;
  if (t.apiDomain) row.api_domain = t.apiDomain;
  await db('installations').where({ id }).whereNot({ status: 'uninstalled' }).update(row);
}

export async function setInstallationStatus(db: Tx, id: string, status: InstallationStatus, lastError: string | null, now: number): Promise<void> {
  await db('installations').where({ id }).update({ status, last_error: lastError, updated_at: now });
}

/** Uninstall: the tokens are erased and every session ends; the row stays (channels reference it for history). */
export async function purgeTokens(db: Tx, id: string, now: number): Promise<void> {
  await db('installations')
    .where({ id })
    .update({ access_token_enc: null, refresh_token_enc: null, token_expires_at: null, status: 'uninstalled', updated_at: now, session_generation: db.raw('session_generation + 1') });
}

/** Ends every session of the installation (sign-out, reinstall); answers the new generation. */
export async function bumpSessionGeneration(db: Tx, id: string): Promise<number> {
  await db('installations')
    .where({ id })
    .update({ session_generation: db.raw('session_generation + 1') });
  const row = await db<InstallationRow>('installations').select('session_generation').where({ id }).first();
  return Number(row?.session_generation ?? 0);
}

/** Ids of the live channels registered by any installation of a company. */
export async function listCompanyChannelIds(db: Tx, companyId: number): Promise<string[]> {
  const rows: Array<{ id: string }> = await db('channels')
    .select('channels.id')
    .join('installations', 'installations.id', 'channels.installation_id')
    .where('installations.pd_company_id', companyId)
    .whereNot('channels.status', 'deleted')
    .orderBy('channels.created_at');
  return rows.map((r) => r.id);
}
