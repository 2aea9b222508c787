/**
 * The demo's voice: numbered steps, indented details, a tick or a cross. Colour only on a
 * terminal (and never with NO_COLOR), so piped output and the test read plain text.
 */
const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (colour ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint('1');
export const dim = paint('2');
const green = paint('32');
const red = paint('31');
const cyan = paint('36');
const yellow = paint('33');

export class Printer {
  private n = 0;
  failures = 0;

  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {}

  title(text: string): void {
    this.write(`\n${bold(text)}\n${'═'.repeat(text.length)}`);
  }

  /** A numbered step; what happens inside it is told with `say`, `ok` and `fail`. */
  step(text: string): void {
    this.write(`\n${cyan(`${++this.n}.`)} ${bold(text)}`);
  }

  say(text: string): void {
    this.write(`   ${dim('·')} ${text}`);
  }

  ok(text: string): void {
    this.write(`   ${green('✔')} ${text}`);
  }

  fail(text: string): void {
    this.failures++;
    this.write(`   ${red('✖')} ${text}`);
  }

  /** Worth knowing, but not a failed step. */
  warn(text: string): void {
    this.write(`   ${yellow('⚠')} ${text}`);
  }

  line(text = ''): void {
    this.write(text);
  }
}
