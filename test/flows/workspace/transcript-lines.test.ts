import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, renderHeader, renderLine } from '../../../app/flows/workspace/transcript-notes.ts';
import type { Message, Participant } from '../../../app/ground/records.ts';

// The note's HTML, line by line, without Pipedrive (transcripts.test.ts writes whole notes end to end).

const at = Date.UTC(2026, 4, 7, 9, 5, 42);
const msg = (over: Partial<Message>): Message => ({ id: 'm_1', senderId: 'pd-1', origin: 'pipedrive', text: 'Hi', createdAt: at, attachments: [], ...over }) as Message;
const people = [
  { id: 'pd-1', name: 'Pat <Sales>' },
  { id: 'agent-1', name: 'Agent "One"' },
] as Participant[];
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

test('escapeHtml: the five characters that matter in text and attributes', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&amp;</a>`), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  assert.equal(escapeHtml('plain ✓'), 'plain ✓');
});

test('renderLine: minute-precise UTC time, the sender by name, escaped text, newlines as <br>', () => {
  assert.equal(renderLine(msg({ text: 'a < b\nc & d' }), people, 'https://x/c'), '<p>2026-05-07 09:05 UTC · <b>Pat &lt;Sales&gt;</b>: a &lt; b<br>c &amp; d</p>');
  assert.match(renderLine(msg({ senderId: 'agent-1' }), people, ''), /<b>Agent &quot;One&quot;<\/b>: Hi<\/p>$/);
  assert.match(renderLine(msg({ senderId: 'sys', origin: 'system' }), people, ''), /<b>System<\/b>/);
  assert.match(renderLine(msg({ senderId: 'who-1', origin: 'platform' }), people, ''), /<b>who-1<\/b>/, 'an unknown sender shows by id');
});

test('renderLine: attachments are links to the conversation, never to the file', () => {
  const line = renderLine(
    msg({
      attachments: [
        { id: 'a1', name: 'quote<1>.pdf' },
        { id: 'a2', name: 'b.png' },
      ] as Message['attachments'],
    }),
    people,
    'https://x/c?a=1&b=2',
  );
  assert.ok(line.endsWith('<br>Attachment: <a href="https://x/c?a=1&amp;b=2">quote&lt;1&gt;.pdf</a><br>Attachment: <a href="https://x/c?a=1&amp;b=2">b.png</a></p>'), line);
});

test('renderLine: a huge message is cut to stay within a line budget, on a character boundary, and says so', () => {
  const quotes = renderLine(msg({ text: '"'.repeat(64 * 1024) }), people, '');
  assert.ok(bytes(quotes) <= 20_000, `${bytes(quotes)} bytes`);
  assert.match(quotes, /(&quot;)+… \(shortened; the whole message is in the conversation\)<\/p>$/);
  const emoji = renderLine(msg({ text: '😀'.repeat(10_000) }), people, '');
  assert.ok(bytes(emoji) <= 20_000);
  assert.ok(!emoji.includes('\uFFFD') && /^(😀)+…/u.test(emoji.split(': ')[1]!), 'never half a character');
  const short = 'x'.repeat(5000);
  assert.ok(renderLine(msg({ text: short }), people, '').includes(`${short}</p>`), 'a message under the budget is whole');
});

test('renderHeader: channel and record escaped, with the part and the note token that finds the note again', () => {
  assert.equal(renderHeader({ token: 'tr-abc', part: 2 }, 'Sales & Co', { title: 'Deal <big>' }), '<p><b>Conversation on Sales &amp; Co about Deal &lt;big&gt;</b> (part 2, ref tr-abc)</p>');
});
