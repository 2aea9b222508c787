export { FakeAiry, type FakeAiryOptions } from './server.ts';
export type { ActionCall } from './actions.ts';
export type { FakeMessage } from './model.ts';
export { fakeAiryUuid } from './uuid.ts';
