import { EventEmitter } from 'node:events';

/**
 * A clock shared by the fake and the adapter under test, so 4-hour windows (session age,
 * callback retries) pass in one call. Starts at the real time; only `advance` moves it on
 * beyond real time.
 */
export class FakeClock extends EventEmitter<{ advance: [number] }> {
  private offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
    this.emit('advance', this.now());
  }
}
