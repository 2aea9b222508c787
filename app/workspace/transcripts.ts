import type { Tx } from '../store/db.ts';

/** Per conversation about a record: when its transcript was last saved, and whether lines wait. */
export async function transcriptStates(_db: Tx, _pks: number[]): Promise<Map<number, { savedAt: number | null; pending: boolean }>> {
  return new Map();
}
