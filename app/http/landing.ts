import type { Config } from '../ground/config.ts';
import { html, page, type Html } from './html.ts';

/** Pipedrive sends browsers and API calls to APP_URL, so anything but public HTTPS is for local trials only. */
function publicHttps(appUrl: string): boolean {
  const u = new URL(appUrl);
  return u.protocol === 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}

const tunnelNote = (appUrl: string, port: number): Html =>
  publicHttps(appUrl)
    ? html``
    : html`<p class="banner warn"><code>APP_URL</code> is <code>${appUrl}</code>: Pipedrive cannot reach that. For a real trial run a tunnel to this port
(for example <code>cloudflared tunnel --url http://localhost:${port}</code> or <code>ngrok http ${port}</code>), set <code>APP_URL</code> to the
<code>https://</code> address it prints, and restart.</p>`;

/** GET /: what this service is and where to go next. */
export function landingPage(config: Config): string {
  const configured = Boolean(config.pipedrive.clientId && config.pipedrive.clientSecret);
  const app = config.appUrl;
  return page(
    'Pipedrive messaging bridge',
    html`<h1>Pipedrive messaging bridge</h1>
<p>This service is a Pipedrive Messaging app extension: Pipedrive users chat from the Pipedrive inbox with contacts on
<strong>Airy Core</strong> or <strong>Alvaria Cloud</strong>. Pipedrive calls the endpoints listed in its manifest; an admin installs the app
with Pipedrive and connects channels on the admin page.</p>
${tunnelNote(app, config.port)}
<h2>Next steps</h2>
<ul>
<li><strong>Admin page</strong>: <a id="admin" href="/admin">${app}/admin</a>${configured ? ' (sign in with Pipedrive)' : html` (sign-in is not set up yet: <a href="/auth/pipedrive">how to set it up</a>)`}</li>
<li><strong>Manifest</strong> for Pipedrive's Developer Hub: <a id="manifest" href="/manifest.json"><code>${app}/manifest.json</code></a></li>
<li><strong>Health</strong>: <a href="/healthz"><code>/healthz</code></a></li>
<li><strong>Documentation</strong>: <code>README.md</code> (configuration, the manifest endpoints, delivery guarantees) and
<code>docs/DEPLOY.md</code> (HTTPS, PostgreSQL, object storage, backups, upgrades) in the project's source.</li>
</ul>`,
  );
}

/** GET /auth/pipedrive without Pipedrive credentials: the steps that make sign-in work, not an error. */
export function signInSetupPage(config: Config): string {
  const app = config.appUrl;
  return page(
    'Set up Pipedrive sign-in',
    html`<h1>Set up Pipedrive sign-in</h1>
<p class="banner warn">Signing in needs this service's Pipedrive app credentials, and <code>PIPEDRIVE_CLIENT_ID</code> /
<code>PIPEDRIVE_CLIENT_SECRET</code> are not set.</p>
<ol id="steps">
<li><strong>A public HTTPS address.</strong> Pipedrive calls this service and sends browsers back to it, so <code>APP_URL</code> must be public HTTPS
(now: <code>${app}</code>). On your own machine, run a tunnel to this port (for example <code>cloudflared tunnel --url http://localhost:${config.port}</code>
or <code>ngrok http ${config.port}</code>) and put the <code>https://</code> address it prints in <code>APP_URL</code>.</li>
<li><strong>An app in Pipedrive's Developer Hub</strong> (<a href="https://developers.pipedrive.com/docs/api/v1/Oauth" rel="noreferrer">developers.pipedrive.com</a>,
from a Pipedrive account: Tools and apps → Developer Hub): create an app, set its callback URL to
<code>${app}/auth/pipedrive/callback</code>, tick the <em>Messaging integration</em> scope, and upload the manifest from
<code>${app}/manifest.json</code> (or <code>npm run manifest -- --write</code>).</li>
<li><strong>The app's credentials</strong>: copy its client id and client secret into <code>.env</code> as <code>PIPEDRIVE_CLIENT_ID</code> and
<code>PIPEDRIVE_CLIENT_SECRET</code>, set <code>APP_SECRET</code> (<code>openssl rand -hex 32</code>), and restart the service.
This address then starts the sign-in.</li>
</ol>
${tunnelNote(app, config.port)}
<p>To look around without a Pipedrive account, <code>npm run demo</code> runs the whole story against local fakes.</p>
<p><a href="/">Back to the start page</a></p>`,
  );
}
