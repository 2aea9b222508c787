import { json, type Req, type Res } from './http.ts';
import { apiError, type FakeEmitter, type FakeNote, type FakeState, type FakeUser } from './state.ts';

/** "maximum note size is approximately 100,000 characters (or 100KB per note)" (v1 Notes docs). */
export const NOTE_MAX = 100_000;

const ASSOCIATIONS = ['lead_id', 'deal_id', 'person_id', 'org_id', 'project_id', 'task_id'] as const;
const RECORD_OF: Partial<Record<(typeof ASSOCIATIONS)[number], 'deal' | 'person' | 'organization'>> = { deal_id: 'deal', person_id: 'person', org_id: 'organization' };
const isPositiveInt = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const time = () => new Date().toISOString().slice(0, 19).replace('T', ' ');

/**
 * v1 Notes (https://developers.pipedrive.com/docs/api/v1/Notes): POST needs `content` and at
 * least one association id; PUT takes the same fields, all optional; both refuse content over
 * the size cap; GET lists by association with start/limit pagination, newest first on request.
 */
export function noteRoutes(st: FakeState, events: FakeEmitter, hooks: { afterWrite: ((op: 'add' | 'update', note: FakeNote) => Promise<void>) | null }) {
  const present = (n: FakeNote) => ({ ...n, active_flag: true });

  function validateContent(content: unknown, required: boolean): Res | null {
    if (content === undefined && !required) return null;
    if (typeof content !== 'string' || content.trim() === '') return { status: 400, body: apiError('Content is required', 'INVALID_INPUT') };
    if (content.length > NOTE_MAX || Buffer.byteLength(content) > NOTE_MAX) return { status: 400, body: apiError('Note content is too large', 'INVALID_INPUT') };
    return null;
  }

  function validateAssociations(body: Record<string, unknown>, user: FakeUser, required: boolean): Res | null {
    const given = ASSOCIATIONS.filter((k) => body[k] !== undefined && body[k] !== null);
    if (required && !given.length) return { status: 400, body: apiError('At least one of lead_id, deal_id, person_id, org_id, project_id or task_id is required', 'INVALID_INPUT') };
    for (const k of given) {
      if (k === 'lead_id' ? typeof body[k] !== 'string' : !isPositiveInt(body[k])) return { status: 400, body: apiError(`${k} is not valid`, 'INVALID_INPUT') };
      const type = RECORD_OF[k];
      const r = type && st.records.get(`${type}:${String(body[k])}`);
      if (type && (!r || r.company_id !== user.company_id)) return { status: 404, body: apiError(`${type} not found`, 'NOT_FOUND') };
    }
    return null;
  }

  return {
    async add(req: Req, user: FakeUser): Promise<Res> {
      const body = json(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, body: apiError('Expected a JSON body', 'INVALID_INPUT') };
      const b = body as Record<string, unknown>;
      const bad = validateContent(b.content, true) ?? validateAssociations(b, user, true);
      if (bad) return bad;
      const note: FakeNote = {
        id: st.nextNoteId++,
        content: b.content as string,
        user_id: user.id,
        company_id: user.company_id,
        deal_id: (b.deal_id as number) ?? null,
        person_id: (b.person_id as number) ?? null,
        org_id: (b.org_id as number) ?? null,
        lead_id: (b.lead_id as string) ?? null,
        add_time: time(),
        update_time: time(),
        versions: 1,
      };
      st.notes.set(note.id, note);
      events.emit('note', note, 'add');
      await hooks.afterWrite?.('add', note);
      return { status: 201, body: { success: true, data: present(note) } };
    },

    async update(id: number, req: Req, user: FakeUser): Promise<Res> {
      const note = st.notes.get(id);
      if (!note || note.company_id !== user.company_id) return { status: 404, body: apiError('Note not found', 'NOT_FOUND') };
      const body = json(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) return { status: 400, body: apiError('Expected a JSON body', 'INVALID_INPUT') };
      const b = body as Record<string, unknown>;
      const bad = validateContent(b.content, false) ?? validateAssociations(b, user, false);
      if (bad) return bad;
      if (b.content !== undefined) note.content = b.content as string;
      for (const k of ['deal_id', 'person_id', 'org_id', 'lead_id'] as const) if (b[k] !== undefined) (note as unknown as Record<string, unknown>)[k] = b[k];
      note.update_time = time();
      note.versions++;
      events.emit('note', note, 'update');
      await hooks.afterWrite?.('update', note);
      return { status: 200, body: { success: true, data: present(note) } };
    },

    get(id: number, user: FakeUser): Res {
      const note = st.notes.get(id);
      if (!note || note.company_id !== user.company_id) return { status: 404, body: apiError('Note not found', 'NOT_FOUND') };
      return { status: 200, body: { success: true, data: present(note) } };
    },

    list(req: Req, user: FakeUser): Res {
      const q = req.query;
      const start = Number(q.get('start') ?? 0);
      const limit = Math.min(Number(q.get('limit') ?? 100), 500);
      if (!Number.isInteger(start) || start < 0 || !Number.isInteger(limit) || limit < 1) return { status: 400, body: apiError('Invalid pagination', 'INVALID_INPUT') };
      let notes = [...st.notes.values()].filter((n) => n.company_id === user.company_id);
      for (const k of ['deal_id', 'person_id', 'org_id'] as const) {
        const v = q.get(k);
        if (v !== null) notes = notes.filter((n) => String(n[k]) === v);
      }
      const lead = q.get('lead_id');
      if (lead !== null) notes = notes.filter((n) => n.lead_id === lead);
      if (/desc/i.test(q.get('sort') ?? '')) notes.reverse();
      const page = notes.slice(start, start + limit);
      const more = start + limit < notes.length;
      return {
        status: 200,
        body: {
          success: true,
          data: page.length ? page.map(present) : null,
          additional_data: { pagination: { start, limit, more_items_in_collection: more, ...(more ? { next_start: start + limit } : {}) } },
        },
      };
    },
  };
}
