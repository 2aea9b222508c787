/**
 * The OAuth client the fake Pipedrive knows by default, and the basic-auth header Pipedrive
 * sends with its manifest callbacks. Tests, the demo and the soak start the app with these
 * so that the fake and the app agree without configuration.
 */
export const CLIENT_ID = 'test-client-id';
export const CLIENT_SECRET = 'test-client-secret';
export const BASIC = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
