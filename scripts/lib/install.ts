import type { Bridge } from '../../app/bridge.ts';
import { findInstallationByUser, type Installation } from '../../app/store/installations.ts';
import type { FakePipedrive, FakeUser } from '../../fakes/pipedrive/server.ts';

// Drives the app through the fake Pipedrive, as a browser and an admin would. Shared by the tests,
// the demo and the soak; it lives with the scripts because it reads the app's store, which the
// fakes themselves never touch.

export interface Installed {
  installation: Installation;
  /** `pdb_session=…`, ready for a Cookie header. */
  cookie: string;
  user: FakeUser;
}

const cookieOf = (res: Response, name: string): string => {
  const c = res.headers.getSetCookie().find((v) => v.startsWith(`${name}=`));
  if (!c) throw new Error(`no ${name} cookie in ${res.status} ${res.url}`);
  return c.split(';')[0]!;
};

/**
 * Runs the whole OAuth install as a browser would: /auth/pipedrive → the fake's authorize
 * (auto-approved by `userId`, default the fake's current user) → the app's callback with the
 * state cookie. Also links the fake to the app so Pipedrive's callbacks reach it.
 */
export async function installVia(bridge: Pick<Bridge, 'url' | 'db'>, fake: FakePipedrive, opts: { userId?: number } = {}): Promise<Installed> {
  await fake.linkApp(bridge.url);
  if (opts.userId !== undefined) fake.setUser(opts.userId);
  const start = await fetch(`${bridge.url}/auth/pipedrive`, { redirect: 'manual' });
  if (start.status !== 302) throw new Error(`/auth/pipedrive answered ${start.status}`);
  const stateCookie = cookieOf(start, 'pdb_oauth_state');
  const approved = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  if (approved.status !== 302) throw new Error(`fake authorize answered ${approved.status}: ${await approved.text()}`);
  const callback = await fetch(approved.headers.get('location')!, { redirect: 'manual', headers: { cookie: stateCookie } });
  // The callback answers a page that navigates to /admin (a same-site hop for the Strict session cookie).
  const landing = await callback.text();
  if (callback.status !== 200 || !landing.includes('url=/admin')) throw new Error(`callback answered ${callback.status}: ${landing.slice(0, 500)}`);
  const cookie = cookieOf(callback, 'pdb_session');
  const code = new URL(approved.headers.get('location')!).searchParams.get('code');
  const userId = [...fake.state.codes.entries()].find(([c]) => c === code)![1].userId;
  const user = fake.state.users.get(userId)!;
  const installation = await findInstallationByUser(bridge.db, user.company_id, user.id);
  if (!installation) throw new Error('the installation was not stored');
  return { installation, cookie, user };
}

/** Calls the admin JSON API with a session cookie (JSON bodies get the JSON content type). */
export function adminCall(bridge: Pick<Bridge, 'url'>, cookie: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${bridge.url}/admin/api${path}`, {
    method,
    headers: { cookie, ...(body !== undefined || method !== 'GET' ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
